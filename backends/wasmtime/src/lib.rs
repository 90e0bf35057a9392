//! mod_wasm's runtime backend on [wasmtime](https://wasmtime.dev): core modules with WASI
//! preview1, and WASI 0.2 components ([`component`]).
//!
//! `compile` uses a throwaway engine and returns wasmtime's serialized code; `load` deserializes
//! it into the process-wide engine (created lazily in the process that runs requests) and
//! pre-links it against WASI, so a request only instantiates. Compiled code can be kept on
//! disk between server starts (see `artifact_key`).

mod component;
mod preinit;
mod stdio;

pub use preinit::Preinitializer;

use runtime_api::{
    Access, Capabilities, Cause, Code, CompileError, ExecutionConfig, ExitCode, LoadError,
    LoadedModule, MemorySize, Precompiled, RefusedGrowth, RunError, RunReport, Runtime, Stdio,
};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

const NAME: &str = "wasmtime";

/// The wasmtime runtime, registered as `wasmtime`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasmtime;

/// The engine settings shared by compilation and loading: serialized code only loads into an
/// engine configured the same way.
///
/// Compilation happens in the Apache parent, which forks afterwards; parallel compilation
/// would start a thread pool there that forked children inherit as dead threads. The workspace
/// therefore builds wasmtime without its `parallel-compilation` feature.
///
/// Every request instantiates, so instances come from wasmtime's pooling allocator: a child
/// reserves its slots (linear memories, tables) once and resets a slot when an instance is
/// dropped. Mapping and unmapping a fresh memory per request instead takes the process's
/// memory-map lock for writing and makes the kernel flush the TLBs of every core running the
/// child's other threads, which serialised concurrent requests. The pool holds
/// [`POOLED_INSTANCES`] instances at a time per child, more than Apache runs threads in a child
/// unless `ThreadLimit` is raised past it; an instantiation beyond that fails with an error.
///
/// Compiled code checks the engine's epoch at function entries and loop headers, so a run can
/// be stopped at its time limit (see [`EPOCH_TICK`]).
fn engine_config() -> Config {
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_core_instances(POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(POOLED_INSTANCES)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
        .epoch_interruption(true);
    config
}

/// How often the process's engine advances its epoch: how late after its time limit a guest
/// may be stopped, at most. One thread per process ticks for every run; a timer per run would
/// cost a thread or a signal per request.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How much of a dropped instance's memory is reset in place rather than given back to the
/// kernel. Giving pages back (`madvise`) flushes the TLBs of every core running one of the
/// child's threads. With Linux's `PAGEMAP_SCAN` (6.7 and later) only the pages the guest wrote
/// are reset, up to this much; older kernels clear this much at the start of the memory.
const KEEP_RESIDENT: usize = 1 << 20;

/// Instances alive at once in one process, at most: Apache's largest `ThreadLimit` default
/// (the event MPM's, 64) with room to spare.
const POOLED_INSTANCES: u32 = 1000;

/// The engine of this process, created on first use. `load` is only called in processes that
/// serve requests, so the engine is never inherited across a fork.
static PROCESS_ENGINE: OnceLock<Engine> = OnceLock::new();

fn process_engine() -> Result<&'static Engine, LoadError> {
    if let Some(engine) = PROCESS_ENGINE.get() {
        return Ok(engine);
    }
    let engine = Engine::new(&engine_config()).map_err(|e| LoadError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot create the engine", e),
    })?;
    let engine = PROCESS_ENGINE.get_or_init(|| engine);
    start_epoch_ticker().map_err(|e| LoadError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot start the thread that times runs", e),
    })?;
    Ok(engine)
}

/// Starts the thread that advances the epoch of this process's engine, once per process. It
/// lives as long as the process; it is started in the process that serves requests, never
/// before a fork.
fn start_epoch_ticker() -> std::io::Result<()> {
    static TICKER: OnceLock<std::io::Result<()>> = OnceLock::new();
    let started = TICKER.get_or_init(|| {
        std::thread::Builder::new()
            .name("mod_wasm-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                if let Some(engine) = PROCESS_ENGINE.get() {
                    engine.increment_epoch();
                }
            })
            .map(drop)
    });
    match started {
        Ok(()) => Ok(()),
        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
    }
}

