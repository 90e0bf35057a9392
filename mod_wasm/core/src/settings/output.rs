//! How a guest's output reaches the client: `WasmBufferResponse` and `WasmOutputLimit`.
//!
//! A response is streamed unless a section says otherwise, as mod_cgi streams a script's: once
//! the CGI header block is complete, the body goes to the client as the guest writes it. Memory
//! per request then stays small whatever the size of the response, the first bytes of a long
//! one arrive early, and a guest can answer progressively (server-sent events, an export). The
//! price is mod_cgi's too: a guest that fails after its response started cannot take it back,
//! so the client gets a response that is cut off. `WasmBufferResponse On` holds the whole output
//! until the guest exits successfully instead, all or nothing, at the cost of memory for the
//! whole response.
//!
//! `WasmOutputLimit` bounds what a guest may write to stdout. Streamed output is not held, so by
//! default it is unbounded, as under mod_cgi; buffered output is held in memory, so by default
//! it is bounded by 64 MiB. Merge: the inner section's value of each directive it sets, else
//! the outer one's.

use super::limits::parse_bytes;
use super::Setting;
use crate::config_error::DirectiveError;
use crate::directive::{Applies, Args, Directive};
use runtime_api::Bytes;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputSettings {
    pub buffered: Option<bool>,
    pub limit: Option<OutputLimit>,
}

/// What `WasmOutputLimit` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputLimit {
    Unlimited,
    Bytes(u64),
}

/// How one run's output is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub mode: DeliveryMode,
    /// The most the guest may write to stdout, header block included.
    pub limit: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    /// The body goes to the client while the guest runs.
    Streamed,
    /// The output is held until the guest exits, and sent only if it succeeded.
    Buffered,
}

pub const WASM_BUFFER_RESPONSE: Directive = Directive {
    name: c"WasmBufferResponse",
    help: c"On: hold the guest's whole output and send it only if the guest succeeds (default Off: stream it)",
    applies: Applies::ToSection(Args::Flag(|config, _, on| {
        config.output.buffered = Some(on);
        Ok(())
    })),
};

pub const WASM_OUTPUT_LIMIT: Directive = Directive {
    name: c"WasmOutputLimit",
    help: c"Most a guest may write to stdout: bytes, or with K, M or G, or 'unlimited' (default: unlimited when streamed, 64M when buffered)",
    applies: Applies::ToSection(Args::One(|config, _, word| {
        config.output.limit = Some(OutputLimit::parse(word)?);
        Ok(())
    })),
};

impl OutputSettings {
    /// What a buffered response may hold when no `WasmOutputLimit` applies.
    pub const BUFFERED_DEFAULT_LIMIT: u64 = 64 << 20;

    pub fn delivery(&self) -> Delivery {
        let mode = match self.buffered {
            Some(true) => DeliveryMode::Buffered,
            Some(false) | None => DeliveryMode::Streamed,
        };
        let limit = match (self.limit, mode) {
            (Some(OutputLimit::Bytes(bytes)), _) => Some(bytes),
            (Some(OutputLimit::Unlimited), _) | (None, DeliveryMode::Streamed) => None,
            (None, DeliveryMode::Buffered) => Some(Self::BUFFERED_DEFAULT_LIMIT),
        };
        Delivery { mode, limit }
    }
}

impl OutputLimit {
    fn parse(word: &str) -> Result<Self, DirectiveError> {
        if word.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        match parse_bytes(word) {
            Some(bytes) if bytes > 0 => Ok(Self::Bytes(bytes)),
            _ => Err(DirectiveError::invalid(
                word,
                "an output limit: give bytes, or a number with K, M or G (64M), more than zero, \
                 or 'unlimited'",
            )),
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Some(limit) => write!(f, "WasmOutputLimit {}", Bytes(limit)),
            None => f.write_str("no WasmOutputLimit"),
        }
    }
}

impl Setting for OutputSettings {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self {
            buffered: inner.buffered.or(outer.buffered),
            limit: inner.limit.or(outer.limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::fake_registry;
    use crate::SectionConfig;

    #[test]
    fn streamed_output_is_unbounded_and_buffered_output_is_bounded_by_default() {
        let streamed = OutputSettings::default().delivery();
        assert_eq!(
            streamed,
            Delivery {
                mode: DeliveryMode::Streamed,
                limit: None
            }
        );
        let buffered = OutputSettings {
            buffered: Some(true),
            limit: None,
        };
        assert_eq!(buffered.delivery().limit, Some(64 << 20));
    }

    #[test]
    fn limits_are_sizes_or_unlimited() {
        assert_eq!(
            OutputLimit::parse("1M").unwrap(),
            (OutputLimit::Bytes(1 << 20))
        );
        assert_eq!(
            OutputLimit::parse("10G").unwrap(),
            (OutputLimit::Bytes(10 << 30))
        );
        assert_eq!(
            OutputLimit::parse("500").unwrap(),
            (OutputLimit::Bytes(500))
        );
        assert_eq!(
            OutputLimit::parse("Unlimited").unwrap(),
            (OutputLimit::Unlimited)
        );
        for wrong in ["0", "-1", "lots", "", "1T"] {
            let error = OutputLimit::parse(wrong).unwrap_err();
            assert!(
                matches!(&error, DirectiveError::Invalid { value, expected }
                    if value == wrong && expected.starts_with("an output limit")),
                "{wrong}: {error}"
            );
        }
    }

    #[test]
    fn an_inner_section_overrides_what_it_sets() {
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmBufferResponse", &["On"]).unwrap();
        apply(&mut outer, &site, "WasmOutputLimit", &["8M"]).unwrap();
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmOutputLimit", &["unlimited"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner).output.delivery();
        assert_eq!(
            merged,
            Delivery {
                mode: DeliveryMode::Buffered,
                limit: None
            }
        );
        let mut streamed = SectionConfig::default();
        apply(&mut streamed, &site, "WasmBufferResponse", &["Off"]).unwrap();
        let merged = SectionConfig::merge(&outer, &streamed).output.delivery();
        assert_eq!(
            merged,
            Delivery {
                mode: DeliveryMode::Streamed,
                limit: Some(8 << 20)
            }
        );
    }
}
