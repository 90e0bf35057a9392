//! mod_wasm's runtime backend on [WasmEdge](https://wasmedge.org): WASI preview1 through
//! WasmEdge's Rust WASI (`async-wasi`), whose standard streams and directories are set per
//! request instead of being the process's own, with WasmEdge's socket extensions limited to
//! the connections a location grants (see [`net`]). Where async-wasi's types differ from WASI
//! preview1's, runs get the standard ones (see [`wasi`]), and a module importing a function
//! under a type no run provides is refused when it is compiled, naming both types.
//!
//! Two runtimes share this crate: `wasmedge` runs code compiled ahead of time by WasmEdge's
//! LLVM compiler, `wasmedge-interpreter` runs the same module in WasmEdge's interpreter.

mod aot;
mod fs;
mod net;
mod scaffold;
mod stack;
mod stop;
mod wasi;

use net::AcceptAbi;
use runtime_api::signals::Unblocked;
use runtime_api::stopping::{cutoff, Cutoff};
use runtime_api::sync::lock;
use runtime_api::{
    Abi, Capabilities, Cause, CompileError, ConnectGrants, ConnectGuard, ExecutionConfig, ExitCode,
    LoadError, LoadedModule, MemorySize, Precompiled, RunError, RunReport, Runtime, SharedReader,
    SharedWriter, Stdio,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmedge_sdk::config::{
    CommonConfigOptions, CompilerConfigOptions, ConfigBuilder, RuntimeConfigOptions,
};
use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::virtual_sys::StdioSys;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::env::VFS;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::{config::Config, CompilerOutputFormat, ExternalInstanceType, Module, ValType};
use wasmedge_sys::instance::function::AsFunc;
use wasmedge_sys::r#async::fiber::AsyncState;
use wasmedge_sys::{AsInstance, FuncType, ImportModule};

/// The only import namespace WasmEdge's Rust WASI provides (its socket extensions included).
const WASI_NAMESPACE: &str = "wasi_snapshot_preview1";

/// WasmEdge's socket extension of WASI preview1 (the ABI of the `wasmedge_wasi_socket` crate):
/// `sock_open`, `sock_connect`, `sock_getaddrinfo`, … in `wasi_snapshot_preview1`.
const WASMEDGE_SOCKETS: Abi = Abi::new("wasmedge");

/// How WasmEdge executes a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Native code from WasmEdge's LLVM compiler.
    AheadOfTime,
    /// WasmEdge's interpreter: no compilation, much slower code.
    Interpreter,
}

/// A WasmEdge runtime, registered as `wasmedge` (ahead of time) and `wasmedge-interpreter`.
#[derive(Clone, Copy, Debug)]
pub struct WasmEdge {
    mode: Mode,
}

impl WasmEdge {
    /// `wasmedge`: modules are compiled to native code when Apache reads its configuration.
    pub const AHEAD_OF_TIME: WasmEdge = WasmEdge {
        mode: Mode::AheadOfTime,
    };
    /// `wasmedge-interpreter`: modules are validated, then interpreted.
    pub const INTERPRETER: WasmEdge = WasmEdge {
        mode: Mode::Interpreter,
    };

    fn name_of(mode: Mode) -> &'static str {
        match mode {
            Mode::AheadOfTime => "wasmedge",
            Mode::Interpreter => "wasmedge-interpreter",
        }
    }

    fn config(&self) -> Result<Config, String> {
        Self::config_of(self.mode, MemorySize::MAX)
    }

    /// The configuration of `mode` whose executors let linear memories grow to `memory`.
    fn config_of(mode: Mode, memory: MemorySize) -> Result<Config, String> {
        let common = CommonConfigOptions::default().interpreter_mode(mode == Mode::Interpreter);
        ConfigBuilder::new(common)
            // A shared library rather than WasmEdge's "universal" module: the dynamic loader
            // maps a library's code from its file, shared by every child that loads it, where a
            // universal module's native code is copied into each process.
            .with_compiler_config(
                CompilerConfigOptions::default().out_format(CompilerOutputFormat::Native),
            )
            .with_runtime_config(RuntimeConfigOptions::default().max_memory_pages(memory.pages()))
            .build()
            .map_err(|e| format!("cannot configure WasmEdge: {e}"))
    }
}