/// How often, in epoch ticks, a run checks whether the server is stopping (every 100 ms).
const STOP_CHECK_TICKS: u64 = 10;

/// A run's time: its deadline on the wall clock, checked every time the epoch passes the
/// store's deadline, at most [`STOP_CHECK_TICKS`] apart, when it also checks whether the
/// server is stopping. Time the guest spends waiting in host calls counts: the epoch is only
/// a reminder to look at the clock.
pub(crate) struct RunClock {
    pub(crate) deadline: Instant,
    /// Epoch ticks from now to the next check.
    pub(crate) step: u64,
}

impl RunClock {
    pub(crate) fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        let deadline = now + timeout;
        Self {
            deadline,
            step: ticks_until(deadline, now),
        }
    }

    /// At the end of a step: stop the run, or let it go on for the next step.
    pub(crate) fn step_over(&mut self) -> wasmtime::Result<UpdateDeadline> {
        if runtime_api::stopping::requested() {
            return Err(wasmtime::Error::new(ServerStopping));
        }
        let now = Instant::now();
        if now >= self.deadline {
            // Traps with `Trap::Interrupt`: the time limit.
            return Ok(UpdateDeadline::Interrupt);
        }
        self.step = ticks_until(self.deadline, now);
        Ok(UpdateDeadline::Continue(self.step))
    }
}

/// The epoch ticks from `now` to `deadline`, rounded up, between one and [`STOP_CHECK_TICKS`].
fn ticks_until(deadline: Instant, now: Instant) -> u64 {
    let left = deadline.saturating_duration_since(now).as_nanos();
    let ticks = left.div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks).map_or(STOP_CHECK_TICKS, |t| t.clamp(1, STOP_CHECK_TICKS))
}

/// The process's tokio runtime (see [`runtime_api::tokio_runtime`]), which drives runs whose
/// host calls are asynchronous: timers, and the connections of a handler's outgoing requests.
/// Runs are polled on the Apache worker thread (`block_on`); its blocking threads make
/// preview1's file calls.
fn tokio() -> Result<&'static tokio::runtime::Runtime, LoadError> {
    runtime_api::tokio_runtime::process_runtime().map_err(|e| LoadError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot start the tokio runtime runs need", e),
    })
}

/// Runs `run`, a run due to end by `deadline` (its store's clock's), to its end on this thread. A guest
/// computing is stopped by the epoch; one waiting in a host call (a sleep, `poll_oneoff`, an
/// outgoing request) is a pending future, which is dropped when its deadline passes or the
/// server stops.
pub(crate) fn block_on<T>(
    tokio: &tokio::runtime::Runtime,
    deadline: Instant,
    limits: &runtime_api::Limits,
    run: impl std::future::Future<Output = T>,
) -> Result<T, RunError> {
    use runtime_api::stopping::{cutoff, Cutoff};
    let _tokio = tokio.enter();
    tokio.block_on(async {
        tokio::select! {
            biased;
            ran = run => Ok(ran),
            cut = cutoff(deadline) => Err(match cut {
                Cutoff::Deadline => RunError::TimedOut {
                    runtime: NAME,
                    limit: limits.timeout,
                },
                Cutoff::Stopping => RunError::Stopped { runtime: NAME },
            }),
        }
    })
}

/// Why a run was ended by its clock although its time was not up.
#[derive(Debug)]
struct ServerStopping;

impl std::fmt::Display for ServerStopping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server is stopping")
    }
}

impl std::error::Error for ServerStopping {}

/// Runs `use_engine` with a throwaway engine configured as the process's engine is, which
/// compiling and computing the artifact key need; an error says why no engine could be made.
///
/// Called in the Apache parent. Creating an engine installs wasmtime's trap handlers for the
/// whole process and marks them installed. Apache installs its own fatal-signal handlers before
/// forking, and a child would inherit "installed" without the handlers, so a trap would kill
/// it. The installation is undone; the child's own engine installs them again, on top of
/// Apache's.
pub(crate) fn with_compiling_engine<T>(use_engine: impl FnOnce(&Engine) -> T) -> Result<T, Cause> {
    let engine =
        Engine::new(&engine_config()).map_err(|e| Cause::doing("cannot create the engine", e))?;
    let result = use_engine(&engine);
    if PROCESS_ENGINE.get().is_none() {
        // SAFETY: this engine and everything derived from it (module, linker) is dropped by
        // now and never ran code; compilation runs on Apache's configuration thread, so no
        // other handlers were installed since the engine was created; and this process has
        // no engine of its own that could be running wasm.
        unsafe { engine.unload_process_handlers() };
    }
    Ok(result)
}

