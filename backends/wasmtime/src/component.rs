//! WASI 0.2 components under wasmtime: commands (`wasi:cli/run`) run CGI-style like core
//! modules, and HTTP handlers (`wasi:http/incoming-handler`) are handed the request itself.
//!
//! Components run in the process's engine, called asynchronously, as `wasmtime-wasi-http` is
//! built to be. A handler and the delivery of its response are two futures polled together on
//! the Apache worker thread: the response streams to the client while the handler writes it,
//! without a hop to another thread.

use crate::{failure, trap, with_compiling_engine, MemoryLimiter, RunClock, NAME};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use runtime_api::sync::lock;
use runtime_api::{
    CompileError, ConnectGrants, ExecutionConfig, ExitCode, HttpHandler, HttpRequest, HttpResponse,
    LoadError, LoadedModule, Precompiled, ProgramKind, Refusal, Refusals, RunError, RunReport,
    Stdio,
};
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use wasmtime::component::{Component, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Compiles a component of `kind` and checks that it links against WASI 0.2 (and, for a
/// handler, `wasi:http`).
pub(crate) fn compile(wasm: &[u8], kind: ProgramKind) -> Result<Precompiled, CompileError> {
    let compiled = with_compiling_engine(|engine| {
        let invalid = |e: wasmtime::Error| CompileError::Invalid {
            runtime: NAME,
            reason: format!("{e:#}"),
        };
        let component = Component::new(engine, wasm).map_err(invalid)?;
        let linker = linker(engine).map_err(|reason| CompileError::Engine {
            runtime: NAME,
            reason,
        })?;
        Prepared::new(&linker, &component, kind).map_err(|reason| CompileError::Invalid {
            runtime: NAME,
            reason,
        })?;
        let bytes = component.serialize().map_err(|e| CompileError::Engine {
            runtime: NAME,
            reason: format!("cannot serialize compiled code: {e:#}"),
        })?;
        Ok(Precompiled::new(NAME, bytes))
    });
    compiled.unwrap_or_else(|reason| {
        Err(CompileError::Engine {
            runtime: NAME,
            reason,
        })
    })
}

/// Loads a compiled component (see `Wasmtime::load` for what makes deserializing sound).
pub(crate) fn load(component: Component) -> Result<Arc<dyn LoadedModule>, LoadError> {
    let engine_error = |reason| LoadError::Engine {
        runtime: NAME,
        reason,
    };
    let tokio = crate::tokio()?;
    let linker = linker(component.engine()).map_err(engine_error)?;
    let kind = if ProxyPre::new(
        linker
            .instantiate_pre(&component)
            .map_err(|e| engine_error(format!("cannot link the component: {e:#}")))?,
    )
    .is_ok()
    {
        ProgramKind::HttpHandler
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
}

impl Prepared {
    fn new(
        linker: &Linker<RunState>,
        component: &Component,
        kind: ProgramKind,
    ) -> Result<Self, String> {
        let pre: InstancePre<RunState> = linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        match kind {
            ProgramKind::HttpHandler => ProxyPre::new(pre)
                .map(Prepared::HttpHandler)
                .map_err(|e| format!("not a wasi:http handler: {e:#}")),
            ProgramKind::Command | ProgramKind::CoreModule => CommandPre::new(pre)
                .map(Prepared::Command)
                .map_err(|e| format!("not a WASI 0.2 command: {e:#}")),
        }
    }

    fn engine(&self) -> &Engine {
        match self {
            Prepared::Command(pre) => pre.engine(),
            Prepared::HttpHandler(pre) => pre.engine(),
        }
    }
}

/// WASI 0.2 and `wasi:http`, as mod_wasm grants them.
fn linker(engine: &Engine) -> Result<Linker<RunState>, String> {
    let mut linker = Linker::new(engine);
    let link_error = |e: wasmtime::Error| format!("cannot link WASI 0.2: {e:#}");
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_error)?;
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
    linker.allow_shadowing(false);
    Ok(linker)
}

/// The `wasi:filesystem/types` wasmtime-wasi defines; components importing an earlier 0.2
/// release link to it too.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// What the store of one run holds.
struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
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

/// Outgoing HTTP requests: sent only to the origins the location grants (`WasmAllowConnect
/// host:port`), and the others refused and remembered.
struct Outbound {
    grants: ConnectGrants,
    refusals: Arc<Mutex<Refusals>>,
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<
                        dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                            + Send,
                    >,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_owned();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !self.grants.allows_origin(&host, port) {
            let authority = uri
                .authority()
                .map_or_else(|| format!("{host}:{port}"), |a| a.to_string());
            lock(&self.refusals).record(Refusal::HttpRequest(authority));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let default = wasmtime_wasi_http::default_hooks();
        default.send_request(request, options, fut)
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
        let state = RunState {
            wasi: crate::wasi_builder(config, stdio)?.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: Outbound {
                grants: config.connect.clone(),
                refusals: Arc::default(),
            },
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
                reason: "a wasi:http handler is handed requests, and cannot be run as a command"
                    .to_owned(),
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
            refusals: Refusals::new(),
            refused_growth: store.data().memory.refused,
        }
    }

    fn as_http_handler(&self) -> Option<&dyn HttpHandler> {
        matches!(self.prepared, Prepared::HttpHandler(_)).then_some(self)
    }
}

/// A component that could not be instantiated: its imports were linked when it was loaded, so
/// this is a resource (memory, tables) refused or a start function that failed.
fn instantiation_failed(error: wasmtime::Error) -> RunError {
    RunError::Instantiate {
        runtime: NAME,
        reason: format!("{error:#}"),
    }
}

impl HttpHandler for ComponentModule {
    fn handle(
        &self,
        config: &ExecutionConfig,
        request: HttpRequest,
        mut stdio: Stdio,
        mut response: Box<dyn HttpResponse>,
    ) -> RunReport {
        let Prepared::HttpHandler(pre) = &self.prepared else {
            return Err(RunError::Instantiate {
                runtime: NAME,
                reason: "a WASI 0.2 command is run, and cannot handle requests".to_owned(),
            })
            .into();
        };
        let body = std::mem::replace(&mut stdio.stdin, Box::new(std::io::empty()));
        let mut store = match self.store(config, stdio) {
            Ok(store) => store,
            Err(e) => return Err(e).into(),
        };
        let refusals = store.data().outbound.refusals.clone();
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
        let refusals = std::mem::take(&mut *lock(&refusals));
        let refused_growth = *lock(&refused_growth);
        RunReport {
            outcome,
            refusals,
            refused_growth,
        }
    }
}

/// Makes the request and the place for the response resources of `store`.
fn hand_over(
    store: &mut Store<RunState>,
    request: HttpRequest,
    body: Box<dyn Read + Send>,
    sender: tokio::sync::oneshot::Sender<
        Result<
            http::Response<HyperOutgoingBody>,
            wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
        >,
    >,
) -> Result<
    (
        wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
        wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
    ),
    RunError,
> {
    let invalid = |reason: String| RunError::Instantiate {
        runtime: NAME,
        reason,
    };
    let scheme = if request.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let uri = http::Uri::builder()
        .scheme(request.scheme.as_str())
        .authority(request.authority.as_str())
        .path_and_query(request.path_with_query.as_str())
        .build()
        .map_err(|e| invalid(format!("the request's URL cannot be handed over: {e}")))?;
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let hyper_request = builder
        .body(RequestBody(Some(body)))
        .map_err(|e| invalid(format!("the request cannot be handed over: {e}")))?;
    let mut http = store.data_mut().http();
    let incoming = http
        .new_incoming_request(scheme, hyper_request)
        .map_err(|e| invalid(format!("{e:#}")))?;
    let outparam = http
        .new_response_outparam(sender)
        .map_err(|e| invalid(format!("{e:#}")))?;
    Ok((incoming, outparam))
}

/// Sends the response the handler gives to `response` as it comes: the head, then the body
/// as the handler writes it. Ends with the body; a body the handler never finished (it
/// trapped, or dropped it) is an error. The body is read to its end even when the client went
/// away, so that the handler is never left waiting to write.
async fn deliver(
    receiver: tokio::sync::oneshot::Receiver<
        Result<
            http::Response<HyperOutgoingBody>,
            wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
        >,
    >,
    response: &mut dyn HttpResponse,
) -> Result<(), RunError> {
    let given = match receiver.await {
        Ok(Ok(given)) => given,
        Ok(Err(code)) => {
            return Err(trap(&wasmtime::format_err!(
                "the handler answered with an error instead of a response: {code:?}"
            )))
        }
        Err(_) => {
            return Err(trap(&wasmtime::format_err!(
                "the handler returned without setting a response"
            )))
        }
    };
    let (parts, mut body) = given.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    response.head(parts.status.as_u16(), headers);
    let mut client_gone = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            trap(&wasmtime::format_err!(
                "the handler did not finish its response body: {e:?}"
            ))
        })?;
        if let (Ok(data), false) = (frame.into_data(), client_gone) {
            client_gone = std::io::Write::write_all(response, &data).is_err();
        }
    }
    Ok(())
}

/// The request body, read from mod_wasm's stream as the handler consumes it.
struct RequestBody(Option<Box<dyn Read + Send>>);

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    /// Reads in place: the stream is the request's body as it arrives from the client.
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let Some(reader) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        let mut buf = BytesMut::zeroed(64 * 1024);
        match reader.read(&mut buf) {
            Ok(0) => {
                self.0 = None;
                Poll::Ready(None)
            }
            Ok(n) => {
                buf.truncate(n);
                Poll::Ready(Some(Ok(http_body::Frame::data(buf.freeze()))))
            }
            Err(e) => {
                self.0 = None;
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::InternalError(Some(
                    format!("reading the request body: {e}"),
                )))))
            }
        }
    }
}