/// Keeps WasmEdge's own progress messages ("compile start", …) out of Apache's error log;
/// failures still reach it, as errors mod_wasm logs with their context.
fn quiet() {
    wasmedge_sdk::LogManager::log_off();
}

/// The process's tokio runtime (see [`runtime_api::tokio_runtime`]), which WasmEdge's
/// asynchronous host functions need; async-wasi's sockets register with its reactor.
fn tokio_runtime(runtime: &'static str) -> Result<&'static tokio::runtime::Runtime, LoadError> {
    runtime_api::tokio_runtime::process_runtime().map_err(|e| LoadError::Engine {
        runtime,
        cause: Cause::doing("cannot start the tokio runtime WasmEdge's WASI needs", e),
    })
}

impl Runtime for WasmEdge {
    fn name(&self) -> &'static str {
        Self::name_of(self.mode)
    }

    fn version(&self) -> String {
        let mode = match self.mode {
            Mode::AheadOfTime => "ahead-of-time compiled",
            Mode::Interpreter => "interpreter",
        };
        format!(
            "WasmEdge {} ({mode})",
            wasmedge_sdk::utils::CoreVersion::version_string()
        )
    }

    fn interprets(&self) -> bool {
        self.mode == Mode::Interpreter
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none().with_outbound_sockets(WASMEDGE_SOCKETS)
    }

    /// Native code depends on the WasmEdge library it was compiled with (its AOT section is
    /// only used by the same version), on the compiler settings, which are the defaults, and
    /// on the stack bound compiled into it (see [`stack`]). The interpreter runs the module
    /// with its bound: nothing worth caching.
    fn artifact_key(&self) -> Option<String> {
        match self.mode {
            Mode::AheadOfTime => Some(format!(
                "WasmEdge {} AOT shared-library default-options stack-bound-1 {}",
                wasmedge_sdk::utils::CoreVersion::version_string(),
                stack::BUDGET
            )),
            Mode::Interpreter => None,
        }
    }

    /// Runs end as at their time limit, by the SDK's own signal.
    fn stop_runs(&self) {
        stop::stop_all();
    }

    /// Native code is a shared library, which the dynamic loader maps.
    fn maps_cached_code(&self) -> bool {
        self.mode == Mode::AheadOfTime
    }

    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
        quiet();
        let name = self.name();
        let engine_error = |reason: String| CompileError::Engine {
            runtime: name,
            cause: Cause::new(reason),
        };
        let config = self.config().map_err(engine_error)?;
        let module =
            Module::from_bytes(Some(&config), wasm).map_err(|e| CompileError::Invalid {
                runtime: name,
                cause: Cause::new(e),
            })?;
        check_imports(name, &module)?;
        let wasm = stack::bound(wasm).map_err(engine_error)?;
        match self.mode {
            Mode::Interpreter => Ok(Precompiled::new(name, wasm)),
            Mode::AheadOfTime => aot::compile_in_subprocess(&wasm, &config)
                .map(|bytes| Precompiled::new(name, bytes))
                .map_err(engine_error),
        }
    }

    fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
        let name = self.name();
        let engine_error = |cause| LoadError::Engine {
            runtime: name,
            cause,
        };
        quiet();
        let tokio = tokio_runtime(name)?;
        let config = self.config().map_err(|e| engine_error(Cause::new(e)))?;
        let (module, library) = match self.mode {
            Mode::Interpreter => {
                Module::from_bytes(Some(&config), precompiled.expect_runtime(name)?)
                    .map(|module| (module, None))
                    .map_err(|e| e.to_string())
            }
            Mode::AheadOfTime => aot::load_library(&config, precompiled.code(name)?)
                .map(|library| (library.module.clone(), Some(library))),
        }
        .map_err(|e| engine_error(Cause::doing("cannot load compiled code", e)))?;
        Ok(Arc::new(WasmEdgeModule {
            runtime: name,
            mode: self.mode,
            accept: AcceptAbi::of(&module),
            module,
            _library: library,
            tokio,
            configs: Mutex::default(),
            scaffolds: scaffold::Scaffolds::default(),
        }))
    }
}

