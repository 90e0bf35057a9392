//! WASI 0.3 `wasi:http` handlers (`wasi:http/handler`, the `wasi:http/service` world): the
//! handler is an async function of the component model, called in the store's event loop
//! (`run_concurrent`), which also runs the tasks the guest spawns, such as the one writing the
//! response body after the handler has returned it.
//!
//! Every request gets a fresh instance unless its location reuses them (`WasmReuse`): then an
//! instance that served a request well is kept, idle, for the next request granted the same
//! sandbox, up to its number of requests. A run that fails (a trap, its time limit, a response
//! not delivered whole) drops its instance. An idle instance writes nowhere: each request
//! points its stdout and stderr at its own.

use super::body::{http_request, send};
use super::{instantiation_failed, ComponentModule, RunState};
use crate::{failure, trap, RunClock};
use runtime_api::sync::lock;
use runtime_api::{
    ExecutionConfig, ExitCode, HttpRequest, HttpResponse, Limits, RequestBody, RunError, RunReport,
    SharedWriter, Stdio,
};
use std::sync::Mutex;
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};

/// The most idle instances one handler keeps in a process. Each holds a slot of the process's
/// instance pool (`POOLED_INSTANCES`) and its memory; a request that finds none idle makes a
/// new one, and one finished while this many wait is dropped.
const MAX_IDLE: usize = 64;

/// A WASI 0.3 handler, pre-instantiated, with its instances kept between requests.
pub(super) struct Handler {
    pre: ServicePre<RunState>,
    idle: Mutex<Vec<Instance>>,
}

/// One instance of a handler, and where its output goes.
struct Instance {
    /// The sandbox it was made with: it serves only requests granted the same.
    config: ExecutionConfig,
    store: Store<RunState>,
    /// Made in the first request's run, which may time out while instantiating.
    service: Option<Service>,
    stdout: SharedWriter,
    stderr: SharedWriter,
    /// The requests it has served.
    served: u32,
}

impl Handler {
    pub(super) fn new(pre: ServicePre<RunState>) -> Self {
        Self {
            pre,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    /// Serves `request` with an idle instance made for the same sandbox, or a new one, and
    /// keeps the instance afterwards if its location reuses instances and the run went well.
    pub(super) fn handle(
        &self,
        module: &ComponentModule,
        config: &ExecutionConfig,
        request: HttpRequest,
        body: Box<dyn RequestBody>,
        stdio: Stdio,
        mut response: Box<dyn HttpResponse>,
    ) -> RunReport {
        let Stdio { stdout, stderr, .. } = stdio;
        let idle = {
            let mut idle = lock(&self.idle);
            let same = idle.iter().position(|instance| instance.config == *config);
            same.map(|at| idle.swap_remove(at))
        };
        let mut instance = match idle {
            Some(instance) => instance,
            None => match Instance::new(module, config) {
                Ok(instance) => instance,
                Err(e) => return Err(e).into(),
            },
        };
        instance.begin(config, stdout, stderr);
        let deadline = instance.store.data().clock.deadline;
        let served = module.block_on(
            deadline,
            config,
            instance.serve(&self.pre, request, body, response.as_mut(), &config.limits),
        );
        let report = RunReport {
            outcome: served.and_then(|served| served).map(|()| ExitCode::SUCCESS),
            refusals: instance.store.data().connections.take_refusals(),
            refused_growth: instance.store.data().memory.refused,
        };
        instance.served += 1;
        if report.outcome.is_ok() && config.reuse.allows_another(instance.served) {
            instance.end();
            let mut idle = lock(&self.idle);
            if idle.len() < MAX_IDLE {
                idle.push(instance);
            }
        }
        report
    }
}

impl Instance {
    fn new(module: &ComponentModule, config: &ExecutionConfig) -> Result<Self, RunError> {
        let stdout = SharedWriter::new(Box::new(std::io::sink()));
        let stderr = SharedWriter::new(Box::new(std::io::sink()));
        let stdio = Stdio {
            stdin: Box::new(std::io::empty()),
            stdout: Box::new(stdout.clone()),
            stderr: Box::new(stderr.clone()),
        };
        Ok(Self {
            config: config.clone(),
            store: module.store(config, stdio)?,
            service: None,
            stdout,
            stderr,
            served: 0,
        })
    }

    /// Readies the instance for a request: its output, and its time limit from now.
    fn begin(
        &mut self,
        config: &ExecutionConfig,
        stdout: Box<dyn std::io::Write + Send>,
        stderr: Box<dyn std::io::Write + Send>,
    ) {
        self.stdout.redirect(stdout);
        self.stderr.redirect(stderr);
        let state = self.store.data_mut();
        state.clock = RunClock::new(config.limits.timeout);
        state.memory.refused = None;
        let step = state.clock.step;
        self.store.set_epoch_deadline(step);
    }

    /// Leaves the instance idle: its output goes nowhere until the next request.
    fn end(&mut self) {
        self.stdout.redirect(Box::new(std::io::sink()));
        self.stderr.redirect(Box::new(std::io::sink()));
    }

    /// Hands `request` with `body` to the handler, and sends its response to `response` as it
    /// is written. Ends when the response body has been delivered.
    async fn serve(
        &mut self,
        pre: &ServicePre<RunState>,
        request: HttpRequest,
        body: Box<dyn RequestBody>,
        response: &mut dyn HttpResponse,
        limits: &Limits,
    ) -> Result<(), RunError> {
        let request = http_request(request, body)?;
        let Self { store, service, .. } = self;
        let service = match service {
            Some(service) => service,
            None => {
                let made = pre
                    .instantiate_async(&mut *store)
                    .await
                    .map_err(instantiation_failed)?;
                service.insert(made)
            }
        };
        // The request body's own outcome (a body cut short) reaches the guest as its stream's
        // error; the host has nothing more to learn from it.
        let (request, _body_outcome) =
            wasmtime_wasi_http::p3::Request::from_http(&mut store.data_mut().outbound, request);
        let served = store
            .run_concurrent(async |store| {
                let given = match service.handle(store, request).await {
                    Ok(Ok(given)) => given,
                    Ok(Err(code)) => {
                        return Err(trap(&wasmtime::format_err!(
                            "the handler answered with an error instead of a response: {code:?}"
                        )))
                    }
                    Err(e) => return Err(failure(&e, limits)),
                };
                let given = store
                    .with(|store| given.into_http(store, async { Ok(()) }))
                    .map_err(|e| trap(&e))?;
                send(given, response).await
            })
            .await;
        served.unwrap_or_else(|e| Err(failure(&e, limits)))
    }
}