/// Feeds what is hashed into SHA-256: a key that stays the same from one process to the next,
/// unlike the standard library's hasher.
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }
}

/// Compiles `wasm` and checks its imports against WASI preview1.
fn compile_with(engine: &Engine, wasm: &[u8]) -> Result<Precompiled, CompileError> {
    let module = Module::new(engine, wasm).map_err(|e| CompileError::Invalid {
        runtime: NAME,
        cause: Cause::new(e),
    })?;
    let linker = wasi_linker(engine).map_err(|cause| CompileError::Engine {
        runtime: NAME,
        cause,
    })?;
    if let Err(e) = linker.instantiate_pre(&module) {
        let provided = |m: &str| m == "wasi_snapshot_preview1" || m == "wasi_unstable";
        return Err(match module.imports().find(|i| !provided(i.module())) {
            Some(import) => CompileError::UnsatisfiedImport {
                runtime: NAME,
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            },
            None => CompileError::Invalid {
                runtime: NAME,
                cause: Cause::new(e),
            },
        });
    }
    let bytes = module.serialize().map_err(|e| CompileError::Engine {
        runtime: NAME,
        cause: Cause::doing("cannot serialize compiled code", e),
    })?;
    Ok(Precompiled::new(NAME, bytes))
}

fn wasi_linker(engine: &Engine) -> Result<Linker<RunState>, Cause> {
    let mut linker = Linker::new(engine);
    p1::add_to_linker_async(&mut linker, |state: &mut RunState| &mut state.wasi)
        .map_err(|e| Cause::doing("cannot link WASI", e))?;
    // Guests cannot create symbolic links, under any runtime: a link in a granted directory
    // could point anywhere, for the host's other programs to follow. wasmtime would create it
    // (and never follow it out of the directory itself).
    linker.allow_shadowing(true);
    linker
        .func_wrap(
            "wasi_snapshot_preview1",
            "path_symlink",
            |_: i32, _: i32, _: i32, _: i32, _: i32| ERRNO_PERM,
        )
        .map_err(|e| Cause::doing("cannot link WASI", e))?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// WASI's `EPERM`: what a guest sees for something its sandbox never allows.
const ERRNO_PERM: i32 = 63;

/// What the store of one run holds: its WASI context and what limits its memory and time.
struct RunState {
    wasi: WasiP1Ctx,
    memory: MemoryLimiter,
    clock: RunClock,
}

/// Refuses growing a linear memory past the run's limit, and remembers the first refusal.
pub(crate) struct MemoryLimiter {
    pub(crate) limit: MemorySize,
    pub(crate) refused: Option<RefusedGrowth>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = u64::try_from(desired).unwrap_or(u64::MAX);
        match self.limit.allows(desired) {
            Ok(()) => Ok(true),
            Err(refused) => {
                self.refused.get_or_insert(refused);
                // `memory.grow` returns -1; the guest decides what that means.
                Ok(false)
            }
        }
    }

    /// Tables are bounded by the pooling allocator's slots.
    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> String {
        format!("wasmtime {}", wasmtime_environ::VERSION)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none().with_components()
    }

    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
        let kind =
            runtime_api::component::classify(wasm).map_err(|reason| CompileError::Invalid {
                runtime: NAME,
                cause: Cause::new(reason),
            })?;
        if kind.is_component() {
            return component::compile(wasm, kind);
        }
        with_compiling_engine(|engine| compile_with(engine, wasm)).unwrap_or_else(|cause| {
            Err(CompileError::Engine {
                runtime: NAME,
                cause,
            })
        })
    }

    /// Compiled code depends on wasmtime's version, the engine's settings and the CPU features
    /// it was compiled for, which wasmtime's compatibility hash covers: code cached under this
    /// key deserializes into this process's engine.
    fn artifact_key(&self) -> Option<String> {
        static KEY: OnceLock<Option<String>> = OnceLock::new();
        KEY.get_or_init(|| {
            let hash = with_compiling_engine(|engine| {
                let mut hasher = Sha256Hasher::default();
                engine.precompile_compatibility_hash().hash(&mut hasher);
                hasher.hex()
            });
            Some(format!("{} {}", self.version(), hash.ok()?))
        })
        .clone()
    }

    /// Each run checks whether the server is stopping every [`STOP_CHECK_TICKS`] by itself
    /// ([`RunClock`]); there is nothing to wake.
    fn stop_runs(&self) {}

    /// `Module::deserialize_open_file` maps the file.
    fn maps_cached_code(&self) -> bool {
        true
    }

    fn load(&self, precompiled: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
        let code = precompiled.code(NAME)?;
        let engine_error = |doing, e: wasmtime::Error| LoadError::Engine {
            runtime: NAME,
            cause: Cause::doing(doing, e),
        };
        // What makes loading the code below sound: it was produced by `Module::serialize` (or
        // `Component::serialize`) in `compile` above, by wasmtime of the same version with the
        // same engine configuration, in this server or in an earlier one through the cache
        // (`artifact_key`), whose directory only the server writes and whose entries are
        // checked against their checksum; it never comes from outside. A file is the very one whose bytes were checked
        // (`Precompiled::code`), and the cache never rewrites a file in place: a new entry is a
        // new file renamed over it, so the mapping keeps the checked contents. wasmtime checks
        // the version and configuration the code was made with again.
        let kind = match &code {
            Code::File(file) => Engine::detect_precompiled_file(runtime_api::descriptor_path(file))
                .map_err(|e| engine_error("cannot read compiled code", e))?,
            Code::Bytes(bytes) => Engine::detect_precompiled(bytes),
        };
        let engine = process_engine()?;
        if kind == Some(wasmtime::Precompiled::Component) {
            let component = match code {
                // Mapped through the descriptor: the file that was checked.
                // SAFETY: see above.
                Code::File(file) => unsafe {
                    wasmtime::component::Component::deserialize_file(
                        engine,
                        runtime_api::descriptor_path(&file),
                    )
                },
                // SAFETY: see above.
                Code::Bytes(bytes) => unsafe {
                    wasmtime::component::Component::deserialize(engine, bytes)
                },
            }
            .map_err(|e| engine_error("cannot load compiled code", e))?;
            return component::load(component);
        }
        let module = match code {
            // Mapped: every child shares the code's pages through the page cache.
            // SAFETY: see above.
            Code::File(file) => unsafe { Module::deserialize_open_file(engine, file) },
            // SAFETY: see above.
            Code::Bytes(bytes) => unsafe { Module::deserialize(engine, bytes) },
        }
        .map_err(|e| engine_error("cannot load compiled code", e))?;
        let linker = wasi_linker(engine).map_err(|cause| LoadError::Engine {
            runtime: NAME,
            cause,
        })?;
        let instance_pre = linker
            .instantiate_pre(&module)
            .map_err(|e| engine_error("cannot link the module", e))?;
        Ok(Arc::new(WasmtimeModule {
            instance_pre,
            tokio: tokio()?,
        }))
    }
}

