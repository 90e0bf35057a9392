//! mod_wasm's runtime backend on [Wasmer](https://wasmer.io) with WASIX, a superset of WASI
//! preview1: plain preview1 guests run unchanged, WASIX guests (threads, sockets) run too.
//!
//! `compile` uses a throwaway engine and returns Wasmer's serialized code; `load` deserializes
//! it into the engine of the process that serves requests; `run` builds a fresh WASIX
//! environment per request, with only the WASI versions the module imports, instantiates the
//! module with a memory from the process's pool (see [`pool`]) and calls the entry point on
//! Apache's worker thread.
//!
//! Two kinds of process-wide state must not cross Apache's fork:
//! - Wasmer installs its trap handlers when the first `Store` is created, once per process and
//!   with no way to undo it. Apache installs its own fatal-signal handlers before forking, so a
//!   child that inherited "installed" would die on the first trap. `compile` therefore never
//!   creates a `Store`, only an `Engine`.
//! - Cranelift compiles on rayon thread pools, partly on rayon's global pool. A global pool
//!   started in the parent would be inherited by the children as threads that no longer exist,
//!   and the first compilation in a child would wait for them forever. `compile` runs inside a
//!   pool of its own that ends with it.
//!
//! The tokio runtime WASIX needs for host files and timers is created lazily by `load`, in the
//! child.

mod dircache;
mod fs;
mod hostdir;
mod memory;
mod net;
mod poll;
mod pool;
mod stdio;
mod stop;
mod watchdog;

use dircache::EntryCache;
use memory::{LimitingTunables, MemoryLimit};
use runtime_api::signals::Unblocked;
use runtime_api::{
    descriptor_path, Abi, Access, Capabilities, Cause, Code, CompileError, ConnectGuard,
    ExecutionConfig, ExitCode, LoadError, LoadedModule, Precompiled, RunError, RunReport, Runtime,
    Stdio,
};
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use stop::Stop;
use virtual_net::host::LocalNetworking;
use wasmer::sys::vm::TrapCode;
use wasmer::sys::{BaseTunables, Cranelift, NativeEngineExt};
use wasmer::{
    Engine, Extern, ExternType, Imports, Instance, Memory, MemoryType, Module, RuntimeError, Store,
};
use wasmer_types::ModuleHash;
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::runtime::OverriddenRuntime;
use wasmer_wasix::types::wasi::Errno;
use wasmer_wasix::{
    generate_import_object_from_env, get_wasi_versions, PluggableRuntime,
    UnsupportedVirtualNetworking, WasiEnv, WasiError, WasiFunctionEnv, WasiModuleInstanceHandles,
    WasiModuleTreeHandles, WasiVersion,
};
use watchdog::Watchdog;

const NAME: &str = "wasmer";

/// Wasmer's extensions to WASI preview1 (threads, sockets, `getcwd`, …), which guests built
/// for WASIX import; its sockets are how they connect.
const WASIX: Abi = Abi::new("wasix");

/// The import namespaces WASIX provides: the WASI versions and its own extensions.
const WASIX_NAMESPACES: [&str; 5] = [
    "wasi_snapshot_preview1",
    "wasi_unstable",
    "wasi",
    "wasix_32v1",
    "wasix_64v1",
];

/// WASIX functions that start threads or processes, which a module may not import. Wasmer runs
/// what they start on its own task pool, outside the run: the time limit would not stop it,
/// the memory limit is set on the run's instance only, and it could outlive the request.
const THREADS_AND_PROCESSES: [&str; 8] = [
    "thread_spawn",
    "thread_spawn_v2",
    "proc_fork",
    "proc_fork_env",
    "proc_exec",
    "proc_exec2",
    "proc_exec3",
    "proc_spawn",
];

/// The Wasmer runtime, registered as `wasmer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasmer;

/// The engine settings shared by compilation and loading: serialized code only loads into an
/// engine configured the same way.
fn engine() -> Engine {
    let mut cranelift = Cranelift::new();
    cranelift.num_threads(compile_threads());
    Engine::from(cranelift)
}

