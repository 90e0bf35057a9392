//! The half of mod_wasm that knows nothing of Apache's C API: its directives, the per-section
//! configuration and how sections merge, the configuration check, and the pipeline that
//! answers a request. The Apache adapter (the `mod_wasm` crate) turns Apache's structures into
//! the plain values used here and back; everything here can be driven by unit tests without
//! httpd.
//!
//! Engines are reached through `runtime_api` only, by name in a [`Registry`]; which ones exist
//! is decided by whoever builds the registry.
//!
//! [`Registry`]: runtime_api::Registry

pub mod artifact_cache;
pub mod check;
pub mod config_error;
pub mod describe;
pub mod directive;
pub mod modules;
pub mod origin;
pub mod section;
pub mod serve;
pub mod server;
pub mod settings;
pub mod stats;

pub use artifact_cache::ArtifactCache;
pub use config_error::{DirectiveError, FileError, ResolveError, Unsupported};
pub use directive::{Applied, Applies, Args, Directive, Site, DIRECTIVES};
pub use modules::{ModuleKey, ModuleStore};
pub use origin::{Declared, Mount, Origin};
pub use section::SectionConfig;
pub use serve::{
    ClientGone, Exchange, Gateway, HandlerMode, Level, Reply, ResponseHead, Wire, STDERR_LOGGED,
};
pub use server::{CacheDir, ServerConfig};

/// Runtimes for unit tests: engines that compile nothing and run a closure as the guest.
#[cfg(test)]
pub(crate) mod testing {
    use runtime_api::{
        Access, Capabilities, Code, CompileError, ExecutionConfig, ExitCode, GuestPath,
        HttpHandler, HttpRequest, HttpResponse, LoadError, LoadedModule, Precompiled, Preopen,
        Registry, RequestBody, RunReport, Runtime, Stdio,
    };
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The smallest valid core module: the header.
    pub const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    /// A grant of `host` under `guest`.
    pub fn preopen(guest: &str, host: impl Into<std::path::PathBuf>, access: Access) -> Preopen {
        Preopen {
            guest: GuestPath::new(guest).unwrap(),
            host: host.into(),
            access,
        }
    }

    /// Writes `bytes` to the file `name` in `dir`, and returns its path.
    pub fn write_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    type Guest = Arc<dyn Fn(&ExecutionConfig, Stdio) -> RunReport + Send + Sync>;
    type Handler = Arc<
        dyn Fn(HttpRequest, Box<dyn RequestBody>, Box<dyn HttpResponse>) -> RunReport + Send + Sync,
    >;

    /// A runtime whose every module runs one closure. Clones share the compile counter.
    #[derive(Clone)]
    pub struct FakeRuntime {
        name: &'static str,
        capabilities: Capabilities,
        artifact_key: Option<&'static str>,
        guest: Guest,
        /// Makes its modules `wasi:http` handlers, which run this instead of `guest`.
        handler: Option<Handler>,
        compiles: Arc<AtomicUsize>,
        loaded_from: Arc<std::sync::Mutex<Vec<LoadedFrom>>>,
    }

    /// Where a [`FakeRuntime`] took the code of a module it loaded.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum LoadedFrom {
        File,
        Bytes,
    }

    impl FakeRuntime {
        /// A runtime of plain WASI whose guests exit at once, writing nothing.
        pub fn new(name: &'static str) -> Self {
            Self {
                name,
                capabilities: Capabilities::none(),
                artifact_key: None,
                guest: Arc::new(|_, _| Ok(ExitCode::SUCCESS).into()),
                handler: None,
                compiles: Arc::default(),
                loaded_from: Arc::default(),
            }
        }

        pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
            self.capabilities = capabilities;
            self
        }

        /// Its compiled code may be cached on disk under `key`.
        pub fn with_artifact_key(mut self, key: &'static str) -> Self {
            self.artifact_key = Some(key);
            self
        }

        pub fn with_guest(
            mut self,
            guest: impl Fn(&ExecutionConfig, Stdio) -> RunReport + Send + Sync + 'static,
        ) -> Self {
            self.guest = Arc::new(guest);
            self
        }

        /// Its modules are `wasi:http` handlers that run `handler`.
        pub fn with_handler(
            mut self,
            handler: impl Fn(HttpRequest, Box<dyn RequestBody>, Box<dyn HttpResponse>) -> RunReport
                + Send
                + Sync
                + 'static,
        ) -> Self {
            self.handler = Some(Arc::new(handler));
            self
        }

        /// How many modules it compiled.
        pub fn compiles(&self) -> usize {
            self.compiles.load(Ordering::SeqCst)
        }

        /// Where the modules it loaded came from, in order.
        pub fn loaded_from(&self) -> Vec<LoadedFrom> {
            self.loaded_from.lock().unwrap().clone()
        }
    }

    impl Runtime for FakeRuntime {
        fn name(&self) -> &'static str {
            self.name
        }
        fn version(&self) -> String {
            format!("Fake {} 1.0", self.name)
        }
        fn capabilities(&self) -> Capabilities {
            self.capabilities.clone()
        }
        fn artifact_key(&self) -> Option<String> {
            self.artifact_key.map(str::to_owned)
        }
        fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
            self.compiles.fetch_add(1, Ordering::SeqCst);
            if !wasm.starts_with(b"\0asm") {
                return Err(CompileError::Invalid {
                    runtime: self.name,
                    cause: runtime_api::Cause::new("no \\0asm header"),
                });
            }
            Ok(Precompiled::new(self.name, wasm))
        }
        fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
            let from = match precompiled.code(self.name)? {
                Code::File(_) => LoadedFrom::File,
                Code::Bytes(_) => LoadedFrom::Bytes,
            };
            self.loaded_from.lock().unwrap().push(from);
            Ok(Arc::new(FakeModule {
                guest: self.guest.clone(),
                handler: self.handler.clone(),
            }))
        }
    }

    struct FakeModule {
        guest: Guest,
        handler: Option<Handler>,
    }

    impl LoadedModule for FakeModule {
        fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport {
            (self.guest)(config, stdio)
        }

        fn as_http_handler(&self) -> Option<&dyn HttpHandler> {
            self.handler.is_some().then_some(self)
        }
    }

    impl HttpHandler for FakeModule {
        fn handle(
            &self,
            _: &ExecutionConfig,
            request: HttpRequest,
            body: Box<dyn RequestBody>,
            _: Stdio,
            response: Box<dyn HttpResponse>,
        ) -> RunReport {
            let handler = self.handler.as_ref().expect("a handler");
            handler(request, body, response)
        }
    }

    /// A registry of plain runtimes called `names`, the first the default.
    pub fn fake_registry(names: &[&'static str]) -> Registry {
        let mut registry = Registry::new();
        for name in names {
            registry.register(FakeRuntime::new(name));
        }
        registry
    }
}