/// How the run that failed with `error` ended: stopped at its time limit or because the server
/// is stopping, or trapped.
pub(crate) fn failure(error: &wasmtime::Error, limits: &runtime_api::Limits) -> RunError {
    if error.is::<ServerStopping>() {
        return RunError::Stopped { runtime: NAME };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RunError::TimedOut {
            runtime: NAME,
            limit: limits.timeout,
        },
        _ => trap(error),
    }
}

/// The trap `error` describes, with the guest functions on its stack.
pub(crate) fn trap(error: &wasmtime::Error) -> RunError {
    let reason = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    let frames = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|backtrace| backtrace.frames())
        .unwrap_or_default()
        .iter()
        .filter_map(|frame| frame.func_name());
    RunError::trap(NAME, reason, frames)
}

/// A module pre-linked against WASI preview1 in this process's engine. Its runs are called
/// asynchronously, so that a guest waiting in a host call can be ended at its deadline.
struct WasmtimeModule {
    instance_pre: InstancePre<RunState>,
    tokio: &'static tokio::runtime::Runtime,
}

/// The WASI context of one run, before it is built as preview1 or 0.2: its args, env, stdio
/// and directories.
pub(crate) fn wasi_builder(
    config: &ExecutionConfig,
    stdio: Stdio,
) -> Result<WasiCtxBuilder, RunError> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&config.args)
        .envs(&config.env)
        .stdin(stdio::BlockingReader::new(stdio.stdin))
        .stdout(stdio::BlockingWriter::new(stdio.stdout))
        .stderr(stdio::BlockingWriter::new(stdio.stderr))
        // Requests already run on their own Apache worker thread; filesystem calls need not
        // hop to another thread pool.
        .allow_blocking_current_thread(true);
    for preopen in &config.preopens {
        let perms = match preopen.access {
            Access::ReadWrite => FsPerms::ReadWrite,
            Access::ReadOnly => FsPerms::ReadOnly,
        };
        builder
            .preopened_dir(&preopen.host, preopen.guest.as_str(), perms)
            .map_err(|e| RunError::preopen(NAME, preopen, e))?;
    }
    Ok(builder)
}

