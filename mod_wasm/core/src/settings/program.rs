//! What runs and how it is invoked: `WasmModule`, `WasmRuntime`, `WasmArg`, `WasmEnv`,
//! `WasmEntryPoint`.
//!
//! Merge: the module, the runtime and the entry point are the inner section's if it sets
//! them, else the outer one's. Arguments are positional, so an inner section that sets any
//! replaces the whole list. Environment variables accumulate by name, an inner value replacing
//! an outer one.

use super::{set_by_key, Setting};
use crate::config_error::{DirectiveError, FileError, Unsupported};
use crate::directive::{Applied, Applies, Args, Directive, Site};
use crate::origin::Declared;
use crate::section::SectionConfig;
use runtime_api::{Capability, EntryPoint, ExecutionConfig, ProgramKind, Registry, Runtime};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What runs in a section, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    pub module: Option<Declared<PathBuf>>,
    /// What the module's file held when the directive was read; unknown when it was read
    /// again by a running server, which does not check files then.
    pub kind: Option<ProgramKind>,
    /// The runtime's canonical name, as registered.
    pub runtime: Option<Declared<&'static str>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub entry_point: Option<EntryPoint>,
}

pub const WASM_MODULE: Directive = Directive {
    name: c"WasmModule",
    help: c"Path of the WebAssembly module (a WASI command, or a WASI 0.2 component) that answers requests here",
    applies: Applies::ToSection(Args::One(|config, site, path| {
        let path = site.server_root_relative(path)?;
        config.program.set_module(path, site)
    })),
};

pub const WASM_RUNTIME: Directive = Directive {
    name: c"WasmRuntime",
    help: c"Runtime that runs the module: one of the runtimes built in (default: the first)",
    applies: Applies::ToSection(Args::One(|config, site, name| {
        config.program.set_runtime(name, site)
    })),
};

pub const WASM_ARG: Directive = Directive {
    name: c"WasmArg",
    help: c"Appends an argument to the module's argv (argv[0] is the module file name)",
    applies: Applies::ToSection(Args::One(|config, _, arg| {
        config.program.add_arg(arg);
        Ok(())
    })),
};

pub const WASM_ENV: Directive = Directive {
    name: c"WasmEnv",
    help: c"Sets an environment variable for the module: WasmEnv NAME [VALUE] (no value: empty)",
    applies: Applies::ToSection(Args::OneOrTwo(|config, _, name, value| {
        config.program.set_env(name, value.unwrap_or_default())
    })),
};

pub const WASM_ENTRY_POINT: Directive = Directive {
    name: c"WasmEntryPoint",
    help: c"Exported function to call instead of _start",
    applies: Applies::ToSection(Args::One(|config, _, name| {
        config.program.set_entry_point(name)
    })),
};

impl Program {
    /// `WasmModule path` (the path already resolved against ServerRoot). A running server that
    /// reads its configuration again takes the path as it is: a file that went bad is the
    /// configuration check's to report, which keeps the server up (see `check`).
    fn set_module(&mut self, path: PathBuf, site: &dyn Site) -> Applied {
        self.kind = if site.restarting() {
            check_module_file(&path).ok()
        } else {
            Some(check_module_file(&path)?)
        };
        self.module = Some(Declared {
            value: path,
            origin: site.origin(),
        });
        Ok(())
    }

    /// `WasmRuntime name`: one of the runtimes built in, by any case of its name.
    fn set_runtime(&mut self, name: &str, site: &dyn Site) -> Applied {
        let runtime = site.registry().get(name)?;
        self.runtime = Some(Declared {
            value: runtime.name(),
            origin: site.origin(),
        });
        Ok(())
    }

    /// `WasmArg arg`: appends to this section's argument list.
    fn add_arg(&mut self, arg: &str) {
        self.args.get_or_insert_with(Vec::new).push(arg.to_owned());
    }

    /// `WasmEnv name value`.
    fn set_env(&mut self, name: &str, value: &str) -> Applied {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(DirectiveError::invalid(
                name,
                "an environment variable name: it must be non-empty and contain no '='",
            ));
        }
        set_by_key(&mut self.env, (name.to_owned(), value.to_owned()), |e| &e.0);
        Ok(())
    }

    /// `WasmEntryPoint name`.
    fn set_entry_point(&mut self, name: &str) -> Applied {
        if name.is_empty() {
            return Err(DirectiveError::invalid(
                name,
                "an entry point: it must be a function's non-empty name",
            ));
        }
        self.entry_point = Some(EntryPoint::new(name));
        Ok(())
    }

    /// The runtime that runs this program: the one `WasmRuntime` names, else the registry's
    /// default. `None` only when no runtime is built in.
    pub fn runtime<'r>(&self, registry: &'r Registry) -> Option<&'r dyn Runtime> {
        match &self.runtime {
            // WasmRuntime checked the name against this registry when it was read.
            Some(runtime) => registry.get(runtime.value).ok(),
            None => registry.default_runtime(),
        }
    }

    /// What the module is, as far as known: a core module unless its file said otherwise.
    pub fn kind(&self) -> ProgramKind {
        self.kind.unwrap_or(ProgramKind::CoreModule)
    }
}

