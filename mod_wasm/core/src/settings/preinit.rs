//! Whether a section's module starts every run from a snapshot of its initialised state:
//! `WasmPreinit`.
//!
//! `WasmPreinit On` runs the module's init export as Wizer names it (`wizer-initialize`, or
//! `wizer.initialize`), `WasmPreinit NAME` the function `NAME`, once, when the configuration
//! is read, with the section's arguments, environment and directories, read-only; every run
//! then starts in the state it left (see [`runtime_api::preinit`]). `Off`, the default, runs
//! the module as it is. Merge: the inner section's value if it sets one, else the outer one's.

use super::Setting;
use crate::config_error::{DirectiveError, ResolveError};
use crate::directive::{Applied, Applies, Args, Directive, Site};
use crate::origin::Declared;
use runtime_api::{ExecutionConfig, InitConfig, InitExport, ProgramKind, Registry};

/// What `WasmPreinit` says for a section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preinit {
    /// The init to run, or `None` for `Off`; unset when no section says.
    pub init: Option<Declared<Option<InitExport>>>,
}

pub const WASM_PREINIT: Directive = Directive {
    name: c"WasmPreinit",
    help: c"On, Off (default) or the name of the module's init function: run it once when the configuration is read and start every run from the state it leaves",
    applies: Applies::ToSection(Args::One(|config, site, word| {
        config.preinit.set(word, site)
    })),
};

impl Preinit {
    fn set(&mut self, word: &str, site: &dyn Site) -> Applied {
        let init = if word.eq_ignore_ascii_case("on") {
            Some(InitExport::Conventional)
        } else if word.eq_ignore_ascii_case("off") {
            None
        } else if word.is_empty() || word.contains(char::is_whitespace) {
            return Err(DirectiveError::invalid(
                word,
                "On, Off or the name of an exported function",
            ));
        } else {
            Some(InitExport::Named(word.to_owned()))
        };
        self.init = Some(Declared {
            value: init,
            origin: site.origin(),
        });
        Ok(())
    }

    /// The init of a module of `kind` whose runs get what `runs` makes, if one is asked for:
    /// it needs a core module, and a build that can pre-initialise.
    pub fn init_config(
        &self,
        kind: ProgramKind,
        registry: &Registry,
        runs: impl FnOnce() -> ExecutionConfig,
    ) -> Result<Option<InitConfig>, ResolveError> {
        let Some(Declared {
            value: Some(export),
            origin,
        }) = &self.init
        else {
            return Ok(None);
        };
        if registry.preinitializer().is_none() {
            return Err(ResolveError::NoPreinitializer {
                origin: origin.clone(),
            });
        }
        if kind.is_component() {
            return Err(ResolveError::PreinitComponent {
                origin: origin.clone(),
                kind,
            });
        }
        Ok(Some(InitConfig::for_runs(export.clone(), &runs())))
    }
}

impl Setting for Preinit {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self {
            init: inner.init.clone().or_else(|| outer.init.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config_error::ResolveError;
    use crate::directive::testing::{apply, apply_module, TestSite};
    use crate::directive::Site;
    use crate::section::SectionConfig;
    use crate::testing::{fake_registry, write_file, EMPTY_MODULE};
    use runtime_api::{InitConfig, InitExport, PreinitError, Preinitializer};

    struct Snapshots;

    impl Preinitializer for Snapshots {
        fn version(&self) -> String {
            "snapshots 1".into()
        }
        fn preinitialize(
            &self,
            wasm: &[u8],
            _: &InitConfig,
            _: Option<runtime_api::RunAs>,
        ) -> Result<Vec<u8>, PreinitError> {
            Ok(wasm.to_vec())
        }
    }

    fn config(site: &TestSite, values: &[&str]) -> SectionConfig {
        let dir = tempfile::tempdir().unwrap();
        let module = write_file(dir.path(), "app.wasm", EMPTY_MODULE);
        let mut config = SectionConfig::default();
        apply_module(&mut config, site, &module);
        apply(&mut config, site, "WasmEnv", &["MODE", "site"]).unwrap();
        for value in values {
            apply(&mut config, site, "WasmPreinit", &[value]).unwrap();
        }
        config
    }

    fn export(site: &TestSite, config: &SectionConfig) -> Option<InitExport> {
        let resolved = config.resolve(site.registry()).unwrap();
        resolved.init.map(|init| init.export)
    }

    #[test]
    fn on_off_or_a_name_and_the_inner_section_decides() {
        let mut registry = fake_registry(&["alpha"]);
        registry.preinitialize_with(Snapshots);
        let site = TestSite::new(registry);
        let on = config(&site, &["ON"]);
        assert_eq!(export(&site, &on), Some(InitExport::Conventional));
        let init = on.resolve(site.registry()).unwrap().init.unwrap();
        assert_eq!(init.env, [("MODE".to_owned(), "site".to_owned())]);
        let named = config(&site, &["setup"]);
        assert_eq!(
            export(&site, &named),
            Some(InitExport::Named("setup".into()))
        );
        let off = config(&site, &["off"]);
        assert_eq!(export(&site, &off), None);
        assert_eq!(export(&site, &config(&site, &[])), None, "off by default");
        let inner_off = SectionConfig::merge(&on, &off);
        assert_eq!(export(&site, &inner_off), None);
        let unset = SectionConfig::default();
        assert_eq!(
            export(&site, &SectionConfig::merge(&named, &unset)),
            Some(InitExport::Named("setup".into()))
        );
    }

    #[test]
    fn a_build_that_cannot_preinitialise_refuses_it_where_it_is_written() {
        let site = TestSite::new(fake_registry(&["alpha"]));
        let config = config(&site, &["on"]);
        let err = config.resolve(site.registry()).err().unwrap();
        assert!(
            matches!(err, ResolveError::NoPreinitializer { .. }),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(
                "this mod_wasm was built without the runtime wasmtime (cargo feature 'wasmtime')"
            ),
            "{err}"
        );
    }
}
