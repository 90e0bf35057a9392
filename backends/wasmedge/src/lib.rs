//! mod_wasm's runtime backend on [WasmEdge](https://wasmedge.org): WASI preview1 through
//! WasmEdge's Rust WASI (`async-wasi`), whose standard streams and directories are set per
//! request instead of being the process's own, with WasmEdge's socket extensions.
//!
//! Two runtimes share this crate: `wasmedge` runs code compiled ahead of time by WasmEdge's
//! LLVM compiler, `wasmedge-interpreter` runs the same module in WasmEdge's interpreter.

mod aot;
mod fs;

use runtime_api::{
    Capabilities, CompileError, ExecutionConfig, ExitCode, LoadError, LoadedModule, Precompiled,
    RunError, Runtime, SharedReader, SharedWriter, Stdio,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use wasmedge_sdk::config::{CommonConfigOptions, CompilerConfigOptions, ConfigBuilder};
use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
use wasmedge_sdk::r#async::vm::Vm;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::virtual_sys::StdioSys;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::env::VFS;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::{config::Config, Module, Store};

/// The only import namespace WasmEdge's Rust WASI provides (its socket extensions included).
const WASI_NAMESPACE: &str = "wasi_snapshot_preview1";

/// WasmEdge's socket extensions that reach the network: creating a socket and resolving names.
/// Every other socket function needs a socket one of these made. async-wasi grants them to every
/// guest, so a module that imports them is refused until a location can grant connections.
const NETWORK_EXTENSIONS: [&str; 2] = ["sock_open", "sock_getaddrinfo"];

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
        let common =
            CommonConfigOptions::default().interpreter_mode(self.mode == Mode::Interpreter);
        ConfigBuilder::new(common)
            .with_compiler_config(CompilerConfigOptions::default())
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

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
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
            if NETWORK_EXTENSIONS.contains(&function.as_ref()) {
                return Err(CompileError::NotGranted {
                    runtime: name,
                    module: namespace.into_owned(),
                    name: function.into_owned(),
                    capability: "network access",
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
            config,
            module,
            tokio,
        }))
    }
}

struct WasmEdgeModule {
    runtime: &'static str,
    config: Config,
    module: Module,
    tokio: &'static tokio::runtime::Runtime,
}

impl WasmEdgeModule {
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
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> Result<ExitCode, RunError> {
        let runtime = self.runtime;
        let instantiate_error = |e: Box<WasmEdgeError>| RunError::Instantiate {
            runtime,
            reason: e.to_string(),
        };
        let _tokio = self.tokio.enter();
        let wasi = self.wasi_context(config, stdio)?;
        let mut wasi =
            AsyncWasiModule::create_from_wasi_context(wasi).map_err(instantiate_error)?;
        let outcome = {
            let wasi_name = wasi.name().to_string();
            let mut instances = HashMap::new();
            instances.insert(wasi_name, wasi.as_mut());
            let store = Store::new(Some(&self.config), instances).map_err(instantiate_error)?;
            let mut vm = Vm::new(store);
            vm.register_module(None, self.module.clone())
                .map_err(instantiate_error)?;
            let entry_point = config.entry_point.as_str();
            self.tokio.block_on(vm.run_func(None, entry_point, []))
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
    fn modules_that_open_sockets_or_resolve_names_are_refused() {
        let runtime = WasmEdge::INTERPRETER;
        for (function, params) in [
            ("sock_open", "(param i32 i32 i32)"),
            (
                "sock_getaddrinfo",
                "(param i32 i32 i32 i32 i32 i32 i32 i32)",
            ),
        ] {
            let error = runtime
                .compile(&module_importing(function, params))
                .unwrap_err();
            assert!(
                matches!(&error, CompileError::NotGranted { name, .. } if name == function),
                "{error}"
            );
        }
        // Plain WASI is fine.
        runtime
            .compile(&module_importing("fd_write", "(param i32 i32 i32 i32)"))
            .unwrap();
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