impl Setting for Program {
    fn merge(outer: &Self, inner: &Self) -> Self {
        let mut env = outer.env.clone();
        for entry in &inner.env {
            set_by_key(&mut env, entry.clone(), |e| &e.0);
        }
        // A module's kind goes with it.
        let (module, kind) = match &inner.module {
            Some(module) => (Some(module.clone()), inner.kind),
            None => (outer.module.clone(), outer.kind),
        };
        Self {
            module,
            kind,
            runtime: inner.runtime.clone().or_else(|| outer.runtime.clone()),
            args: inner.args.clone().or_else(|| outer.args.clone()),
            env,
            entry_point: inner
                .entry_point
                .clone()
                .or_else(|| outer.entry_point.clone()),
        }
    }

    /// A component runs only under a runtime that runs components.
    fn check(&self, runtime: &dyn Runtime, registry: &Registry) -> Result<(), Box<Unsupported>> {
        let (Some(module), kind) = (&self.module, self.kind()) else {
            return Ok(());
        };
        if !kind.is_component() || runtime.capabilities().has(Capability::Components) {
            return Ok(());
        }
        Err(Unsupported::new(
            "WasmModule",
            module,
            module.value.display(),
            runtime,
            registry,
            Capability::Components,
            format!(
                "the file is {kind}, and runtime {} runs only core modules (WASI preview1)",
                runtime.name()
            ),
        ))
    }

    /// argv\[0\] is the module's file name, followed by the `WasmArg`s.
    fn grant(&self, run: &mut ExecutionConfig) {
        let argv0 = self
            .module
            .as_ref()
            .and_then(|m| m.value.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        run.args = std::iter::once(argv0)
            .chain(self.args.iter().flatten().cloned())
            .collect();
        run.env = self.env.clone();
        run.entry_point = self.entry_point.clone().unwrap_or_default();
    }
}

/// Checks that `path` is a readable file holding a WebAssembly core module or a component of a
/// kind mod_wasm runs, and says which.
///
/// This is the cheap check done when the directive is read; compiling happens once the whole
/// configuration is known (the runtime may be chosen by a later directive or an outer section).
fn check_module_file(path: &Path) -> Result<ProgramKind, FileError> {
    let read_error = |e| FileError::io("read", path, e);
    let mut file = std::fs::File::open(path).map_err(|e| FileError::io("open", path, e))?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(FileError::Not {
            path: path.to_owned(),
            expected: "a regular file",
        });
    }
    let mut header = [0u8; 8];
    let read = file.read(&mut header).map_err(read_error)?;
    match header {
        _ if read < 8 || header[..4] != *b"\0asm" => Err(FileError::Not {
            path: path.to_owned(),
            expected: "a WebAssembly module (it does not start with the \\0asm header)",
        }),
        [_, _, _, _, 1, 0, 0, 0] => Ok(ProgramKind::CoreModule),
        [_, _, _, _, _, _, 1, 0] => {
            let wasm = std::fs::read(path).map_err(read_error)?;
            runtime_api::component::classify(&wasm).map_err(|reason| FileError::Component {
                path: path.to_owned(),
                reason,
            })
        }
        _ => Err(FileError::UnsupportedVersion {
            path: path.to_owned(),
        }),
    }
}

