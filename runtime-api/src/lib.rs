//! The contract between mod_wasm and the WebAssembly runtimes it can drive.
//!
//! A backend crate implements [`Runtime`] for one engine. mod_wasm never names an engine: it
//! looks runtimes up by name in a [`Registry`], hands them the module bytes once at configuration
//! time ([`Runtime::compile`]), turns the result into a runnable module once per server process
//! ([`Runtime::load`]), and runs that module once per request ([`LoadedModule::run`]).
//!
//! The split between `compile` and `load` exists because Apache reads its configuration in a
//! parent process and forks the children that serve requests: whatever crosses the fork must be
//! plain data ([`Precompiled`]), never engine state or threads.
//!
//! What a run may see is an [`ExecutionConfig`] and a [`Stdio`]; what happened in it comes back
//! as a [`RunReport`]. What a runtime offers beyond WASI preview1 is its [`Capabilities`].

pub mod artifact;
pub mod beneath;
pub mod capabilities;
pub mod component;
pub mod error;
pub mod execution;
pub mod forked;
pub mod limits;
pub mod outbound;
pub mod preinit;
pub mod registry;
pub mod signals;
pub mod stdio;
pub mod stopping;
pub mod sync;
pub mod tokio_runtime;

pub use artifact::{descriptor_path, ArtifactFile, Code, Precompiled};
pub use capabilities::{Abi, Capabilities, Capability};
pub use component::{Fields, HttpHandler, HttpRequest, HttpResponse, ProgramKind, RequestBody};
pub use error::{BoxError, Cause, CompileError, LoadError, RunError};
pub use execution::{
    Access, EntryPoint, ExecutionConfig, GuestPath, InvalidGuestPath, Preopen, Reuse,
};
pub use limits::{Bytes, Limits, MemorySize, RefusedGrowth};
pub use outbound::{
    ConnectGrant, ConnectGrants, ConnectGuard, GrantedHost, InvalidGrant, Refusal, Refusals,
};
pub use preinit::{InitConfig, InitExport, PreinitError, Preinitializer, RunAs};
pub use registry::{Registry, UnknownRuntime};
pub use stdio::{OutputBuffer, SharedReader, SharedWriter, Stdio};

use std::sync::Arc;

/// A WebAssembly engine able to run WASI command modules for mod_wasm.
///
/// Implementations are stateless factories registered once; engine state belongs to the values
/// returned by [`Runtime::load`], which are created in the process that uses them.
pub trait Runtime: Send + Sync + 'static {
    /// The name admins use in `WasmRuntime`.
    fn name(&self) -> &'static str;

    /// The engine and its version as people know it (`wasmtime 48.0.8`), for reports and logs.
    fn version(&self) -> String;

    /// Whether this runtime interprets the module instead of running machine code compiled from
    /// it: its speed belongs in another league, and reports show it apart.
    fn interprets(&self) -> bool {
        false
    }

    /// What this runtime can give a guest beyond plain WASI preview1.
    fn capabilities(&self) -> Capabilities;

    /// Compiles and validates `wasm` (a core module, or a component of a [`ProgramKind`] when
    /// the runtime has [`Capability::Components`]), including whether every import can be
    /// satisfied by this runtime.
    ///
    /// Called in the Apache parent while the configuration is read, possibly twice per start and
    /// again on every restart. It must not leave threads or engine state behind: children are
    /// forked afterwards and only the returned bytes may be relied on there.
    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError>;

    /// What, besides the module, determines the bytes [`compile`](Runtime::compile) returns:
    /// the engine's version and settings. A runtime that names it lets mod_wasm keep compiled
    /// modules on disk and skip compiling at the next start; the default, `None`, compiles at
    /// every start.
    fn artifact_key(&self) -> Option<String> {
        None
    }

    /// Whether [`load`](Runtime::load) maps cached code from its file ([`Code::File`]): the
    /// children of a server then share one copy of the code in memory, where otherwise each
    /// keeps its own.
    fn maps_cached_code(&self) -> bool {
        false
    }

    /// Ends this runtime's runs in progress in this process, soon, because the server is
    /// stopping without waiting for its requests; [`stopping::requested`] is already true, and
    /// runs started from now on must end at once too. Runs so ended report
    /// [`RunError::Stopped`]. Called once, on a thread that serves no request. The default
    /// does nothing: runs end at their time limit.
    fn stop_runs(&self) {}

    /// Makes a compiled module runnable in the current process. Called once per module per
    /// server process, after the fork; the result is shared by all threads of that process.
    fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError>;
}

/// A module ready to be instantiated, shared by all requests of one process.
pub trait LoadedModule: Send + Sync {
    /// Instantiates the module in a fresh sandbox described by `config`, calls its entry point
    /// and reports how the guest ended and what it was refused on the way.
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport;

    /// The module as a `wasi:http` handler, when it is one: it is then handed requests, and
    /// never run.
    fn as_http_handler(&self) -> Option<&dyn HttpHandler> {
        None
    }
}

/// What happened in one run.
#[derive(Debug)]
pub struct RunReport {
    /// The guest's exit code (0 when the entry point returned normally), or why it never
    /// reached one.
    pub outcome: Result<ExitCode, RunError>,
    /// What the guest tried and was not granted. The guest saw each as an error it could
    /// handle; mod_wasm logs them.
    pub refusals: Refusals,
    /// The first growth of linear memory that the memory limit refused, where the runtime can
    /// tell: a guest that fails after one most likely failed because of it.
    pub refused_growth: Option<RefusedGrowth>,
}

impl From<Result<ExitCode, RunError>> for RunReport {
    /// A run in which nothing was refused.
    fn from(outcome: Result<ExitCode, RunError>) -> Self {
        Self {
            outcome,
            refusals: Refusals::new(),
            refused_growth: None,
        }
    }
}

/// The exit code of a guest that ran to completion (returned from its entry point or called
/// `proc_exit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode(pub i32);

impl ExitCode {
    pub const SUCCESS: ExitCode = ExitCode(0);

    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }
}
