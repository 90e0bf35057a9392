//! How far one run may go: `WasmTimeout` and `WasmMemoryLimit`.
//!
//! Every run is limited, whether or not a section says so: without `WasmTimeout` a run may take
//! as long as Apache's own `Timeout` for the server (mod_cgi's `CGIScriptTimeout` defaults the
//! same way), and without `WasmMemoryLimit` its linear memory may grow to 256 MiB. Merge: the
//! inner section's value if it sets one, else the outer one's. Every runtime enforces both.

use super::Setting;
use crate::config_error::DirectiveError;
use crate::directive::{Applies, Args, Directive};
use runtime_api::{Limits, MemorySize};
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunLimits {
    pub timeout: Option<Duration>,
    pub memory: Option<MemorySize>,
}

pub const WASM_TIMEOUT: Directive = Directive {
    name: c"WasmTimeout",
    help: c"Longest a run may take, in seconds (or with ms or s): the guest is stopped and the client gets 504 (default: the server's Timeout)",
    applies: Applies::ToSection(Args::One(|config, _, word| {
        config.limits.timeout = Some(parse_duration(word)?);
        Ok(())
    })),
};

pub const WASM_MEMORY_LIMIT: Directive = Directive {
    name: c"WasmMemoryLimit",
    help:
        c"Largest size a run's linear memory may grow to: bytes, or with K, M or G (default: 256M)",
    applies: Applies::ToSection(Args::One(|config, _, word| {
        config.limits.memory = Some(parse_size(word)?);
        Ok(())
    })),
};

impl RunLimits {
    /// The limits of a run in a server whose `Timeout` is `server_timeout`.
    pub fn resolve(&self, server_timeout: Duration) -> Limits {
        Limits {
            timeout: self.timeout.unwrap_or(server_timeout),
            memory: self.memory.unwrap_or(Limits::DEFAULT.memory),
        }
    }
}

impl Setting for RunLimits {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self {
            timeout: inner.timeout.or(outer.timeout),
            memory: inner.memory.or(outer.memory),
        }
    }
}

/// `30`, `30s` or `250ms`: a positive time, as Apache's own time arguments are written.
fn parse_duration(word: &str) -> Result<Duration, DirectiveError> {
    let invalid = || {
        DirectiveError::invalid(
            word,
            "a time limit: give seconds (30, 30s) or milliseconds (250ms), more than zero",
        )
    };
    let lower = word.to_ascii_lowercase();
    let (number, unit) = match lower.strip_suffix("ms") {
        Some(number) => (number, Duration::from_millis(1)),
        None => (
            lower.strip_suffix('s').unwrap_or(&lower),
            Duration::from_secs(1),
        ),
    };
    let count: u32 = number.trim().parse().map_err(|_| invalid())?;
    match unit * count {
        Duration::ZERO => Err(invalid()),
        duration => Ok(duration),
    }
}

/// `268435456`, `256M`, `256MiB`, `1G`, `512K`: a size in bytes, or in binary units.
fn parse_size(word: &str) -> Result<MemorySize, DirectiveError> {
    match parse_bytes(word) {
        Some(bytes) if (MemorySize::PAGE..=MemorySize::MAX.bytes()).contains(&bytes) => {
            Ok(MemorySize::from_bytes(bytes))
        }
        _ => Err(DirectiveError::invalid(
            word,
            "a memory size: give bytes, or a number with K, M or G (256M), of at least one \
             64 KiB page and at most 4G",
        )),
    }
}

/// A number of bytes, bare or with a binary unit (`512K`, `256M`, `256MiB`, `1G`, `2g`);
/// `None` when `word` is not one or it does not fit in 64 bits.
pub(crate) fn parse_bytes(word: &str) -> Option<u64> {
    let lower = word.to_ascii_lowercase();
    let without_ib = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, shift) = match without_ib.char_indices().last() {
        Some((at, 'k')) => (&without_ib[..at], 10),
        Some((at, 'm')) => (&without_ib[..at], 20),
        Some((at, 'g')) => (&without_ib[..at], 30),
        _ => (without_ib, 0),
    };
    let count: u64 = number.trim().parse().ok()?;
    count.checked_shl(shift).filter(|b| b >> shift == count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::fake_registry;
    use crate::SectionConfig;

    #[test]
    fn time_limits_are_seconds_or_milliseconds() {
        assert_eq!(parse_duration("30").unwrap(), (Duration::from_secs(30)));
        assert_eq!(parse_duration("30s").unwrap(), (Duration::from_secs(30)));
        assert_eq!(
            parse_duration("250ms").unwrap(),
            (Duration::from_millis(250))
        );
        assert_eq!(parse_duration("2S").unwrap(), (Duration::from_secs(2)));
        for wrong in ["0", "0ms", "-1", "1.5", "soon", "", "ms"] {
            let error = parse_duration(wrong).unwrap_err();
            assert!(
                matches!(&error, DirectiveError::Invalid { value, expected }
                    if value == wrong && expected.starts_with("a time limit")),
                "{wrong}: {error}"
            );
        }
    }

    #[test]
    fn memory_sizes_are_bytes_or_binary_units() {
        let mib = |n| MemorySize::from_mib(n);
        assert_eq!(parse_size("256M").unwrap(), (mib(256)));
        assert_eq!(parse_size("256MiB").unwrap(), (mib(256)));
        assert_eq!(parse_size("256mb").unwrap(), (mib(256)));
        assert_eq!(parse_size("1G").unwrap(), (mib(1024)));
        assert_eq!(parse_size("4G").unwrap(), (MemorySize::MAX));
        assert_eq!(
            parse_size("512K").unwrap(),
            (MemorySize::from_bytes(512 * 1024))
        );
        assert_eq!(
            parse_size("65536").unwrap(),
            (MemorySize::from_bytes(65536))
        );
        for wrong in [
            "0",
            "100",
            "5G",
            "big",
            "",
            "M",
            "-1M",
            "99999999999999999999G",
        ] {
            let error = parse_size(wrong).unwrap_err();
            assert!(
                matches!(&error, DirectiveError::Invalid { value, expected }
                    if value == wrong && expected.starts_with("a memory size")),
                "{wrong}: {error}"
            );
        }
    }

    #[test]
    fn unset_limits_are_the_servers_timeout_and_256_mib() {
        let server_timeout = Duration::from_secs(300);
        let limits = RunLimits::default().resolve(server_timeout);
        assert_eq!(limits.timeout, server_timeout);
        assert_eq!(limits.memory, MemorySize::from_mib(256));
    }

    #[test]
    fn an_inner_section_overrides_each_limit_it_sets() {
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmTimeout", &["10"]).unwrap();
        apply(&mut outer, &site, "WasmMemoryLimit", &["64M"]).unwrap();
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmTimeout", &["500ms"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        let limits = merged.limits.resolve(Duration::from_secs(60));
        assert_eq!(limits.timeout, Duration::from_millis(500));
        assert_eq!(limits.memory, MemorySize::from_mib(64));
        assert!(apply(&mut inner, &site, "WasmTimeout", &["never"]).is_err());
    }
}