impl SectionConfig {
    /// The module's path, when a `WasmModule` applies.
    pub fn module_path(&self) -> Option<&Path> {
        self.program.module.as_ref().map(|m| m.value.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::ResolveError;
    use crate::directive::testing::{apply, apply_module, TestSite};
    use crate::testing::{fake_registry, write_file as wasm_file, EMPTY_MODULE};

    fn site() -> TestSite {
        TestSite::new(fake_registry(&["alpha", "beta"]))
    }

    #[test]
    fn module_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = wasm_file(dir.path(), "good.wasm", EMPTY_MODULE);
        let text = wasm_file(dir.path(), "text.wasm", b"hello, not wasm");
        let component = wasm_file(dir.path(), "c.wasm", b"\0asm\x0d\0\x01\0");
        let short = wasm_file(dir.path(), "short.wasm", b"\0as");
        let mut site = site();
        let mut config = SectionConfig::default();
        let mut module = |site: &TestSite, path: &Path| {
            apply(&mut config, site, "WasmModule", &[path.to_str().unwrap()])
        };
        assert!(module(&site, &good).is_ok());
        site.line = 2;
        let mut file_error = |path: &Path| match module(&site, path) {
            Err(DirectiveError::File(error)) => error,
            other => panic!("{}: {other:?}", path.display()),
        };
        let not_wasm = |error: &FileError| {
            matches!(error, FileError::Not { expected, .. }
                if expected.starts_with("a WebAssembly module"))
        };
        let err = file_error(&text);
        assert!(not_wasm(&err), "{err}");
        assert!(err.to_string().starts_with(&text.display().to_string()));
        let err = file_error(&component);
        assert!(
            matches!(&err, FileError::Component { path, .. } if *path == component),
            "{err}"
        );
        let err = file_error(&short);
        assert!(not_wasm(&err), "{err}");
        let missing = dir.path().join("missing.wasm");
        let err = file_error(&missing);
        assert!(
            matches!(&err, FileError::Io { action: "open", path, .. } if *path == missing),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("cannot open {}: ", missing.display())),
            "{err}"
        );
        let err = file_error(dir.path());
        assert!(
            matches!(
                err,
                FileError::Not {
                    expected: "a regular file",
                    ..
                }
            ),
            "{err}"
        );
        // A failed directive leaves the earlier value alone.
        let module = config.program.module.unwrap();
        assert_eq!((module.value, module.origin.line), (good, 1));
    }

    #[test]
    fn a_component_runs_only_under_a_runtime_that_runs_components() {
        use crate::testing::FakeRuntime;
        use runtime_api::Capabilities;
        let handler = wat::parse_str(
            r#"(component
                 (core module $m (func (export "f")))
                 (core instance $i (instantiate $m))
                 (func $f (canon lift (core func $i "f")))
                 (instance $h (export "handle" (func $f)))
                 (export "wasi:http/incoming-handler@0.2.0" (instance $h)))"#,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let handler = wasm_file(dir.path(), "handler.wasm", &handler);
        let mut registry = Registry::new();
        registry.register(FakeRuntime::new("plain")).register(
            FakeRuntime::new("modern").with_capabilities(Capabilities::none().with_components()),
        );
        let site = TestSite::new(registry);
        let mut config = SectionConfig::default();
        apply_module(&mut config, &site, &handler);
        assert_eq!(config.program.kind(), ProgramKind::HttpHandler);
        let refused = config.resolve(site.registry()).err().unwrap();
        let ResolveError::Unsupported(unsupported) = &refused else {
            panic!("{refused}")
        };
        assert_eq!(
            (
                unsupported.directive,
                unsupported.runtime,
                unsupported.lacks
            ),
            ("WasmModule", "plain", Capability::Components)
        );
        assert_eq!(unsupported.capable, ["modern"]);
        assert_eq!(
            refused.to_string(),
            format!(
                "WasmModule {} in <Location /t> (test.conf:1): the file is a WASI 0.2 HTTP \
                 handler component (wasi:http/incoming-handler), and runtime plain runs only core \
                 modules (WASI preview1); use WasmRuntime modern",
                handler.display()
            )
        );
        apply(&mut config, &site, "WasmRuntime", &["modern"]).unwrap();
        apply(
            &mut config,
            &site,
            "WasmAllowConnect",
            &["api.example.com:443"],
        )
        .unwrap();
        assert!(
            config.resolve(site.registry()).is_ok(),
            "a component's requests"
        );

        // A core module under the same runtime has no sockets to open connections with.
        apply_module(
            &mut config,
            &site,
            &wasm_file(dir.path(), "m.wasm", EMPTY_MODULE),
        );
        let refused = config.resolve(site.registry()).err().unwrap();
        let ResolveError::Unsupported(unsupported) = &refused else {
            panic!("{refused}")
        };
        assert_eq!(
            (unsupported.directive, unsupported.lacks),
            ("WasmAllowConnect", Capability::OutboundSockets)
        );
        assert!(unsupported.capable.is_empty());
        assert!(
            refused
                .to_string()
                .contains("runtime modern cannot open connections"),
            "{refused}"
        );
    }

    #[test]
    fn relative_module_paths_are_taken_from_server_root() {
        let dir = tempfile::tempdir().unwrap();
        wasm_file(dir.path(), "app.wasm", EMPTY_MODULE);
        let mut site = site();
        site.server_root = dir.path().to_owned();
        let mut config = SectionConfig::default();
        apply(&mut config, &site, "WasmModule", &["app.wasm"]).unwrap();
        assert_eq!(
            config.module_path(),
            Some(dir.path().join("app.wasm").as_path())
        );
    }