impl LoadedModule for WasmtimeModule {
    /// WASI preview1 has no sockets, so no connection is ever refused; memory growth may be.
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport {
        let wasi = match wasi_builder(config, stdio) {
            // With blocking allowed, preview1's `poll_oneoff` sleeps on a lone clock with
            // `std::thread::sleep`, which no deadline can end; without, it is a timer the run
            // waits for as a future, and file calls take a hop to tokio's blocking threads.
            Ok(mut builder) => builder.allow_blocking_current_thread(false).build_p1(),
            Err(e) => return Err(e).into(),
        };
        let state = RunState {
            wasi,
            memory: MemoryLimiter {
                limit: config.limits.memory,
                refused: None,
            },
            clock: RunClock::new(config.limits.timeout),
        };
        let deadline = state.clock.deadline;
        let mut store = Store::new(self.instance_pre.module().engine(), state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(store.data().clock.step);
        store.epoch_deadline_callback(|mut store| store.data_mut().clock.step_over());
        let run = self.call(config, &mut store);
        let outcome = block_on(self.tokio, deadline, &config.limits, run).and_then(|ran| ran);
        RunReport {
            outcome,
            refusals: runtime_api::Refusals::new(),
            refused_growth: store.data().memory.refused,
        }
    }
}

impl WasmtimeModule {
    async fn call(
        &self,
        config: &ExecutionConfig,
        store: &mut Store<RunState>,
    ) -> Result<ExitCode, RunError> {
        let instance = self
            .instance_pre
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| RunError::Instantiate {
                runtime: NAME,
                cause: Cause::new(e),
            })?;
        let entry_point = &config.entry_point;
        let func = instance
            .get_func(&mut *store, entry_point.as_str())
            .ok_or_else(|| RunError::MissingEntryPoint {
                runtime: NAME,
                entry_point: entry_point.clone(),
            })?;
        let func = func
            .typed::<(), ()>(&*store)
            .map_err(|_| RunError::EntryPointSignature {
                runtime: NAME,
                entry_point: entry_point.clone(),
            })?;
        match func.call_async(&mut *store, ()).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(ExitCode(exit.0)),
                None => Err(failure(&e, &config.limits)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_clock_checks_every_stop_check_and_interrupts_once_its_time_is_up() {
        let now = Instant::now();
        assert_eq!(
            ticks_until(now + Duration::from_secs(5), now),
            STOP_CHECK_TICKS
        );
        assert_eq!(ticks_until(now + Duration::from_millis(25), now), 3);
        // A check due now still waits for the next tick.
        assert_eq!(ticks_until(now, now), 1);

        let mut clock = RunClock::new(Duration::from_secs(60));
        assert_eq!(clock.step, STOP_CHECK_TICKS);
        assert!(matches!(
            clock.step_over().unwrap(),
            UpdateDeadline::Continue(STOP_CHECK_TICKS)
        ));
        // Time spent outside the guest's code (waiting in a host call) counts: a clock checked
        // after its deadline interrupts at once, however few ticks it saw.
        clock.deadline = Instant::now();
        assert!(matches!(
            clock.step_over().unwrap(),
            UpdateDeadline::Interrupt
        ));
    }
}