fn compile_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// What every request of this process shares. Created on first use by `load`, which only runs
/// in processes that serve requests.
struct Process {
    /// Its tunables limit each run's memories (see [`memory`]).
    engine: Engine,
    watchdog: &'static Watchdog,
    tokio: &'static tokio::runtime::Runtime,
    wasix: Arc<PluggableRuntime>,
    /// The host sockets granted connections use.
    host_network: Arc<LocalNetworking>,
}

static PROCESS: OnceLock<Process> = OnceLock::new();

fn process() -> Result<&'static Process, LoadError> {
    if let Some(process) = PROCESS.get() {
        return Ok(process);
    }
    // Host file I/O and WASIX timers run on the process's tokio runtime (see
    // `runtime_api::tokio_runtime`); guests run on Apache's worker threads.
    let tokio = runtime_api::tokio_runtime::process_runtime().map_err(|e| LoadError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot start the tokio runtime WASIX needs", e),
    })?;
    let mut engine = engine();
    let base = BaseTunables::for_target(engine.target());
    engine.set_tunables(LimitingTunables::new(base));
    let watchdog = Watchdog::of_process().map_err(|e| LoadError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot start the thread that times runs", e),
    })?;
    // WASIX's constructors find tokio through the current thread's context.
    let _tokio = tokio.enter();
    let mut wasix = PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));
    wasix
        .set_engine(engine.clone())
        // Each run gets networking limited to its grants (see `environment`).
        .set_networking_implementation(UnsupportedVirtualNetworking::default());
    let process = Process {
        engine,
        watchdog,
        wasix: Arc::new(wasix),
        host_network: Arc::new(LocalNetworking::new()),
        tokio,
    };
    Ok(PROCESS.get_or_init(|| process))
}

/// Compiles `wasm` and checks that every import is one WASIX can provide.
fn compile_with(engine: &Engine, wasm: &[u8]) -> Result<Precompiled, CompileError> {
    let module = Module::new(engine, wasm).map_err(|e| CompileError::Invalid {
        runtime: NAME,
        cause: Cause::new(e),
    })?;
    // Only namespaces are checked here: resolving names needs a `Store`, which must not exist
    // in the parent (see the crate docs). An unknown name in a WASIX namespace fails at
    // instantiation instead, with the same message.
    let unsatisfied = module.imports().find(|import| match import.ty() {
        // A shared memory is imported by threaded WASIX modules; WASIX creates it.
        ExternType::Memory(_) => false,
        _ => !WASIX_NAMESPACES.contains(&import.module()),
    });
    if let Some(import) = unsatisfied {
        return Err(CompileError::UnsatisfiedImport {
            runtime: NAME,
            module: import.module().to_owned(),
            name: import.name().to_owned(),
        });
    }
    // WASIX's own (`wasix_32v1::thread_spawn_v2`) and wasi-threads' (`wasi::thread-spawn`).
    let spawning = module.imports().find(|import| {
        let name = import.name().replace('-', "_");
        matches!(import.ty(), ExternType::Function(_))
            && THREADS_AND_PROCESSES.contains(&name.as_str())
    });
    if let Some(import) = spawning {
        return Err(CompileError::RefusedImport {
            runtime: NAME,
            module: import.module().to_owned(),
            name: import.name().to_owned(),
            why: "threads and processes a guest starts would escape its run's time and memory \
                  limits",
        });
    }
    let bytes = module.serialize().map_err(|e| CompileError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot serialize compiled code", e),
    })?;
    Ok(Precompiled::new(NAME, bytes.to_vec()))
}

