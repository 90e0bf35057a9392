//! The configuration of one section, made of the [settings](crate::settings), how nested
//! sections combine, and what a merged configuration runs.

use crate::config_error::ResolveError;
use crate::modules::ModuleKey;
use crate::origin::Declared;
use crate::settings::cgi::CgiSettings;
use crate::settings::connect::Connections;
use crate::settings::dirs::Directories;
use crate::settings::limits::RunLimits;
use crate::settings::output::OutputSettings;
use crate::settings::preinit::Preinit;
use crate::settings::program::Program;
use crate::settings::reuse::InstanceReuse;
use crate::settings::timing::ServerTiming;
use crate::settings::Setting;
use runtime_api::{ExecutionConfig, InitConfig, Registry, Runtime};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What mod_wasm's directives set in one configuration section, or in several merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionConfig {
    pub program: Program,
    pub dirs: Directories,
    pub connect: Connections,
    pub cgi: CgiSettings,
    pub timing: ServerTiming,
    pub limits: RunLimits,
    pub output: OutputSettings,
    pub preinit: Preinit,
    pub reuse: InstanceReuse,
}

/// The time limit of a module's init when its section sets none: Apache's default `Timeout`.
/// The init runs while the configuration is read, before any server's `Timeout` applies.
const INIT_DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl SectionConfig {
    /// `inner` nested in (or applied after) `outer`: each setting by its own rule.
    pub fn merge(outer: &Self, inner: &Self) -> Self {
        Self {
            program: Setting::merge(&outer.program, &inner.program),
            dirs: Setting::merge(&outer.dirs, &inner.dirs),
            connect: Setting::merge(&outer.connect, &inner.connect),
            cgi: Setting::merge(&outer.cgi, &inner.cgi),
            timing: Setting::merge(&outer.timing, &inner.timing),
            limits: Setting::merge(&outer.limits, &inner.limits),
            output: Setting::merge(&outer.output, &inner.output),
            preinit: Setting::merge(&outer.preinit, &inner.preinit),
            reuse: Setting::merge(&outer.reuse, &inner.reuse),
        }
    }

    /// The sandbox this configuration grants a run, before any per-request variables.
    pub fn execution_config(&self) -> ExecutionConfig {
        let mut run = ExecutionConfig::default();
        self.program.grant(&mut run);
        self.dirs.grant(&mut run);
        self.connect.grant(&mut run);
        self.cgi.grant(&mut run);
        self.timing.grant(&mut run);
        self.reuse.grant(&mut run);
        // The limits depend on the server's Timeout too; the request sets them.
        run
    }

    /// The module this configuration runs and the runtime that runs it, once every setting is
    /// known to be one that runtime can honour. The configuration check resolves each section
    /// it can see; a request resolves its own merged configuration, which may combine sections
    /// the check could not foresee. The error says what is wrong, and where.
    pub fn resolve<'r>(&self, registry: &'r Registry) -> Result<Resolved<'_, 'r>, ResolveError> {
        let Some(module) = &self.program.module else {
            return Err(ResolveError::NoModule);
        };
        let Some(runtime) = self.program.runtime(registry) else {
            // There is a default unless no runtime is built in.
            return Err(ResolveError::NoRuntime {
                module: module.clone(),
            });
        };
        self.program.check(runtime, registry)?;
        self.dirs.check(runtime, registry)?;
        self.connect
            .check_for(self.program.kind(), runtime, registry)?;
        self.cgi.check(runtime, registry)?;
        self.timing.check(runtime, registry)?;
        self.limits.check(runtime, registry)?;
        self.reuse.check_for(self.program.kind())?;
        let init = self
            .preinit
            .init_config(self.program.kind(), registry, || {
                let mut runs = self.execution_config();
                runs.limits = self.limits.resolve(INIT_DEFAULT_TIMEOUT);
                runs
            })?;
        Ok(Resolved {
            module,
            runtime,
            init,
        })
    }
}

/// A configuration ready to run.
pub struct Resolved<'c, 'r> {
    pub module: &'c Declared<PathBuf>,
    pub runtime: &'r dyn Runtime,
    /// The init whose snapshot runs instead of the module, under `WasmPreinit`.
    pub init: Option<InitConfig>,
}

impl Resolved<'_, '_> {
    /// The module file (or its snapshot) under its runtime: what is compiled and loaded once.
    pub fn key(&self) -> ModuleKey {
        ModuleKey {
            runtime: self.runtime.name(),
            path: self.module.value.clone(),
            init: self.init.clone().map(crate::modules::Init),
        }
    }
}

/// What a log line about a run says first: where the module was configured, the module and
/// the runtime.
impl fmt::Display for Resolved<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.module.origin, self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, apply_module, TestSite};
    use crate::directive::Site;
    use crate::testing::{fake_registry, write_file, EMPTY_MODULE};

    #[test]
    fn merging_nothing_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let module = write_file(dir.path(), "m.wasm", EMPTY_MODULE);
        let site = TestSite::new(fake_registry(&["alpha"]));
        let mut config = SectionConfig::default();
        apply_module(&mut config, &site, &module);
        apply(&mut config, &site, "WasmArg", &["x"]).unwrap();
        apply(&mut config, &site, "WasmEnv", &["K", "V"]).unwrap();
        apply(
            &mut config,
            &site,
            "WasmDir",
            &[dir.path().to_str().unwrap()],
        )
        .unwrap();
        apply(&mut config, &site, "WasmAllowConnect", &["db:1"]).unwrap();
        apply(&mut config, &site, "WasmEnableCGI", &["on"]).unwrap();
        let empty = SectionConfig::default();
        assert_eq!(SectionConfig::merge(&config, &empty), config);
        assert_eq!(SectionConfig::merge(&empty, &config), config);
    }

    #[test]
    fn resolving_needs_a_module_and_a_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let module = write_file(dir.path(), "app.wasm", EMPTY_MODULE);
        let registry = fake_registry(&["alpha", "beta"]);
        let site = TestSite::new(registry);
        let mut config = SectionConfig::default();
        let err = config.resolve(site.registry()).err().unwrap();
        assert_eq!(err, ResolveError::NoModule);
        assert_eq!(
            err.to_string(),
            "wasm-handler is set here but no WasmModule applies"
        );

        apply_module(&mut config, &site, &module);
        let resolved = config.resolve(site.registry()).unwrap();
        assert_eq!(resolved.runtime.name(), "alpha", "the default");
        assert_eq!(
            resolved.to_string(),
            format!(
                "<Location /t> (test.conf:1): {} with runtime alpha",
                module.display()
            )
        );

        let none = fake_registry(&[]);
        let err = config.resolve(&none).err().unwrap();
        assert!(matches!(err, ResolveError::NoRuntime { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "WasmModule {} in <Location /t> (test.conf:1): no WasmRuntime applies, and this \
                 mod_wasm was built without any runtime",
                module.display()
            )
        );
    }
}
