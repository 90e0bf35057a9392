//! Whether an instance of a WASI 0.3 HTTP handler serves more than one request: `WasmReuse`.
//!
//! `Off`, the default, keeps mod_wasm's promise of a fresh sandbox for every request. `On`
//! lets an instance serve up to [`DEFAULT_REQUESTS`] requests, one after another, and
//! `WasmReuse N` up to N; state the handler keeps (its memory, its globals, files it opened)
//! then carries from one request to the next. Only WASI 0.3 handlers are reused: another kind
//! of module with `WasmReuse` on is a configuration error. Merge: the inner section's value if
//! it sets one, else the outer one's.

use super::Setting;
use crate::config_error::{DirectiveError, ResolveError};
use crate::directive::{Applied, Applies, Args, Directive, Site};
use crate::origin::Declared;
use runtime_api::{ExecutionConfig, ProgramKind, Reuse};
use std::num::NonZeroU32;

/// How many requests one instance serves under `WasmReuse On`.
pub const DEFAULT_REQUESTS: NonZeroU32 = NonZeroU32::new(1000).unwrap();

/// What `WasmReuse` says for a section; unset when no section says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceReuse(pub Option<Declared<Reuse>>);

pub const WASM_REUSE: Directive = Directive {
    name: c"WasmReuse",
    help: c"Off (default), On (up to 1000 requests) or a number: how many requests one instance of a WASI 0.3 HTTP handler serves, one after another",
    applies: Applies::ToSection(Args::One(|config, site, word| {
        config.reuse.set(word, site)
    })),
};

impl InstanceReuse {
    fn set(&mut self, word: &str, site: &dyn Site) -> Applied {
        let reuse = if word.eq_ignore_ascii_case("off") {
            Reuse::Off
        } else if word.eq_ignore_ascii_case("on") {
            Reuse::UpTo(DEFAULT_REQUESTS)
        } else {
            match word.parse::<NonZeroU32>() {
                Ok(requests) => Reuse::UpTo(requests),
                Err(_) => {
                    return Err(DirectiveError::invalid(
                        word,
                        "On, Off or a number of requests of at least 1",
                    ))
                }
            }
        };
        self.0 = Some(Declared {
            value: reuse,
            origin: site.origin(),
        });
        Ok(())
    }

    /// Reuse applies to WASI 0.3 HTTP handlers only; asked of another `kind`, it is an error
    /// that says where it was asked.
    pub fn check_for(&self, kind: ProgramKind) -> Result<(), ResolveError> {
        match &self.0 {
            Some(Declared {
                value: Reuse::UpTo(_),
                origin,
            }) if kind != ProgramKind::HttpService => Err(ResolveError::ReuseNotService {
                origin: origin.clone(),
                kind,
            }),
            _ => Ok(()),
        }
    }
}

impl Setting for InstanceReuse {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self(inner.0.clone().or_else(|| outer.0.clone()))
    }

    fn grant(&self, run: &mut ExecutionConfig) {
        run.reuse = self.0.as_ref().map_or(Reuse::Off, |reuse| reuse.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::fake_registry;
    use crate::SectionConfig;

    fn reuse(config: &SectionConfig) -> Reuse {
        config.execution_config().reuse
    }

    #[test]
    fn off_unless_a_section_says_and_the_inner_section_wins() {
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        assert_eq!(reuse(&outer), Reuse::Off);
        apply(&mut outer, &site, "WasmReuse", &["On"]).unwrap();
        assert_eq!(reuse(&outer), Reuse::UpTo(DEFAULT_REQUESTS));
        let inherited = SectionConfig::merge(&outer, &SectionConfig::default());
        assert_eq!(reuse(&inherited), Reuse::UpTo(DEFAULT_REQUESTS));
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmReuse", &["3"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(reuse(&merged), Reuse::UpTo(NonZeroU32::new(3).unwrap()));
        apply(&mut inner, &site, "WasmReuse", &["off"]).unwrap();
        assert_eq!(reuse(&SectionConfig::merge(&outer, &inner)), Reuse::Off);
    }

    #[test]
    fn a_count_must_be_a_positive_number() {
        let site = TestSite::new(fake_registry(&[]));
        let mut config = SectionConfig::default();
        for word in ["0", "-1", "many", ""] {
            let error = apply(&mut config, &site, "WasmReuse", &[word]).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("On, Off or a number of requests"),
                "{word}: {error}"
            );
        }
    }

    #[test]
    fn only_wasi_03_handlers_are_reused() {
        let site = TestSite::new(fake_registry(&[]));
        let mut config = SectionConfig::default();
        apply(&mut config, &site, "WasmReuse", &["On"]).unwrap();
        assert!(config.reuse.check_for(ProgramKind::HttpService).is_ok());
        for kind in [
            ProgramKind::CoreModule,
            ProgramKind::Command,
            ProgramKind::HttpHandler,
        ] {
            let error = config.reuse.check_for(kind).unwrap_err().to_string();
            assert!(
                error.contains("only WASI 0.3 HTTP handlers are reused"),
                "{error}"
            );
        }
        apply(&mut config, &site, "WasmReuse", &["Off"]).unwrap();
        assert!(config.reuse.check_for(ProgramKind::CoreModule).is_ok());
    }
}