/// Checks that a run's WASI provides every import of `module`, with the type the module
/// declares: WasmEdge would refuse to instantiate it in every request, without saying which
/// import is wrong.
fn check_imports(runtime: &'static str, module: &Module) -> Result<(), CompileError> {
    let engine_error = |e: Box<WasmEdgeError>| CompileError::Engine {
        runtime,
        cause: Cause::doing("cannot create the WASI module", e),
    };
    // The WASI module as a run of this module gets it.
    let (wasi, _sockets) = wasi_module(
        WasiCtx::new(),
        ConnectGrants::default().guard(),
        AcceptAbi::of(module),
    )
    .map_err(engine_error)?;
    let provided: &ImportModule<WasiCtx> = wasi.as_ref().as_ref();
    for import in module.imports() {
        let (namespace, function) = (import.module_name(), import.name());
        let unsatisfied = || CompileError::UnsatisfiedImport {
            runtime,
            module: namespace.to_string(),
            name: function.to_string(),
        };
        if namespace != WASI_NAMESPACE {
            return Err(unsatisfied());
        }
        let Ok(ExternalInstanceType::Func(imported)) = import.ty() else {
            return Err(unsatisfied());
        };
        let provided = provided
            .get_func(&function)
            .ok()
            .and_then(|f| f.ty())
            .ok_or_else(unsatisfied)?;
        if provided != imported {
            return Err(CompileError::IncompatibleImport {
                runtime,
                module: namespace.to_string(),
                name: function.to_string(),
                imported: signature(&imported),
                provided: signature(&provided),
            });
        }
    }
    Ok(())
}

/// The WASI module of a run with `context`: async-wasi's, standardised (see [`wasi`]), its
/// network limited to what `connections` allow and with the `sock_accept` the module imports
/// (see [`net`]). The guard is the host data of the network functions and must outlive the
/// module's use.
fn wasi_module(
    context: WasiCtx,
    connections: ConnectGuard,
    accept: AcceptAbi,
) -> Result<(AsyncWasiModule, Box<net::SocketGuard>), Box<WasmEdgeError>> {
    let mut wasi = AsyncWasiModule::create_from_wasi_context(context)?;
    wasi::standardise(&mut wasi)?;
    let sockets = net::guard_sockets(&mut wasi, connections, accept)?;
    Ok((wasi, sockets))
}

/// A function type as people write it: `(i32, i32) -> i32`.
fn signature(ty: &FuncType) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ty.returns() {
        [] => format!("({})", list(ty.args())),
        [one] => format!("({}) -> {}", list(ty.args()), list(&[*one])),
        many => format!("({}) -> ({})", list(ty.args()), list(many)),
    }
}

struct WasmEdgeModule {
    runtime: &'static str,
    mode: Mode,
    module: Module,
    /// Ahead of time: the library the module's code is in, kept loaded with it.
    _library: Option<aot::Library>,
    tokio: &'static tokio::runtime::Runtime,
    /// The `sock_accept` the module imports, which its runs' WASI provides.
    accept: AcceptAbi,
    /// The executors' configuration for each memory limit this module ran with: a location's
    /// limit is the same for all its requests, so it is built on the first one only.
    configs: Mutex<HashMap<u32, Arc<Config>>>,
    /// What its runs need besides an instance, kept between them (see [`scaffold`]).
    scaffolds: scaffold::Scaffolds,
}

