//! `WasmPreinit` with wasmtime's Wizer: the module's init runs once under wasmtime, and Wizer
//! writes the memory and globals it leaves into a new core module, which any runtime runs.
//!
//! The init runs in a forked process ([`runtime_api::forked`]): it is guest code run while
//! Apache's parent reads its configuration, and neither its engine, its threads (tokio's
//! blocking pool, for file calls) nor a crash may stay behind in the parent. Its time limit is
//! the process's alarm, which ends it wherever it waits.

use crate::{wasi_builder, MemoryLimiter};
use runtime_api::forked::Failure;
use runtime_api::{
    Access, EntryPoint, ExecutionConfig, InitConfig, OutputBuffer, PreinitError, Preopen, RunAs,
    Stdio,
};
use wasmtime::{Config, Engine, Instance, Linker, Module, Store, Val};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::I32Exit;
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// Pre-initialises modules with wasmtime's Wizer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Preinitializer;

/// How much of what the init writes to stdout and stderr is kept, to show when it fails.
const OUTPUT_KEPT: usize = 4096;

impl runtime_api::Preinitializer for Preinitializer {
    fn version(&self) -> String {
        format!("wasmtime-wizer {}", wasmtime_environ::VERSION)
    }

    fn preinitialize(
        &self,
        wasm: &[u8],
        init: &InitConfig,
        run_as: Option<RunAs>,
    ) -> Result<Vec<u8>, PreinitError> {
        let export = init.export.find_in(wasm)?;
        let as_user = || match run_as {
            Some(user) => runtime_api::forked::become_user(user).map_err(|e| {
                format!(
                    "cannot run it as the user that serves requests (uid {}, gid {}): {e}",
                    user.uid, user.gid
                )
            }),
            None => Ok(()),
        };
        let work = || as_user().and_then(|()| snapshot(wasm, &export, init));
        runtime_api::forked::output(work).map_err(|failure| {
            PreinitError::new(match failure {
                Failure::Gave(reason) => reason,
                Failure::Signalled(libc::SIGALRM) => format!(
                    "{export} did not finish within {} (the location's WasmTimeout)",
                    runtime_api::error::seconds(init.limits.timeout)
                ),
                failure => format!("{export} could not be run: {failure}"),
            })
        })
    }
}

/// What the init's store holds.
struct InitState {
    wasi: WasiP1Ctx,
    memory: MemoryLimiter,
}

/// Runs `export` of `wasm` as `init` grants and snapshots the instance; in the forked process.
fn snapshot(wasm: &[u8], export: &str, init: &InitConfig) -> Result<Vec<u8>, String> {
    let seconds = init.limits.timeout.as_secs_f64().ceil() as u32;
    // SAFETY: alarm only schedules SIGALRM, whose default action ends this process: the
    // forked process that does nothing but this.
    unsafe { libc::alarm(seconds.max(1)) };
    let mut wizer = Wizer::new();
    wizer.init_func(export);
    let (context, instrumented) = wizer
        .instrument(wasm)
        .map_err(|e| format!("cannot prepare the module: {e:#}"))?;
    let engine = Engine::new(&Config::new()).map_err(|e| format!("{e:#}"))?;
    let module = Module::new(&engine, &instrumented)
        .map_err(|e| format!("cannot compile the module: {e:#}"))?;
    let mut linker = Linker::new(&engine);
    p1::add_to_linker_async(&mut linker, |state: &mut InitState| &mut state.wasi)
        .map_err(|e| format!("cannot link WASI: {e:#}"))?;
    // Another ABI's functions (WASIX's, WasmEdge's sockets) are there for the runs; the init
    // has WASI preview1 alone, and fails if it calls one of them.
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| format!("cannot link the module: {e:#}"))?;
    let output = OutputBuffer::dropping_beyond(OUTPUT_KEPT);
    let stdio = Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(output.clone()),
        stderr: Box::new(output.clone()),
    };
    let wasi = wasi_builder(&read_only(init), stdio)
        .map_err(|e| e.to_string())?
        .build_p1();
    let mut store = Store::new(
        &engine,
        InitState {
            wasi,
            memory: MemoryLimiter {
                limit: init.limits.memory,
                refused: None,
            },
        },
    );
    store.limiter(|state| &mut state.memory);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    tokio.block_on(async {
        let instance = linker
            .instantiate_async(&mut store, &module)
            .await
            .map_err(|e| format!("cannot instantiate the module: {e:#}"))?;
        // A reactor's own initialisation (wasi-libc's constructors) comes first.
        let mut calls = Vec::new();
        if export != "_initialize" && instance.get_func(&mut store, "_initialize").is_some() {
            calls.push("_initialize");
        }
        calls.push(export);
        for name in calls {
            let func = instance
                .get_typed_func::<(), ()>(&mut store, name)
                .map_err(|e| format!("{name}: {e:#}"))?;
            if let Err(e) = func.call_async(&mut store, ()).await {
                let mut reason = match e.downcast_ref::<I32Exit>() {
                    Some(exit) => format!("{name} exited with status {}", exit.0),
                    None => format!("{name} failed: {}", crate::trap(&e)),
                };
                if let Some(refused) = store.data().memory.refused {
                    reason.push_str(&format!(" (after {refused})"));
                }
                let said = String::from_utf8_lossy(&output.take()).trim().to_owned();
                if !said.is_empty() {
                    reason.push_str(&format!("; it wrote: {said}"));
                }
                return Err(reason);
            }
        }
        wizer
            .snapshot(
                &context,
                &mut Snapshotted {
                    store: &mut store,
                    instance,
                },
            )
            .await
            .map_err(|e| format!("cannot snapshot the initialised module: {e:#}"))
    })
}

