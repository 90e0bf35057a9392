//! WASI 0.2 and 0.3 components under wasmtime: commands (`wasi:cli/run`) run CGI-style like
//! core modules, and HTTP handlers (0.2's `wasi:http/incoming-handler`, 0.3's
//! `wasi:http/handler`, see [`service`]) are handed the request itself.
//!
//! Components run in the process's engine, called asynchronously, as `wasmtime-wasi-http` is
//! built to be. A handler and the delivery of its response are two futures polled together on
//! the Apache worker thread: the response streams to the client while the handler writes it,
//! without a hop to another thread.
//!
//! What a component may reach beyond its sandbox goes through one [`ConnectGuard`] per run:
//! its outgoing `wasi:http` requests ([`outbound`]) and its TCP connections and name lookups
//! (`wasi:sockets`, [`sockets`]).

mod body;
mod outbound;
mod service;
mod sockets;

use crate::{failure, with_compiling_engine, MemoryLimiter, RunClock, NAME};
use body::{deliver, hand_over};
use outbound::Outbound;
use runtime_api::sync::lock;
use runtime_api::{
    Cause, CompileError, ConnectGuard, ExecutionConfig, ExitCode, HttpHandler, HttpRequest,
    HttpResponse, LoadError, LoadedModule, Precompiled, ProgramKind, RequestBody, RunError,
    RunReport, Stdio,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::{Component, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Compiles a component of `kind` and checks that it links against WASI 0.2 and 0.3 (and, for
/// a handler, `wasi:http`).
pub(crate) fn compile(wasm: &[u8], kind: ProgramKind) -> Result<Precompiled, CompileError> {
    let engine_error = |cause| CompileError::Engine {
        runtime: NAME,
        cause,
    };
    let invalid = |cause| CompileError::Invalid {
        runtime: NAME,
        cause,
    };
    let compiled = with_compiling_engine(|engine| {
        let component = Component::new(engine, wasm).map_err(|e| invalid(Cause::new(e)))?;
        let linker = linker(engine).map_err(engine_error)?;
        Prepared::new(&linker, &component, kind).map_err(invalid)?;
        let bytes = component
            .serialize()
            .map_err(|e| engine_error(Cause::doing("cannot serialize compiled code", e)))?;
        Ok(Precompiled::new(NAME, bytes))
    });
    compiled.unwrap_or_else(|cause| Err(engine_error(cause)))
}

/// Loads a compiled component (see `Wasmtime::load` for what makes deserializing sound).
pub(crate) fn load(component: Component) -> Result<Arc<dyn LoadedModule>, LoadError> {
    let engine_error = |cause| LoadError::Engine {
        runtime: NAME,
        cause,
    };
    let tokio = crate::tokio()?;
    let linker = linker(component.engine()).map_err(engine_error)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| engine_error(Cause::doing("cannot link the component", e)))?;
    let kind = if ProxyPre::new(pre.clone()).is_ok() {
        ProgramKind::HttpHandler
    } else if ServicePre::new(pre).is_ok() {
        ProgramKind::HttpService
    } else {
        ProgramKind::Command
    };
    let prepared = Prepared::new(&linker, &component, kind).map_err(engine_error)?;
    Ok(Arc::new(ComponentModule { prepared, tokio }))
}

/// A component pre-instantiated as what it is.
enum Prepared {
    Command(CommandPre<RunState>),
    HttpHandler(ProxyPre<RunState>),
    HttpService(service::Handler),
}

impl Prepared {
    fn new(
        linker: &Linker<RunState>,
        component: &Component,
        kind: ProgramKind,
    ) -> Result<Self, Cause> {
        let pre: InstancePre<RunState> = linker.instantiate_pre(component).map_err(Cause::new)?;
        match kind {
            ProgramKind::HttpHandler => ProxyPre::new(pre)
                .map(Prepared::HttpHandler)
                .map_err(|e| Cause::doing("not a WASI 0.2 wasi:http handler", e)),
            ProgramKind::HttpService => ServicePre::new(pre)
                .map(|pre| Prepared::HttpService(service::Handler::new(pre)))
                .map_err(|e| Cause::doing("not a WASI 0.3 wasi:http handler", e)),
            ProgramKind::Command | ProgramKind::CoreModule => CommandPre::new(pre)
                .map(Prepared::Command)
                .map_err(|e| Cause::doing("not a WASI 0.2 command", e)),
        }
    }

    fn engine(&self) -> &Engine {
        match self {
            Prepared::Command(pre) => pre.engine(),
            Prepared::HttpHandler(pre) => pre.engine(),
            Prepared::HttpService(handler) => handler.engine(),
        }
    }
}

/// WASI 0.2 and 0.3 and their `wasi:http`, as mod_wasm grants them. A 0.3 component built
/// with Rust's standard library imports both: the library's own calls are 0.2's.
fn linker(engine: &Engine) -> Result<Linker<RunState>, Cause> {
    let mut linker = Linker::new(engine);
    let link_error = |e: wasmtime::Error| Cause::doing("cannot link WASI 0.2 and 0.3", e);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_error)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(link_error)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(link_error)?;
    // Guests cannot create symbolic links, under any runtime (see the core modules' linker).
    linker.allow_shadowing(true);
    linker
        .instance(FILESYSTEM_TYPES)
        .and_then(|mut types| {
            types.func_wrap_async(
                "[method]descriptor.symlink-at",
                |_, (_, _, _): (Resource<Descriptor>, String, String)| {
                    Box::new(async { Ok((Err::<(), _>(ErrorCode::NotPermitted),)) })
                },
            )
        })
        .map_err(link_error)?;
    linker
        .instance(FILESYSTEM_TYPES_0_3)
        .and_then(|mut types| {
            types.func_wrap_concurrent(
                "[method]descriptor.symlink-at",
                |_, (_, _, _): (Resource<Descriptor>, String, String)| {
                    Box::pin(async {
                        Ok((Err::<(), _>(
                            wasmtime_wasi::p3::bindings::filesystem::types::ErrorCode::NotPermitted,
                        ),))
                    })
                },
            )
        })
        .map_err(link_error)?;
    // WASI 0.3's name lookup asks wasmtime-wasi's, which the run's context turns off
    // (`sockets::grant`): a 0.3 guest connects to granted addresses by number.
    sockets::link_name_lookup(&mut linker).map_err(link_error)?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// The `wasi:filesystem/types` wasmtime-wasi defines; components importing an earlier 0.2
/// release link to it too.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
/// The `wasi:filesystem/types` of WASI 0.3 that wasmtime-wasi defines.
const FILESYSTEM_TYPES_0_3: &str = "wasi:filesystem/types@0.3.0";

/// What the store of one run holds.
struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    /// What the guest's connections, name lookups and outgoing requests pass through.
    connections: ConnectGuard,
    outbound: Outbound,
    memory: MemoryLimiter,
    clock: RunClock,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// A component loaded in this process's components' engine.
struct ComponentModule {
    prepared: Prepared,
    tokio: &'static tokio::runtime::Runtime,
}

impl ComponentModule {
    /// The store of one run: WASI with `stdio`, the run's limits, and its grants.
    fn store(&self, config: &ExecutionConfig, stdio: Stdio) -> Result<Store<RunState>, RunError> {
        let connections = config.connect.guard();
        let mut wasi = crate::wasi_builder(config, stdio)?;
        sockets::grant(&mut wasi, connections.clone());
        let state = RunState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: Outbound(connections.clone()),
            connections,
            memory: MemoryLimiter {
                limit: config.limits.memory,
                refused: None,
            },
            clock: RunClock::new(config.limits.timeout),
        };
        let mut store = Store::new(self.prepared.engine(), state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(store.data().clock.step);
        store.epoch_deadline_callback(|mut store| store.data_mut().clock.step_over());
        Ok(store)
    }

    /// Runs `run`, a run due to end by `deadline`, to its end on this thread.
    fn block_on<T>(
        &self,
        deadline: Instant,
        config: &ExecutionConfig,
        run: impl std::future::Future<Output = T>,
    ) -> Result<T, RunError> {
        crate::block_on(self.tokio, deadline, &config.limits, run)
    }
}

impl LoadedModule for ComponentModule {
    fn run(&self, config: &ExecutionConfig, stdio: Stdio) -> RunReport {
        let Prepared::Command(pre) = &self.prepared else {
            return Err(RunError::Instantiate {
                runtime: NAME,
                cause: Cause::new(
                    "a wasi:http handler is handed requests, and cannot be run as a command",
                ),
            })
            .into();
        };
        let mut store = match self.store(config, stdio) {
            Ok(store) => store,
            Err(e) => return Err(e).into(),
        };
        let deadline = store.data().clock.deadline;
        let outcome = self
            .block_on(deadline, config, async {
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(instantiation_failed)?;
                match command.wasi_cli_run().call_run(&mut store).await {
                    Ok(Ok(())) => Ok(ExitCode::SUCCESS),
                    Ok(Err(())) => Ok(ExitCode(1)),
                    Err(e) => match e.downcast_ref::<I32Exit>() {
                        Some(exit) => Ok(ExitCode(exit.0)),
                        None => Err(failure(&e, &config.limits)),
                    },
                }
            })
            .and_then(|outcome| outcome);
        RunReport {
            outcome,
            refusals: store.data().connections.refusals(),
            refused_growth: store.data().memory.refused,
        }
    }

    fn as_http_handler(&self) -> Option<&dyn HttpHandler> {
        matches!(
            self.prepared,
            Prepared::HttpHandler(_) | Prepared::HttpService(_)
        )
        .then_some(self)
    }
}

/// A component that could not be instantiated: its imports were linked when it was loaded, so
/// this is a resource (memory, tables) refused or a start function that failed.
fn instantiation_failed(error: wasmtime::Error) -> RunError {
    RunError::Instantiate {
        runtime: NAME,
        cause: Cause::new(error),
    }
}

impl HttpHandler for ComponentModule {
    fn handle(
        &self,
        config: &ExecutionConfig,
        request: HttpRequest,
        body: Box<dyn RequestBody>,
        stdio: Stdio,
        mut response: Box<dyn HttpResponse>,
    ) -> RunReport {
        let pre = match &self.prepared {
            Prepared::HttpHandler(pre) => pre,
            Prepared::HttpService(handler) => {
                return handler.handle(self, config, request, body, stdio, response)
            }
            Prepared::Command(_) => {
                return Err(RunError::Instantiate {
                    runtime: NAME,
                    cause: Cause::new("a WASI 0.2 command is run, and cannot handle requests"),
                })
                .into()
            }
        };
        let mut store = match self.store(config, stdio) {
            Ok(store) => store,
            Err(e) => return Err(e).into(),
        };
        let connections = store.data().connections.clone();
        let refused_growth = Arc::new(Mutex::new(None));
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let deadline = store.data().clock.deadline;
        let ran = self.block_on(deadline, config, async {
            let handed = hand_over(&mut store, request, body, sender);
            let growth = refused_growth.clone();
            // The handler owns the store: when it is over, dropping the store drops what the
            // handler left open, which ends the response it never finished.
            let handler = async move {
                let (incoming, outparam) = handed?;
                let proxy = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(instantiation_failed)?;
                let called = proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, outparam)
                    .await;
                *lock(&growth) = store.data().memory.refused;
                called.map_err(|e| failure(&e, &config.limits))
            };
            let delivery = deliver(receiver, response.as_mut());
            tokio::join!(handler, delivery)
        });
        let outcome = match ran {
            Err(timed_out) => Err(timed_out),
            Ok((Err(failed), _)) => Err(failed),
            Ok((Ok(()), delivered)) => delivered.map(|()| ExitCode::SUCCESS),
        };
        let refused_growth = *lock(&refused_growth);
        RunReport {
            outcome,
            refusals: connections.refusals(),
            refused_growth,
        }
    }
}