    #[test]
    fn runtimes_are_looked_up_and_the_first_is_the_default() {
        let site = site();
        let mut config = SectionConfig::default();
        let err = apply(&mut config, &site, "WasmRuntime", &["nonesuch"]).unwrap_err();
        assert!(
            matches!(&err, DirectiveError::UnknownRuntime(unknown) if unknown.requested == "nonesuch"),
            "{err}"
        );
        let registry = site.registry();
        assert_eq!(config.program.runtime(registry).unwrap().name(), "alpha");
        apply(&mut config, &site, "WasmRuntime", &["BETA"]).unwrap();
        assert_eq!(config.program.runtime.as_ref().unwrap().value, "beta");
        assert_eq!(config.program.runtime(registry).unwrap().name(), "beta");
        assert!(Program::default().runtime(&fake_registry(&[])).is_none());
    }

    #[test]
    fn env_names_are_validated_and_unique() {
        let site = site();
        let mut config = SectionConfig::default();
        for args in [["A", "1"], ["B", "2"], ["A", "3"]] {
            apply(&mut config, &site, "WasmEnv", &args).unwrap();
        }
        apply(&mut config, &site, "WasmEnv", &["EMPTY"]).unwrap();
        assert_eq!(
            config.program.env,
            [("A", "3"), ("B", "2"), ("EMPTY", "")].map(|(n, v)| (n.into(), v.into()))
        );
        for name in ["", "A=B"] {
            let err = apply(&mut config, &site, "WasmEnv", &[name, "x"]).unwrap_err();
            assert!(
                matches!(&err, DirectiveError::Invalid { value, .. } if value == name),
                "{err}"
            );
        }
    }

    #[test]
    fn entry_point_must_be_named_and_defaults_to_start() {
        let site = site();
        let mut config = SectionConfig::default();
        assert!(apply(&mut config, &site, "WasmEntryPoint", &[""]).is_err());
        assert_eq!(config.execution_config().entry_point.as_str(), "_start");
        apply(&mut config, &site, "WasmEntryPoint", &["run"]).unwrap();
        assert_eq!(config.execution_config().entry_point.as_str(), "run");
    }

    #[test]
    fn single_values_inner_wins_else_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let outer_wasm = wasm_file(dir.path(), "outer.wasm", EMPTY_MODULE);
        let inner_wasm = wasm_file(dir.path(), "inner.wasm", EMPTY_MODULE);
        let site = site();
        let mut outer = SectionConfig::default();
        apply_module(&mut outer, &site, &outer_wasm);
        apply(&mut outer, &site, "WasmEntryPoint", &["outer"]).unwrap();
        apply(&mut outer, &site, "WasmRuntime", &["beta"]).unwrap();
        let mut inner = SectionConfig::default();

        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(merged.module_path(), Some(outer_wasm.as_path()));
        assert_eq!(merged.program.entry_point.unwrap().as_str(), "outer");
        assert_eq!(merged.program.runtime.unwrap().value, "beta");

        apply_module(&mut inner, &site, &inner_wasm);
        apply(&mut inner, &site, "WasmRuntime", &["alpha"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(merged.module_path(), Some(inner_wasm.as_path()));
        assert_eq!(merged.program.runtime.unwrap().value, "alpha");
    }

    #[test]
    fn args_are_replaced_as_a_whole() {
        let site = site();
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmArg", &["--outer"]).unwrap();
        apply(&mut outer, &site, "WasmArg", &["1"]).unwrap();
        let mut inner = SectionConfig::default();
        assert_eq!(
            SectionConfig::merge(&outer, &inner).program.args,
            Some(vec!["--outer".into(), "1".into()])
        );
        apply(&mut inner, &site, "WasmArg", &["--inner"]).unwrap();
        assert_eq!(
            SectionConfig::merge(&outer, &inner).program.args,
            Some(vec!["--inner".into()])
        );
    }

    #[test]
    fn env_accumulates_by_name() {
        let site = site();
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmEnv", &["A", "outer"]).unwrap();
        apply(&mut outer, &site, "WasmEnv", &["B", "outer"]).unwrap();
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmEnv", &["B", "inner"]).unwrap();
        apply(&mut inner, &site, "WasmEnv", &["C", "inner"]).unwrap();
        assert_eq!(
            SectionConfig::merge(&outer, &inner).program.env,
            [("A", "outer"), ("B", "inner"), ("C", "inner")].map(|(n, v)| (n.into(), v.into()))
        );
    }

    #[test]
    fn argv_starts_with_the_module_name() {
        let dir = tempfile::tempdir().unwrap();
        let site = site();
        let mut config = SectionConfig::default();
        let module = wasm_file(dir.path(), "app.wasm", EMPTY_MODULE);
        apply_module(&mut config, &site, &module);
        apply(&mut config, &site, "WasmArg", &["--flag"]).unwrap();
        apply(&mut config, &site, "WasmEnv", &["K", "V"]).unwrap();
        let run = config.execution_config();
        assert_eq!(run.args, ["app.wasm", "--flag"]);
        assert_eq!(run.env, [("K".to_owned(), "V".to_owned())]);
    }
}
