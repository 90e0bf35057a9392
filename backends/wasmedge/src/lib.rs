//! mod_wasm's runtime backend on [WasmEdge](https://wasmedge.org): WASI preview1 through
//! WasmEdge's Rust WASI (`async-wasi`), whose standard streams and directories are set per
//! request instead of being the process's own, with WasmEdge's socket extensions limited to
//! the connections a location grants (see [`net`]).
//!
//! Two runtimes share this crate: `wasmedge` runs code compiled ahead of time by WasmEdge's
//! LLVM compiler, `wasmedge-interpreter` runs the same module in WasmEdge's interpreter.

mod aot;
mod fs;
mod net;

use runtime_api::signals::Unblocked;
use runtime_api::{
    Abi, Capabilities, CompileError, ConnectGuard, ExecutionConfig, ExitCode, LoadError,
    LoadedModule, MemorySize, Precompiled, RunError, RunReport, Runtime, SharedReader,
    SharedWriter, Stdio,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use wasmedge_sdk::config::{
    CommonConfigOptions, CompilerConfigOptions, ConfigBuilder, RuntimeConfigOptions,
};
use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
use wasmedge_sdk::r#async::vm::Vm;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::virtual_sys::StdioSys;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::env::VFS;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::{config::Config, Module, Store};

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
            .with_compiler_config(CompilerConfigOptions::default())
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

/// The tokio runtime WasmEdge's asynchronous host functions need, created in the process that
/// runs requests.
static TOKIO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

fn tokio_runtime(runtime: &'static str) -> Result<&'static tokio::runtime::Runtime, LoadError> {
    if let Some(tokio) = TOKIO.get() {
        return Ok(tokio);
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(16)
        .thread_name("mod_wasm-wasmedge")
        .enable_time()
        // async-wasi's sockets register with tokio's reactor.
        .enable_io()
        .build()
        .map_err(|e| LoadError::Engine {
            runtime,
            reason: format!("cannot start the tokio runtime WasmEdge's WASI needs: {e}"),
        })?;
    Ok(TOKIO.get_or_init(|| tokio))
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
    /// only used by the same version) and on the compiler settings, which are the defaults.
    /// The interpreter keeps the module as it is: nothing worth caching.
    fn artifact_key(&self) -> Option<String> {
        match self.mode {
            Mode::AheadOfTime => Some(format!(
                "WasmEdge {} AOT universal-wasm default-options",
                wasmedge_sdk::utils::CoreVersion::version_string()
            )),
            Mode::Interpreter => None,
        }
    }

    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
        quiet();
        let name = self.name();
        let engine_error = |reason| CompileError::Engine {
            runtime: name,
            reason,
        };
        let config = self.config().map_err(engine_error)?;
        let module =
            Module::from_bytes(Some(&config), wasm).map_err(|e| CompileError::Invalid {
                runtime: name,
                reason: e.to_string(),
            })?;
        for import in module.imports() {
            let (namespace, function) = (import.module_name(), import.name());
            if namespace != WASI_NAMESPACE {
                return Err(CompileError::UnsatisfiedImport {
                    runtime: name,
                    module: namespace.into_owned(),
                    name: function.into_owned(),
                });
            }
        }
        match self.mode {
            Mode::Interpreter => Ok(Precompiled::new(name, wasm.to_vec())),
            Mode::AheadOfTime => aot::compile_in_subprocess(wasm, &config)
                .map(|bytes| Precompiled::new(name, bytes))
                .map_err(engine_error),
        }
    }

    fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
        let name = self.name();
        let bytes = precompiled.expect_runtime(name)?;
        let engine_error = |reason| LoadError::Engine {
            runtime: name,
            reason,
        };
        quiet();
        let tokio = tokio_runtime(name)?;
        let config = self.config().map_err(engine_error)?;
        let module = Module::from_bytes(Some(&config), bytes)
            .map_err(|e| engine_error(format!("cannot load compiled code: {e}")))?;
        Ok(Arc::new(WasmEdgeModule {
            runtime: name,
            mode: self.mode,
            module,
            tokio,
            configs: Mutex::default(),
        }))
    }
}

struct WasmEdgeModule {
    runtime: &'static str,
    mode: Mode,
    module: Module,
    tokio: &'static tokio::runtime::Runtime,
    /// The executors' configuration for each memory limit this module ran with: a location's
    /// limit is the same for all its requests, so it is built on the first one only.
    configs: Mutex<HashMap<u32, Arc<Config>>>,
}

impl WasmEdgeModule {
    /// The configuration whose executors let linear memory grow to `memory`.
    fn config_for(&self, memory: MemorySize) -> Result<Arc<Config>, String> {
        let mut configs = self.configs.lock().unwrap_or_else(|e| e.into_inner());
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
            reason: e.to_string(),
        };
        let _tokio = self.tokio.enter();
        // The executor of each run enforces its memory limit.
        let engine_config = self
            .config_for(config.limits.memory)
            .map_err(|reason| RunError::Instantiate { runtime, reason })?;
        let wasi = self.wasi_context(config, stdio)?;
        let mut wasi =
            AsyncWasiModule::create_from_wasi_context(wasi).map_err(instantiate_error)?;
        // Host data of the guarded socket functions in `wasi`; lives until the run is over.
        let _sockets = net::guard_sockets(&mut wasi, connections).map_err(instantiate_error)?;
        let outcome = {
            let wasi_name = wasi.name().to_string();
            let mut instances = HashMap::new();
            instances.insert(wasi_name, wasi.as_mut());
            let store = Store::new(Some(&*engine_config), instances).map_err(instantiate_error)?;
            let mut vm = Vm::new(store);
            vm.register_module(None, self.module.clone())
                .map_err(instantiate_error)?;
            // The SDK stops a run at its time limit with a real-time signal to this thread,
            // which Apache's threaded MPMs block in their worker threads.
            let _unblocked =
                Unblocked::new(libc::SIGRTMIN()).map_err(|e| RunError::Instantiate {
                    runtime,
                    reason: format!("cannot let the time limit's signal reach this thread: {e}"),
                })?;
            let entry_point = config.entry_point.as_str();
            self.tokio.block_on(vm.run_func_with_timeout(
                None,
                entry_point,
                [],
                config.limits.timeout,
            ))
        };
        match outcome {
            // async-wasi records `proc_exit`'s code and reports the exit as a normal return.
            Ok(results) if results.is_empty() => Ok(ExitCode(wasi.exit_code() as i32)),
            Ok(_) => Err(RunError::EntryPointSignature {
                runtime,
                entry_point: config.entry_point.clone(),
            }),
            Err(e) => match *e {
                WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated)) => {
                    Ok(ExitCode(wasi.exit_code() as i32))
                }
                WasmEdgeError::ExecuteTimeout => Err(RunError::TimedOut {
                    runtime,
                    limit: config.limits.timeout,
                }),
                WasmEdgeError::Instance(_) | WasmEdgeError::Vm(_) => {
                    Err(RunError::MissingEntryPoint {
                        runtime,
                        entry_point: config.entry_point.clone(),
                    })
                }
                other => Err(RunError::trap(runtime, other, [])),
            },
        }
    }
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

    fn run_with_grants(wasm: &[u8], grants: &[&str]) -> (ExitCode, Vec<runtime_api::Refusal>) {
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
        assert_eq!(refusals, [runtime_api::Refusal::Connect(peer)]);

        let other_port = format!("127.0.0.1:{}", port.wrapping_add(1).max(1));
        let (exit, _) = run_with_grants(&guest, &[&other_port]);
        assert_eq!(exit, ExitCode(EPERM), "a grant for another port");

        let granted = format!("127.0.0.1:{port}");
        let (exit, refusals) = run_with_grants(&guest, &[&granted]);
        assert_eq!(exit, ExitCode::SUCCESS);
        assert!(refusals.is_empty(), "{refusals:?}");
        listener.accept().expect("the granted connection arrived");
    }

    #[test]
    fn sockets_cannot_be_bound() {
        let (exit, refusals) = run_with_grants(&connecting_guest(8080, true), &["127.0.0.1:8080"]);
        assert_eq!(exit, ExitCode(ENOTSUP));
        assert!(
            matches!(refusals[..], [runtime_api::Refusal::Socket(_)]),
            "{refusals:?}"
        );
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