impl Runtime for Wasmer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> String {
        format!(
            "Wasmer {} (WASIX {})",
            wasmer_types::VERSION,
            env!("WASMER_WASIX_VERSION")
        )
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none().with_outbound_sockets(WASIX)
    }

    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(compile_threads().get())
            .thread_name(|i| format!("mod_wasm-wasmer-compile-{i}"))
            .build()
            .map_err(|e| CompileError::Engine {
                runtime: NAME,
                cause: Cause::doing("cannot start compiler threads", e),
            })?;
        // Inside `install`, rayon work that would go to the global pool runs on this pool,
        // which is dropped (and its threads ended) when compilation is over.
        pool.install(|| compile_with(&engine(), wasm))
    }

    /// The watchdog, which stops runs at their time limit, stops them all at once.
    fn stop_runs(&self) {
        Watchdog::stop_all();
    }

    /// Compiled code depends on Wasmer's version, the compiler and its settings, and the
    /// target it was compiled for, the CPU features included.
    fn artifact_key(&self) -> Option<String> {
        let engine = engine();
        let target = engine.target();
        Some(format!(
            "{} {} {} {:?}",
            self.version(),
            engine.deterministic_id(),
            target.triple(),
            target.cpu_features()
        ))
    }

    fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
        let code = precompiled.code(NAME)?;
        let process = process()?;
        // What makes loading the code below sound: it was produced by `Module::serialize` in
        // `compile` above, by Wasmer of the same version with the same engine configuration for
        // this target, in this server or in an earlier one through the cache (`artifact_key`),
        // whose directory only the server writes and whose entries are checked against their
        // checksum; it never comes from outside. A file is the very one whose bytes were
        // checked (`Precompiled::code`).
        let module = match code {
            // Wasmer copies the machine code into memory of its own, but keeps the rest of the
            // artifact where it is: mapped from the file, shared by the children.
            // SAFETY: see above.
            Code::File(file) => unsafe {
                Module::deserialize_from_file(&process.engine, descriptor_path(&file))
            },
            // SAFETY: see above.
            Code::Bytes(bytes) => unsafe { Module::deserialize(&process.engine, bytes.to_vec()) },
        }
        .map_err(|e| LoadError::Engine {
            runtime: NAME,
            cause: Cause::doing("cannot load compiled code", e),
        })?;
        let dynamically_linked = module.custom_sections("dylink.0").next().is_some();
        let wasi_versions = get_wasi_versions(&module, false)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let imported_memory = module.imports().find_map(|import| match import.ty() {
            ExternType::Memory(ty) => Some(*ty),
            _ => None,
        });
        Ok(Arc::new(WasmerModule {
            dynamically_linked,
            wasi_versions,
            imported_memory,
            module,
            hash: ModuleHash::new(precompiled.bytes()),
            process,
        }))
    }
}

/// The trap `error` describes, with the guest functions on its stack.
fn trap(error: &RuntimeError) -> RunError {
    let frames = error
        .trace()
        .iter()
        .filter_map(|frame| frame.function_name());
    RunError::trap(NAME, error.message(), frames)
}

/// A compiled module in this process's engine.
struct WasmerModule {
    module: Module,
    /// Identifies the module to WASIX (its module caches and journals); computed once.
    hash: ModuleHash,
    /// A module with a `dylink.0` section is linked by WASIX (see [`Self::instantiate`]).
    dynamically_linked: bool,
    /// The WASI and WASIX versions whose functions the module imports.
    wasi_versions: Vec<WasiVersion>,
    /// The memory the module imports, which each instance is given a new one of.
    imported_memory: Option<MemoryType>,
    process: &'static Process,
}