impl WasmEdgeModule {
    /// The configuration whose executors let linear memory grow to `memory`.
    fn config_for(&self, memory: MemorySize) -> Result<Arc<Config>, String> {
        let mut configs = lock(&self.configs);
        if let Some(config) = configs.get(&memory.pages()) {
            return Ok(config.clone());
        }
        let config = Arc::new(WasmEdge::config_of(self.mode, memory)?);
        configs.insert(memory.pages(), config.clone());
        Ok(config)
    }

    fn wasi_context(&self, config: &ExecutionConfig, stdio: Stdio) -> Result<WasiCtx, RunError> {
        let vfs = VFS::new_with_stdio(StdioSys::new(
            SharedReader::new(stdio.stdin),
            SharedWriter::new(stdio.stdout),
            SharedWriter::new(stdio.stderr),
        ));
        let mut wasi = WasiCtx::create_with_vfs(vfs);
        wasi.push_args(config.args.clone());
        wasi.push_envs(
            config
                .env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        );
        for preopen in &config.preopens {
            let dir = fs::HostDir::open(preopen)
                .map_err(|e| RunError::preopen(self.runtime, preopen, e))?;
            wasi.mount_file_sys(preopen.guest.as_str(), Box::new(dir));
        }
        Ok(wasi)
    }
}

impl LoadedModule for WasmEdgeModule {
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport {
        config
            .connect
            .guarded(|connections| self.call(config, stdio, connections))
    }
}

impl WasmEdgeModule {
    fn call(
        &self,
        config: &ExecutionConfig,
        stdio: Stdio,
        connections: ConnectGuard,
    ) -> Result<ExitCode, RunError> {
        let runtime = self.runtime;
        let instantiate_error = |e: Box<WasmEdgeError>| RunError::Instantiate {
            runtime,
            cause: Cause::new(e),
        };
        let _tokio = self.tokio.enter();
        // The executor of each run enforces its memory limit.
        let pages = config.limits.memory.pages();
        let engine_config =
            self.config_for(config.limits.memory)
                .map_err(|reason| RunError::Instantiate {
                    runtime,
                    cause: Cause::new(reason),
                })?;
        let context = self.wasi_context(config, stdio)?;
        let scaffold = self
            .scaffolds
            .take(pages, &engine_config, self.accept)
            .map_err(instantiate_error)?;
        let mut lease = scaffold
            .begin(context, connections, &self.module)
            .map_err(instantiate_error)?;
        let outcome = {
            // The SDK stops a run at its time limit with a real-time signal to this thread,
            // which Apache's threaded MPMs block in their worker threads.
            let _unblocked = Unblocked::new(libc::SIGRTMIN()).map_err(|e| {
                RunError::instantiate(
                    runtime,
                    "cannot let the time limit's signal reach this thread",
                    e,
                )
            })?;
            let _run = stop::Run::enter();
            if runtime_api::stopping::requested() {
                return Err(RunError::Stopped { runtime });
            }
            let (instance, executor) = lease.parts();
            match instance.get_func_mut(config.entry_point.as_str()) {
                Ok(mut entry_point) => {
                    let deadline = Instant::now() + config.limits.timeout;
                    let async_state = AsyncState::new();
                    let call = executor.call_func_async_with_timeout(
                        &async_state,
                        &mut entry_point,
                        [],
                        config.limits.timeout,
                    );
                    // The SDK's signal reaches a guest running its code; one waiting in a host
                    // call is a suspended call, which is dropped at the deadline (resuming the
                    // guest with an error that ends it) or when the server stops.
                    let cut = self.tokio.block_on(async {
                        tokio::select! {
                            biased;
                            called = call => Ok(called),
                            cut = cutoff(deadline) => Err(cut),
                        }
                    });
                    match cut {
                        Ok(called) => called,
                        Err(Cutoff::Deadline) => Err(Box::new(WasmEdgeError::ExecuteTimeout)),
                        Err(Cutoff::Stopping) => return Err(RunError::Stopped { runtime }),
                    }
                }
                Err(_) => {
                    return Err(RunError::MissingEntryPoint {
                        runtime,
                        entry_point: config.entry_point.clone(),
                    })
                }
            }
        };
        let stack_exhausted = outcome.is_err() && stack_exhausted(&lease.instance);
        let (exit_code, scaffold) = lease.finish();
        let exit_code = ExitCode(exit_code as i32);
        // Only a scaffold whose run ended normally (returned, or called `proc_exit`) serves
        // another (see `scaffold`).
        let ended_normally = match &outcome {
            Ok(results) => results.is_empty(),
            Err(e) => matches!(
                **e,
                WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated))
            ),
        };
        if ended_normally {
            self.scaffolds.put_back(pages, scaffold);
        }
        match outcome {
            // async-wasi records `proc_exit`'s code and reports the exit as a normal return.
            Ok(results) if results.is_empty() => Ok(exit_code),
            Ok(_) => Err(RunError::EntryPointSignature {
                runtime,
                entry_point: config.entry_point.clone(),
            }),
            Err(e) => match *e {
                WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated)) => {
                    Ok(exit_code)
                }
                WasmEdgeError::ExecuteTimeout => {
                    Err(RunError::interrupted(runtime, &config.limits))
                }
                WasmEdgeError::Instance(_) | WasmEdgeError::Vm(_) => {
                    Err(RunError::MissingEntryPoint {
                        runtime,
                        entry_point: config.entry_point.clone(),
                    })
                }
                _ if stack_exhausted => Err(RunError::trap(
                    runtime,
                    format_args!(
                        "call stack exhausted: its frames passed the bound of {} KiB \
                         (estimated) that mod_wasm gives WasmEdge's guests",
                        stack::BUDGET >> 10
                    ),
                    [],
                )),
                other => Err(RunError::trap(runtime, other, [])),
            },
        }
    }
}