/// What a run would get, with every directory read-only and no connection.
fn read_only(init: &InitConfig) -> ExecutionConfig {
    ExecutionConfig {
        args: init.args.clone(),
        env: init.env.clone(),
        preopens: init
            .dirs
            .iter()
            .map(|(guest, host)| Preopen {
                guest: guest.clone(),
                host: host.clone(),
                access: Access::ReadOnly,
            })
            .collect(),
        entry_point: EntryPoint::default(),
        connect: Default::default(),
        limits: init.limits,
        reuse: Default::default(),
    }
}

/// The instance after its init, as Wizer reads it.
struct Snapshotted<'a> {
    store: &'a mut Store<InitState>,
    instance: Instance,
}

impl InstanceState for Snapshotted<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        // Wizer asks only for what its instrumentation exported.
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("Wizer's instrumentation exports every global");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            _ => panic!("a global of a reference type, which Wizer refuses to snapshot"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("Wizer's instrumentation exports every memory");
        contents(memory.data(&*self.store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_api::{InitExport, Limits, Preinitializer as _};

    fn init(export: InitExport) -> InitConfig {
        InitConfig {
            export,
            args: vec!["app.wasm".into()],
            env: Vec::new(),
            dirs: Vec::new(),
            limits: Limits::DEFAULT,
        }
    }

    /// A module whose init stores 42 in its memory and its global, unless it calls the socket
    /// function it imports from another ABI first.
    const MODULE: &str = r#"(module
        (import "wasmedge_wasi_socket" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (global $g (mut i32) (i32.const 0))
        (func (export "wizer-initialize")
            (i32.store (i32.const 16) (i32.const 42))
            (global.set $g (i32.const 42)))
        (func (export "connect-first")
            (drop (call $sock_open (i32.const 0) (i32.const 0) (i32.const 0))))
        (func (export "_start")))"#;

    #[test]
    fn the_snapshot_starts_where_the_init_left_and_has_no_init() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let snapshot = Preinitializer
            .preinitialize(&wasm, &init(InitExport::Conventional), None)
            .unwrap();
        let exports = runtime_api::component::core_function_exports(&snapshot).unwrap();
        assert!(
            !exports.contains(&"wizer-initialize".to_owned()),
            "{exports:?}"
        );
        // The stored value is now the module's own data.
        let data = wasmparser::Parser::new(0)
            .parse_all(&snapshot)
            .filter_map(Result::ok)
            .any(|payload| matches!(payload, wasmparser::Payload::DataSection(_)));
        assert!(data, "no data segment in the snapshot");
    }

    #[test]
    fn an_init_cannot_use_another_abis_functions() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let err = Preinitializer
            .preinitialize(
                &wasm,
                &init(InitExport::Named("connect-first".into())),
                None,
            )
            .unwrap_err();
        assert!(err.reason.starts_with("connect-first failed"), "{err}");
        assert!(err.reason.contains("sock_open"), "{err}");
    }
}