impl WasmerModule {
    /// The WASIX environment of one run, whose networking goes through `connections` and
    /// ends its waits at `stop`.
    fn environment(
        &self,
        config: &ExecutionConfig,
        stdio: Stdio,
        connections: ConnectGuard,
        stop: &Arc<Stop>,
    ) -> Result<wasmer_wasix::WasiEnvBuilder, RunError> {
        let filesystem =
            fs::guest_filesystem(&config.preopens, self.process.tokio.handle().clone())
                .map_err(|(preopen, e)| RunError::preopen(NAME, preopen, e))?;
        let (argv0, args) = config
            .args
            .split_first()
            .map_or(("", &[][..]), |(first, rest)| (first.as_str(), rest));
        let mut builder = WasiEnv::builder(argv0)
            .args(args)
            .envs(config.env.iter().map(|(name, value)| (name, value)))
            .stdin(Box::new(stdio::ReaderFile::new(stdio.stdin)))
            .stdout(Box::new(stdio::WriterFile::new(stdio.stdout)))
            .stderr(Box::new(stdio::WriterFile::new(stdio.stderr)))
            .mount_fs(filesystem)
            .runtime(Arc::new(
                OverriddenRuntime::new(self.process.wasix.clone()).with_networking(Arc::new(
                    net::GrantedNetworking::new(
                        self.process.host_network.clone(),
                        connections,
                        stop.clone(),
                    ),
                )),
            ));
        for preopen in &config.preopens {
            let writable = preopen.access == Access::ReadWrite;
            builder
                .add_preopen_build(|p| {
                    p.directory(preopen.guest.as_str())
                        .alias(preopen.guest.as_str())
                        .read(true)
                        .write(writable)
                        .create(writable)
                })
                .map_err(|e| RunError::preopen(NAME, preopen, e))?;
        }
        Ok(builder)
    }
}

impl LoadedModule for WasmerModule {
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport {
        let memory = MemoryLimit::new(config.limits.memory);
        let mut report = config
            .connect
            .guarded(|connections| self.call(config, stdio, connections, &memory));
        report.refused_growth = memory.refused();
        report
    }
}

impl WasmerModule {
    /// Instantiates the module in a new WASIX environment.
    ///
    /// WASIX's own `instantiate_ext` defines every function of every WASI and WASIX version for
    /// each instance, about 450 host functions, which was most of a run's time. Here a module
    /// is given only the versions it imports (found when it is loaded), and
    /// otherwise set up as WASIX would: its memory, when it imports one (threaded WASIX
    /// modules), is created for it and becomes the environment's. `_initialize` is left to
    /// [`Self::call`], which runs it within the time limit. Dynamically linked modules are
    /// left to WASIX's linker, which also runs their `_initialize`.
    fn instantiate(
        &self,
        builder: wasmer_wasix::WasiEnvBuilder,
        store: &mut Store,
        entries: &EntryCache,
    ) -> Result<(Instance, WasiFunctionEnv), RunError> {
        let instantiate_error = |cause| RunError::Instantiate {
            runtime: NAME,
            cause,
        };
        if self.dynamically_linked {
            return builder
                .instantiate_ext(self.module.clone(), self.hash, store)
                .map_err(|e| instantiate_error(Cause::new(e)));
        }
        let mut builder = builder;
        builder.set_module_hash(self.hash);
        let mut wasi = builder
            .finalize(store)
            .map_err(|e| instantiate_error(Cause::new(e)))?;
        let instantiated = self.instantiate_in(&mut wasi, store, entries);
        if instantiated.is_err() {
            // Ends the WASIX process that `finalize` started.
            wasi.on_exit(store, Some(Errno::Noexec.into()));
        }
        instantiated
            .map(|instance| (instance, wasi))
            .map_err(instantiate_error)
    }

    fn instantiate_in(
        &self,
        wasi: &mut WasiFunctionEnv,
        store: &mut Store,
        entries: &EntryCache,
    ) -> Result<Instance, Cause> {
        // Nearly every module imports one version; more are merged into the first.
        let mut versions = self.wasi_versions.iter();
        let mut imports = match versions.next() {
            Some(first) => generate_import_object_from_env(store, &wasi.env, *first),
            None => Imports::new(),
        };
        for version in versions {
            imports.extend(&generate_import_object_from_env(store, &wasi.env, *version));
        }
        poll::correct_zero_timeouts(store, &wasi.env, &mut imports);
        dircache::correct_stale_entries(store, &wasi.env, &mut imports, entries);
        let imported_memory = match self.imported_memory {
            Some(ty) => {
                let memory = Memory::new(store, ty).map_err(Cause::new)?;
                imports.define("env", "memory", memory.clone());
                Some(memory)
            }
            None => None,
        };
        let instance = Instance::new(store, &self.module, &imports).map_err(Cause::new)?;
        let memory = match imported_memory {
            Some(memory) => memory,
            None => instance
                .exports
                .iter()
                .find_map(|(_, export)| match export {
                    Extern::Memory(memory) => Some(memory.clone()),
                    _ => None,
                })
                .ok_or_else(|| Cause::new("the module neither imports nor exports a memory"))?,
        };
        let handles = WasiModuleTreeHandles::Static(WasiModuleInstanceHandles::new(
            memory,
            store,
            instance.clone(),
            None,
        ));
        wasi.initialize_handles_and_layout(store, instance.clone(), handles, None, true)
            .map_err(Cause::new)?;
        Ok(instance)
    }