/// Whether `instance` trapped because its calls passed the stack bound (see [`stack`]).
fn stack_exhausted(instance: &wasmedge_sdk::Instance) -> bool {
    instance
        .get_global(stack::EXPORT)
        .is_ok_and(|estimate| estimate.get_value().to_i32() as u32 > stack::BUDGET)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_importing(function: &str, params: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "{function}" (func {params} (result i32)))
                 (memory (export "memory") 1)
                 (func (export "_start")))"#
        ))
        .unwrap()
    }

    #[test]
    fn modules_using_the_socket_extension_compile() {
        // What they may reach is decided per location, when they run.
        for (function, params) in [
            ("sock_open", "(param i32 i32 i32)"),
            (
                "sock_getaddrinfo",
                "(param i32 i32 i32 i32 i32 i32 i32 i32)",
            ),
        ] {
            WasmEdge::INTERPRETER
                .compile(&module_importing(function, params))
                .unwrap();
        }
    }

    /// A guest that opens a TCP socket, connects to 127.0.0.1:`port` and exits with the errno
    /// of the first call that fails (0 when connected). With `bind`, it binds instead.
    fn connecting_guest(port: u16, bind: bool) -> Vec<u8> {
        let call = if bind { "$bind" } else { "$connect" };
        wat::parse_str(format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "sock_connect" (func $connect (param i32 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "sock_bind" (func $bind (param i32 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 ;; {{ buf: 32, buf_len: 4 }} at 16, then the address 127.0.0.1.
                 (data (i32.const 16) "\20\00\00\00\04\00\00\00")
                 (data (i32.const 32) "\7f\00\00\01")
                 (func (export "_start")
                   (local $errno i32)
                   ;; inet4 = 1, stream = 2; the descriptor lands at 0.
                   (local.set $errno (call $open (i32.const 1) (i32.const 2) (i32.const 0)))
                   (if (local.get $errno) (then (call $exit (local.get $errno))))
                   (call $exit (call {call} (i32.load (i32.const 0)) (i32.const 16) (i32.const {port})))))"#
        ))
        .unwrap()
    }

    fn run_with_grants(wasm: &[u8], grants: &[&str]) -> (ExitCode, runtime_api::Refusals) {
        let runtime = WasmEdge::INTERPRETER;
        let module = runtime.load(&runtime.compile(wasm).unwrap()).unwrap();
        let grants: Vec<_> = grants
            .iter()
            .map(|g| runtime_api::ConnectGrant::parse(g).unwrap())
            .collect();
        let config = ExecutionConfig {
            connect: runtime_api::ConnectGrants::new(grants),
            ..Default::default()
        };
        let report = module.run(&config, Stdio::null());
        (report.outcome.unwrap(), report.refusals)
    }

    const EPERM: i32 = 63;
    const ENOTSUP: i32 = 58;

    #[test]
    fn connections_need_a_grant() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let guest = connecting_guest(port, false);
        let peer: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

        let (exit, refusals) = run_with_grants(&guest, &[]);
        assert_eq!(exit, ExitCode(EPERM));
        assert_eq!(refusals.kept(), [runtime_api::Refusal::Connect(peer)]);

        let other_port = format!("127.0.0.1:{}", port.wrapping_add(1).max(1));
        let (exit, _) = run_with_grants(&guest, &[&other_port]);
        assert_eq!(exit, ExitCode(EPERM), "a grant for another port");

        let granted = format!("127.0.0.1:{port}");
        let (exit, refusals) = run_with_grants(&guest, &[&granted]);
        assert_eq!(exit, ExitCode::SUCCESS);
        assert!(refusals.is_empty(), "{refusals:?}");
        listener.accept().expect("the granted connection arrived");
    }

    /// Runs keep their WASI module between them (see `scaffold`); each run still has its own
    /// grants.
    #[test]
    fn the_next_run_has_its_own_grants() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let runtime = WasmEdge::INTERPRETER;
        let guest = connecting_guest(port, false);
        let module = runtime.load(&runtime.compile(&guest).unwrap()).unwrap();
        let run = |grants: Vec<runtime_api::ConnectGrant>| {
            let config = ExecutionConfig {
                connect: runtime_api::ConnectGrants::new(grants),
                ..Default::default()
            };
            module.run(&config, Stdio::null()).outcome.unwrap()
        };
        let granted = runtime_api::ConnectGrant::parse(&format!("127.0.0.1:{port}")).unwrap();
        for _ in 0..3 {
            assert_eq!(run(vec![granted.clone()]), ExitCode::SUCCESS);
            listener.accept().expect("the granted connection arrived");
            assert_eq!(
                run(Vec::new()),
                ExitCode(EPERM),
                "the grant of the run before"
            );
        }
    }

    #[test]
    fn sockets_cannot_be_bound() {
        let (exit, refusals) = run_with_grants(&connecting_guest(8080, true), &["127.0.0.1:8080"]);
        assert_eq!(exit, ExitCode(ENOTSUP));
        assert!(
            matches!(refusals.kept(), [runtime_api::Refusal::Socket(_)]),
            "{refusals:?}"
        );
    }

    #[test]
    fn both_signatures_of_sock_accept_are_provided() {
        // WasmEdge's extension, then WASI preview1's (wasi-libc's programs, CPython's).
        for params in ["(param i32 i32)", "(param i32 i32 i32)"] {
            let wasm = wat::parse_str(format!(
                r#"(module
                     (import "wasi_snapshot_preview1" "sock_accept" (func $accept {params} (result i32)))
                     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                     (memory (export "memory") 1)
                     (func (export "_start")
                       ;; Descriptor 1 (stdout) is no listening socket: the errno comes back.
                       (call $exit (call $accept (i32.const 1) (i32.const 0) {flags}))))"#,
                flags = if params.matches("i32").count() == 3 {
                    "(i32.const 0)"
                } else {
                    ""
                },
            ))
            .unwrap();
            for runtime in [WasmEdge::INTERPRETER, WasmEdge::AHEAD_OF_TIME] {
                let module = runtime.load(&runtime.compile(&wasm).unwrap()).unwrap();
                let exit = module
                    .run(&ExecutionConfig::default(), Stdio::null())
                    .outcome
                    .unwrap();
                assert_ne!(exit, ExitCode::SUCCESS, "{params} under {}", runtime.name());
            }
        }
    }

    #[test]
    fn clock_res_get_has_its_standard_type() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func (export "_start")
                   (local $errno i32)
                   ;; The monotonic clock's resolution, written at 8: a positive number.
                   (local.set $errno (call $res (i32.const 1) (i32.const 8)))
                   (if (local.get $errno) (then (call $exit (local.get $errno))))
                   (call $exit (i64.eqz (i64.load (i32.const 8))))))"#,
        )
        .unwrap();
        let runtime = WasmEdge::INTERPRETER;
        let module = runtime.load(&runtime.compile(&wasm).unwrap()).unwrap();
        let report = module.run(&ExecutionConfig::default(), Stdio::null());
        assert_eq!(report.outcome.unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn fd_filestat_set_size_sets_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = wat::parse_str(
            r#"(module
                 (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $set_size (param i32 i64) (result i32)))
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 16) "grown")
                 (func (export "_start")
                   (local $errno i32)
                   ;; Creates "grown" in the first preopen (3); its descriptor lands at 0.
                   (local.set $errno (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 5)
                     (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0)))
                   (if (local.get $errno) (then (call $exit (local.get $errno))))
                   (call $exit (call $set_size (i32.load (i32.const 0)) (i64.const 1234)))))"#,
        )
        .unwrap();
        let runtime = WasmEdge::INTERPRETER;
        let module = runtime.load(&runtime.compile(&wasm).unwrap()).unwrap();
        let config = ExecutionConfig {
            preopens: vec![runtime_api::Preopen {
                guest: runtime_api::GuestPath::new("/data").unwrap(),
                host: dir.path().to_owned(),
                access: runtime_api::Access::ReadWrite,
            }],
            ..Default::default()
        };
        let report = module.run(&config, Stdio::null());
        assert_eq!(report.outcome.unwrap(), ExitCode::SUCCESS);
        let grown = std::fs::metadata(dir.path().join("grown")).unwrap();
        assert_eq!(grown.len(), 1234);
    }

    #[test]
    fn an_import_of_the_wrong_type_is_named_with_both_types() {
        let wasm = module_importing("fd_write", "(param i32 i32)");
        let error = WasmEdge::INTERPRETER.compile(&wasm).unwrap_err();
        assert_eq!(
            error.to_string(),
            "wasmedge-interpreter: the module imports 'wasi_snapshot_preview1::fd_write' as \
             (i32, i32) -> i32, but this runtime provides (i32, i32, i32, i32) -> i32"
        );
        let unknown = module_importing("no_such_function", "(param i32)");
        let error = WasmEdge::INTERPRETER.compile(&unknown).unwrap_err();
        assert!(
            matches!(&error, CompileError::UnsatisfiedImport { name, .. } if name == "no_such_function"),
            "{error}"
        );
    }

    /// A function `$f` that calls itself `$depth` times (without end if `$depth` is -1) and
    /// keeps `locals` locals of type `ty` alive across the call, so that WasmEdge's compiled
    /// code cannot turn the recursion into a loop; the guest exits with 0 if it returned.
    fn recursion(depth: i64, locals: usize, ty: &str) -> Vec<u8> {
        let declared = (0..locals)
            .map(|i| format!("(local $l{i} {ty})"))
            .collect::<String>();
        let (set, get) = if ty == "v128" {
            (
                "(i64x2.splat (local.get $n))",
                "(i64x2.extract_lane 1 (local.get $l{i}))",
            )
        } else {
            ("(local.get $n)", "(local.get $l{i})")
        };
        let init = (0..locals)
            .map(|i| format!("(local.set $l{i} {set})"))
            .collect::<String>();
        let combine = (0..locals)
            .map(|i| {
                format!(
                    "(local.set $r (i64.xor (local.get $r) {}))",
                    get.replace("{i}", &i.to_string())
                )
            })
            .collect::<String>();
        wat::parse_str(format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func $f (param $n i64) (result i64) (local $r i64) {declared}
                   (if (i64.eq (local.get $n) (i64.const {depth})) (then (return (i64.const 0))))
                   {init}
                   (local.set $r (call $f (i64.add (local.get $n) (i64.const 1))))
                   {combine}
                   (i64.store (i32.const 8) (local.get $r))
                   (i64.const 0))
                 (func (export "_start") (call $exit (i32.wrap_i64 (call $f (i64.const 0))))))"#
        ))
        .unwrap()
    }

    fn run_module(runtime: WasmEdge, wasm: &[u8]) -> Result<ExitCode, RunError> {
        let module = runtime.load(&runtime.compile(wasm).unwrap()).unwrap();
        module
            .run(&ExecutionConfig::default(), Stdio::null())
            .outcome
    }

    /// Compiled code would overflow the SDK's fiber stack and take the process down (a test
    /// that fails this way dies of SIGSEGV); the interpreter would grow without bound.
    #[test]
    fn a_recursion_without_end_is_stopped_by_the_stack_bound() {
        let shapes = [(0, "i64"), (8, "i64"), (100, "i64"), (32, "v128")];
        for runtime in [WasmEdge::AHEAD_OF_TIME, WasmEdge::INTERPRETER] {
            for (locals, ty) in shapes {
                let outcome = run_module(runtime, &recursion(-1, locals, ty));
                match outcome {
                    Err(RunError::Trap { reason, .. }) => assert!(
                        reason.starts_with("call stack exhausted"),
                        "{} with {locals} {ty}: {reason}",
                        runtime.name()
                    ),
                    other => panic!("{} with {locals} {ty}: {other:?}", runtime.name()),
                }
            }
        }
    }

    #[test]
    fn calls_that_return_give_their_stack_back() {
        // Deep, but within the bound: 500 frames of the shape with 8 locals take about a
        // fifth of its estimate.
        for runtime in [WasmEdge::AHEAD_OF_TIME, WasmEdge::INTERPRETER] {
            assert_eq!(
                run_module(runtime, &recursion(500, 8, "i64")).unwrap(),
                ExitCode::SUCCESS
            );
        }
        // A million calls one after another, directly and through a table, add up to nothing.
        let wasm = wat::parse_str(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (table 1 funcref)
                 (elem (i32.const 0) $leaf)
                 (func $leaf (result i32) (i32.const 1))
                 (func $middle (result i32) (i32.add (call $leaf) (call_indirect (result i32) (i32.const 0))))
                 (func (export "_start") (local $i i32) (local $sum i32)
                   (loop $again
                     (local.set $sum (i32.add (local.get $sum) (call $middle)))
                     (local.set $i (i32.add (local.get $i) (i32.const 1)))
                     (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))
                   (call $exit (i32.ne (local.get $sum) (i32.const 2000000)))))"#,
        )
        .unwrap();
        for runtime in [WasmEdge::AHEAD_OF_TIME, WasmEdge::INTERPRETER] {
            assert_eq!(run_module(runtime, &wasm).unwrap(), ExitCode::SUCCESS);
        }
    }

    #[test]
    fn imports_outside_wasi_are_refused() {
        let wasm = wat::parse_str(r#"(module (import "env" "f" (func)) (func (export "_start")))"#)
            .unwrap();
        let error = WasmEdge::INTERPRETER.compile(&wasm).unwrap_err();
        assert!(
            matches!(error, CompileError::UnsatisfiedImport { .. }),
            "{error}"
        );
    }
}
