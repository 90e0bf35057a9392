//! Runtimes by name, as built into this copy of mod_wasm. The first one registered is the
//! default, used where no `WasmRuntime` applies.

use crate::{Preinitializer, Runtime};
use std::fmt;
use std::sync::Arc;

/// The runtimes available to `WasmRuntime`, in registration order, and the names of runtimes
/// this build knows of but was compiled without.
#[derive(Default)]
pub struct Registry {
    runtimes: Vec<Box<dyn Runtime>>,
    /// (runtime name, the cargo feature that builds it in)
    left_out: Vec<(&'static str, &'static str)>,
    /// What snapshots modules for `WasmPreinit`, if this build has it.
    preinitializer: Option<Arc<dyn Preinitializer>>,
}

/// A `WasmRuntime` name that names no built-in runtime.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct UnknownRuntime {
    pub requested: String,
    /// The cargo feature that builds the runtime in, when the name is a runtime this build was
    /// compiled without (as opposed to a typo).
    pub left_out: Option<&'static str>,
    pub built_in: Vec<&'static str>,
}

impl fmt::Display for UnknownRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(feature) = self.left_out {
            write!(
                f,
                "runtime '{}' is not built into this mod_wasm (build it with the cargo feature '{feature}'); ",
                self.requested
            )?;
        } else {
            write!(f, "unknown runtime '{}'; ", self.requested)?;
        }
        if self.built_in.is_empty() {
            f.write_str("this mod_wasm was built without any runtime")
        } else {
            write!(
                f,
                "this mod_wasm was built with: {}",
                self.built_in.join(", ")
            )
        }
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a runtime. A second runtime with the same name is a programming error.
    pub fn register(&mut self, runtime: impl Runtime) -> &mut Self {
        assert!(
            self.find(runtime.name()).is_none(),
            "runtime {} registered twice",
            runtime.name()
        );
        self.runtimes.push(Box::new(runtime));
        self
    }

    /// Records that this build knows the runtime `name` but was compiled without it (the cargo
    /// `feature` builds it in), so asking for it says how to get it rather than "unknown".
    pub fn leave_out(&mut self, name: &'static str, feature: &'static str) -> &mut Self {
        self.left_out.push((name, feature));
        self
    }

    /// Pre-initialises modules (`WasmPreinit`) with `preinitializer`, whose snapshots every
    /// runtime runs.
    pub fn preinitialize_with(&mut self, preinitializer: impl Preinitializer) -> &mut Self {
        self.preinitializer = Some(Arc::new(preinitializer));
        self
    }

    /// What pre-initialises modules in this build, if anything does.
    pub fn preinitializer(&self) -> Option<Arc<dyn Preinitializer>> {
        self.preinitializer.clone()
    }

    fn find(&self, name: &str) -> Option<&dyn Runtime> {
        self.runtimes
            .iter()
            .map(|r| r.as_ref())
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }

    /// The runtime called `name` (case-insensitive, like Apache's own keywords).
    pub fn get(&self, name: &str) -> Result<&dyn Runtime, UnknownRuntime> {
        self.find(name).ok_or_else(|| UnknownRuntime {
            requested: name.to_owned(),
            left_out: self
                .left_out
                .iter()
                .find(|(left_out, _)| left_out.eq_ignore_ascii_case(name))
                .map(|(_, feature)| *feature),
            built_in: self.names(),
        })
    }

    /// The runtime used where no `WasmRuntime` applies: the first one registered.
    pub fn default_runtime(&self) -> Option<&dyn Runtime> {
        self.runtimes.first().map(|r| r.as_ref())
    }

    /// The runtimes this build knows of but was compiled without, each with the cargo feature
    /// that builds it in.
    pub fn left_out(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.left_out.iter().copied()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.runtimes.iter().map(|r| r.name()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Runtime> {
        self.runtimes.iter().map(|r| r.as_ref())
    }

    /// Ends the runs in progress in this process under every runtime, and every run started
    /// after: the server is stopping without waiting for its requests.
    pub fn stop_runs(&self) {
        crate::stopping::request();
        for runtime in self.iter() {
            runtime.stop_runs();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Capabilities, CompileError, ExecutionConfig, ExitCode, LoadError, LoadedModule,
        Precompiled, RunReport, Stdio,
    };
    use std::sync::Arc;

    struct Fake(&'static str);

    impl Runtime for Fake {
        fn name(&self) -> &'static str {
            self.0
        }
        fn version(&self) -> String {
            format!("{} 1.0", self.0)
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::none()
        }
        fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
            Ok(Precompiled::new(self.0, wasm))
        }
        fn load(&self, _: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
            struct Nothing;
            impl LoadedModule for Nothing {
                fn run(&self, _: &ExecutionConfig, _: Stdio) -> RunReport {
                    Ok(ExitCode::SUCCESS).into()
                }
            }
            Ok(Arc::new(Nothing))
        }
    }

    #[test]
    fn finds_runtimes_case_insensitively() {
        let mut registry = Registry::new();
        registry.register(Fake("alpha"));
        assert_eq!(registry.get("ALPHA").unwrap().name(), "alpha");
    }

    #[test]
    fn unknown_names_list_what_is_built_in() {
        let mut registry = Registry::new();
        registry.register(Fake("alpha")).register(Fake("beta"));
        let err = registry.get("nonesuch").err().unwrap();
        assert_eq!(err.built_in, vec!["alpha", "beta"]);
        assert_eq!(
            err.to_string(),
            "unknown runtime 'nonesuch'; this mod_wasm was built with: alpha, beta"
        );
    }

    #[test]
    fn runtimes_left_out_of_the_build_say_how_to_get_them() {
        let mut registry = Registry::new();
        registry
            .register(Fake("alpha"))
            .leave_out("beta", "beta")
            .leave_out("gamma-interpreter", "gamma");
        let err = registry.get("beta").err().unwrap();
        assert_eq!(err.left_out, Some("beta"));
        assert_eq!(
            err.to_string(),
            "runtime 'beta' is not built into this mod_wasm (build it with the cargo feature \
             'beta'); this mod_wasm was built with: alpha"
        );
        let err = registry.get("gamma-interpreter").err().unwrap();
        assert!(err
            .to_string()
            .contains("build it with the cargo feature 'gamma'"));
    }

    #[test]
    fn an_empty_registry_says_so() {
        let err = Registry::new().get("alpha").err().unwrap();
        assert!(err.to_string().contains("built without any runtime"));
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_registration_is_refused() {
        let mut registry = Registry::new();
        registry.register(Fake("a")).register(Fake("a"));
    }

    #[test]
    fn the_first_runtime_registered_is_the_default() {
        assert!(Registry::new().default_runtime().is_none());
        let mut registry = Registry::new();
        registry
            .leave_out("absent", "absent")
            .register(Fake("first"))
            .register(Fake("second"));
        assert_eq!(registry.default_runtime().unwrap().name(), "first");
        assert_eq!(
            registry.left_out().collect::<Vec<_>>(),
            [("absent", "absent")]
        );
    }
}