    fn call(
        &self,
        config: &ExecutionConfig,
        stdio: Stdio,
        connections: ConnectGuard,
        memory: &MemoryLimit,
    ) -> Result<ExitCode, RunError> {
        let started = Instant::now();
        // WASIX's host files and timers find tokio through the current thread's context.
        let _tokio = self.process.tokio.enter();
        let stop = Stop::new();
        let entries = EntryCache::default();
        let builder = entries.watch(self.environment(config, stdio, connections, &stop)?);
        let mut store = Store::new(self.process.engine.clone());
        let (instance, wasi) = {
            let _limited = memory.enter();
            self.instantiate(builder, &mut store, &entries)
        }?;
        let entry_point = &config.entry_point;
        let func = instance
            .exports
            .get_function(entry_point.as_str())
            .map_err(|_| RunError::MissingEntryPoint {
                runtime: NAME,
                entry_point: entry_point.clone(),
            })?;
        let ty = func.ty(&store);
        if !ty.params().is_empty() || !ty.results().is_empty() {
            return Err(RunError::EntryPointSignature {
                runtime: NAME,
                entry_point: entry_point.clone(),
            });
        }
        // The watchdog interrupts the store with a signal, which Apache's threaded MPMs block
        // in their worker threads.
        let unblocked = Unblocked::new(libc::SIGUSR1).map_err(|e| {
            RunError::instantiate(
                NAME,
                "cannot let the time limit's signal reach this thread",
                e,
            )
        })?;
        let watch = self.process.watchdog.watch(
            started + config.limits.timeout,
            store.interrupter(),
            wasi.data(&store).thread.clone(),
            stop,
        );
        // A reactor's `_initialize` runs before its entry point, as WASIX would run it.
        let initialize = instance
            .exports
            .get_function("_initialize")
            .ok()
            .filter(|_| !self.dynamically_linked);
        let called = match initialize {
            Some(initialize) => initialize.call(&mut store, &[]),
            None => Ok(Box::default()),
        }
        .and_then(|_| func.call(&mut store, &[]));
        let stopped = watch.fired();
        drop(watch);
        drop(unblocked);
        let outcome = match called {
            // Ended by the watchdog, in its code or in a wait (as an exit).
            _ if stopped => Err(RunError::interrupted(NAME, &config.limits)),
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(error) => match error.downcast::<WasiError>() {
                Ok(WasiError::Exit(code)) => Ok(ExitCode(code.raw())),
                Ok(other) => Err(RunError::Trap {
                    runtime: NAME,
                    reason: other.to_string(),
                }),
                Err(error) if error.clone().to_trap() == Some(TrapCode::HostInterrupt) => {
                    Err(RunError::interrupted(NAME, &config.limits))
                }
                Err(error) => Err(trap(&error)),
            },
        };
        // Ends the WASIX process: closes its files and wakes anything waiting on it.
        let exit_code = match &outcome {
            Ok(code) => code.0,
            Err(_) => 1,
        };
        wasi.on_exit(&mut store, Some(exit_code.into()));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(wat: &str) -> Arc<dyn LoadedModule> {
        let wasm = wat::parse_str(wat).unwrap();
        Wasmer.load(&Wasmer.compile(&wasm).unwrap()).unwrap()
    }

    fn run(module: &dyn LoadedModule) -> Result<ExitCode, RunError> {
        module
            .run(&ExecutionConfig::default(), Stdio::null())
            .outcome
    }

    /// A guest may not start threads or processes: Wasmer would run them outside its run.
    #[test]
    fn a_module_that_starts_threads_or_processes_is_refused() {
        for (namespace, name, params) in [
            ("wasix_32v1", "thread_spawn_v2", "i32 i32"),
            ("wasix_32v1", "proc_fork", "i32 i32"),
            ("wasi", "thread-spawn", "i32"),
        ] {
            let wasm = wat::parse_str(format!(
                r#"(module
                     (import "{namespace}" "{name}" (func (param {params}) (result i32)))
                     (memory (export "memory") 1)
                     (func (export "_start")))"#
            ))
            .unwrap();
            let refused = Wasmer.compile(&wasm).map(|_| ()).unwrap_err().to_string();
            assert_eq!(
                refused,
                format!(
                    "wasmer: the module imports '{namespace}::{name}', which mod_wasm refuses: \
                     threads and processes a guest starts would escape its run's time and \
                     memory limits"
                )
            );
        }
        // Asking for the current thread's id starts nothing.
        let wasm = wat::parse_str(
            r#"(module
                 (import "wasix_32v1" "thread_id" (func (param i32) (result i32)))
                 (memory (export "memory") 1)
                 (func (export "_start")))"#,
        )
        .unwrap();
        assert!(Wasmer.compile(&wasm).is_ok());
    }

    /// A reactor's `_initialize` runs before its entry point, within the run's time limit.
    #[test]
    fn a_reactor_is_initialized_within_the_time_limit() {
        let reactor = |initialize: &str| {
            load(&format!(
                r#"(module
                     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                     (memory (export "memory") 1)
                     (global $ready (mut i32) (i32.const 0))
                     (func (export "_initialize") {initialize} (global.set $ready (i32.const 1)))
                     (func (export "entry") (call $exit (i32.sub (i32.const 1) (global.get $ready)))))"#
            ))
        };
        let config = ExecutionConfig {
            entry_point: runtime_api::EntryPoint::new("entry"),
            limits: runtime_api::Limits {
                timeout: std::time::Duration::from_millis(200),
                ..Default::default()
            },
            ..Default::default()
        };
        let initialized = reactor("").run(&config, Stdio::null()).outcome;
        assert_eq!(initialized.unwrap(), ExitCode::SUCCESS);
        let looping = reactor("(loop $forever (br $forever))")
            .run(&config, Stdio::null())
            .outcome;
        assert!(
            matches!(looping, Err(RunError::TimedOut { .. })),
            "{looping:?}"
        );
    }

    /// Memories come from a pool (see `pool`): one a run wrote and grew is zeroed for the next,
    /// and what lies past the next one's size is out of bounds again.
    #[test]
    fn a_pooled_memory_is_new_to_the_next_run() {
        let exit = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;
        let writer = load(&format!(
            r#"(module {exit}
                 (memory (export "memory") 1)
                 (func (export "_start")
                   (drop (memory.grow (i32.const 3)))
                   (i32.store (i32.const 0) (i32.const 7))
                   (i32.store (i32.const 196608) (i32.const 7))))"#
        ));
        let reader = load(&format!(
            r#"(module {exit}
                 (memory (export "memory") 4)
                 (func (export "_start")
                   (call $exit (i32.or (i32.load (i32.const 0)) (i32.load (i32.const 196608))))))"#
        ));
        let smaller = load(
            r#"(module
                 (memory (export "memory") 1)
                 (func (export "_start") (drop (i32.load (i32.const 196608)))))"#,
        );
        // Other tests run at the same time and may take the slot; every round gives the
        // pool another chance to hand it on.
        for _ in 0..20 {
            assert_eq!(run(&*writer).unwrap(), ExitCode::SUCCESS);
            assert_eq!(run(&*reader).unwrap(), ExitCode::SUCCESS, "left over");
            assert_eq!(run(&*writer).unwrap(), ExitCode::SUCCESS);
            let error = run(&*smaller).unwrap_err();
            assert!(error.to_string().contains("out of bounds"), "{error}");
        }
    }
}
