//! One request, one fresh sandbox: resolve the configuration, load the module, run it, and
//! deliver its output.
//!
//! The Apache side of the request is an [`Exchange`]: plain values in, log lines out, and the
//! [`Wire`] the guest's stdin reads the request body from and its stdout writes the response
//! to while it runs ([`stream`]). A guest that fails before its response started gets a clean
//! error status; one that fails after has its response cut off, as under mod_cgi.

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod stream;

use crate::modules::{ModuleStore, NotLoaded, Provenance};
use crate::section::{Resolved, SectionConfig};
use crate::settings::cgi::mounted_path_info;
use crate::settings::dirs::guest_path_of;
use crate::stats::{Failure, Load, Place, Statistics, Tally};
use cgi::CgiRequest;
use runtime_api::error::seconds;
use runtime_api::{
    Bytes, ExecutionConfig, Fields, HttpHandler, HttpRequest, LoadedModule, OutputBuffer, Registry,
    RequestBody, RunError, RunReport, Stdio,
};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::{Conduit, GuestResponse, GuestStdin, GuestStdout, Output, Shared, Timing};

/// The `Retry-After` of a module still being compiled in the background, in seconds: long
/// compilations take minutes, and a client that comes back sooner only gets another 503.
pub const RETRY_WHILE_COMPILING: u32 = 10;

/// How much of a guest's stderr one request logs; the rest is dropped (and said so), and the
/// guest goes on.
pub const STDERR_LOGGED: usize = 64 * 1024;

/// How severe a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    /// What the admin should see whatever the `LogLevel`, as Apache's own start-up notices:
    /// long work the server waits for.
    Notice,
    Info,
}

/// How the handler was chosen for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerMode {
    /// `SetHandler wasm-handler`: the module answers every request in its section.
    Section,
    /// `AddHandler wasm-handler .ext`: the module interprets the requested file, as php-cgi
    /// does, and does not run when there is no such file.
    Interpreter {
        /// The file the request maps to, as the server named it.
        filename: String,
        /// Whether it is a regular file.
        is_file: bool,
    },
}

/// The client's side of the body streams: what the guest's stdin reads and its stdout writes
/// reach. While a guest runs, the pipeline may call it from another thread than the one that
/// handles the request, one call at a time, and never after the run is over.
pub trait Wire: Send {
    /// What ends a request whose body could not be read; the request side has answered it.
    type Abort: Send + 'static;

    /// Reads the next bytes of the request body (de-chunked, within the server's limit) into
    /// `buf`: how many, 0 at its end.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Self::Abort>;

    /// The request's trailer fields, once the body has been read to its end: those of a
    /// chunked body's trailer section. None before, or when it had none.
    fn read_trailers(&mut self) -> Fields;

    /// Sets the response's status and headers. Called once, before any body.
    fn send_head(&mut self, head: &ResponseHead);

    /// Passes body bytes on towards the client, which may keep them buffered.
    fn send_body(&mut self, bytes: &[u8]) -> Result<(), ClientGone>;

    /// Sends what is buffered to the client now.
    fn flush(&mut self) -> Result<(), ClientGone>;

    /// Sets the trailer fields that follow a complete response body, where the protocol the
    /// client speaks carries them. Called at most once, after the body.
    fn send_trailers(&mut self, trailers: &Fields);

    /// Ends a response that started but cannot be completed: the client sees it cut off, and
    /// the connection is not reused.
    fn break_off(&mut self);

    /// Bounds the reads and writes that follow by `deadline` as well as by the server's own
    /// `Timeout`, or (`None`) by the server's alone again. A read or write still waiting for the
    /// client at the deadline fails as it would at the server's timeout. While a guest runs,
    /// its deadline bounds them: a client that sends its body slowly, or does not take the
    /// response, cannot hold a run past its time limit.
    fn bound_io(&mut self, deadline: Option<Instant>);
}

/// The client no longer takes the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientGone;

/// The Apache side of one request, as the pipeline sees it.
pub trait Exchange: Wire {
    fn handler_mode(&self) -> HandlerMode;

    /// Gets ready to read the request body: the length it announced (`Content-Length`), if it
    /// has one and it is not empty.
    fn start_body(&mut self) -> Result<Option<u64>, Self::Abort>;

    /// The request's decoded URL path, which `<Location>` sections match.
    fn path(&self) -> String;

    /// The server's `Timeout`: how long a run may take when no `WasmTimeout` applies.
    fn server_timeout(&self) -> Duration;

    /// Where the first match of the server's regular expression `pattern` in `subject` ends,
    /// as a `<LocationMatch>` matches; `None` when it does not match.
    fn pattern_end(&mut self, pattern: &str, subject: &str) -> Option<usize>;

    /// The request as CGI describes it, with host paths for its file names, for a body of
    /// `content_length` bytes on stdin. `path_info` is PATH_INFO when the pipeline chose it
    /// (an app mounted at a `<Location>`); without it, the server splits the path as for
    /// mod_cgi.
    fn cgi_request(&mut self, content_length: Option<u64>, path_info: Option<&str>) -> CgiRequest;

    /// The request as a `wasi:http` handler is given it: as the client sent it, addressed to
    /// the host it named (its `Host`, else the server's name and port). Nothing CGI derives
    /// from it is looked up: a handler has no use for PATH_TRANSLATED's sub-request or the
    /// server's variables.
    fn http_request(&mut self) -> HttpRequest;

    /// Writes a line to the error log, in the context of this request.
    fn log(&mut self, level: Level, message: &str);

    /// Leaves a note on the request for the access log (`%{name}n`).
    fn note(&mut self, name: &'static str, value: &str);
}

/// The request notes mod_wasm leaves for the access log.
pub mod notes {
    /// The runtime that ran the module.
    pub const RUNTIME: &str = "wasm-runtime";
    /// How long the guest ran, in microseconds.
    pub const RUN_MICROSECONDS: &str = "wasm-run-us";
}

/// How a request ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<A> {
    /// The response with this status went out through the [`Wire`]: whole, or cut off when
    /// the guest failed after it started (which the log says).
    Sent { status: u16 },
    /// End with 503, and a `Retry-After` of this many seconds: the module is not ready yet.
    NotReady { retry_after: u32 },
    /// Answer the request as if the client had asked for this path (RFC 3875 §6.2.2), with
    /// `GET`. The request body has been read to its end.
    LocalRedirect(String),
    /// End with this HTTP status; the server sends its error document.
    Status(u16),
    /// The body could not be read, and the request side answered.
    Aborted(A),
}

/// The status and headers of a response the guest gave: with CGI, what its header block says;
/// without, 200.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Whether the guest chose the status (a CGI `Status` field, a handler's response).
    /// Without, the server's status stands where it has one of its own: the error an
    /// `ErrorDocument` answers, as under mod_cgi.
    pub status_given: bool,
    /// The reason phrase from a `Status:` field, when the program gave one.
    pub reason: Option<String>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    /// Every other header, in order; repeated names stay separate.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// 200, and nothing else.
    pub fn ok() -> Self {
        Self {
            status: 200,
            ..Self::default()
        }
    }
}

impl From<cgi::CgiResponse<'_>> for ResponseHead {
    fn from(response: cgi::CgiResponse<'_>) -> Self {
        let cgi::CgiResponse {
            status,
            status_given,
            reason,
            content_type,
            location,
            headers,
            body: _,
        } = response;
        Self {
            status,
            status_given,
            reason,
            content_type,
            location,
            headers,
        }
    }
}

/// What serves requests in this process: the runtimes built in and the modules.
#[derive(Clone, Copy)]
pub struct Gateway<'a> {
    pub registry: &'a Registry,
    pub modules: &'a ModuleStore,
    /// How much of a guest's stderr is logged, per request.
    pub stderr_logged: usize,
    /// Where requests are counted, if anywhere.
    pub stats: Option<&'a Statistics>,
}

impl<A> Reply<A> {
    /// The status the client gets, as far as mod_wasm decides it: `None` for a request whose
    /// body could not be read, which the server answered.
    fn status(&self) -> Option<u16> {
        match self {
            Reply::Sent { status } => Some(*status),
            // The program asked for another resource of the server instead (a CGI local
            // redirect), as a 3xx asks the client.
            Reply::LocalRedirect(_) => Some(302),
            Reply::Status(status) => Some(*status),
            Reply::NotReady { .. } => Some(503),
            Reply::Aborted(_) => None,
        }
    }
}

impl Gateway<'_> {
    /// Answers the request `exchange` under `config`, its merged configuration, and counts it.
    pub fn serve<E: Exchange>(&self, config: &SectionConfig, exchange: &mut E) -> Reply<E::Abort> {
        let started = Instant::now();
        let resolved = match config.resolve(self.registry) {
            Ok(resolved) => resolved,
            Err(e) => {
                exchange.log(Level::Error, &format!("mod_wasm: {e}"));
                if let Some(stats) = self.stats {
                    stats.count_unresolved();
                }
                return Reply::Status(500);
            }
        };
        exchange.note(notes::RUNTIME, resolved.runtime.name());
        let mut tally = Tally::default();
        let reply = self.answer(config, &resolved, exchange, &mut tally);
        if let Some(stats) = self.stats {
            tally.status = reply.status();
            let place = Place {
                runtime: resolved.runtime.name(),
                origin: &resolved.module.origin,
                module: &resolved.module.value,
            };
            stats.count(&place, &tally, started.elapsed());
        }
        reply
    }

    fn answer<E: Exchange>(
        &self,
        config: &SectionConfig,
        resolved: &Resolved,
        exchange: &mut E,
        tally: &mut Tally,
    ) -> Reply<E::Abort> {
        let mode = exchange.handler_mode();
        if let HandlerMode::Interpreter {
            filename,
            is_file: false,
        } = &mode
        {
            exchange.log(
                Level::Info,
                &format!("mod_wasm: script not found or not a file: {filename}"),
            );
            tally.failure = Some(Failure::NotFound);
            return Reply::Status(404);
        }
        let module = match self.load(resolved, exchange, tally) {
            Ok(module) => module,
            Err(reply) => return reply,
        };
        run(
            config,
            resolved,
            &mode,
            module.as_ref(),
            self.stderr_logged,
            exchange,
            tally,
        )
    }

    /// The module, loaded into this process on its first use, which is logged; or the reply
    /// that ends the request: 503 for a module taken out of service at a restart, and for one
    /// still being compiled in the background (with `Retry-After`), 500 for one that cannot be
    /// loaded.
    fn load<A>(
        &self,
        resolved: &Resolved,
        exchange: &mut impl Exchange,
        tally: &mut Tally,
    ) -> Result<Arc<dyn LoadedModule>, Reply<A>> {
        let key = resolved.key();
        if let Some(reason) = self.modules.unavailable(&key) {
            exchange.log(
                Level::Error,
                &format!(
                    "mod_wasm: {resolved}: unavailable since the last restart, when it could \
                     not be compiled: {reason}"
                ),
            );
            tally.failure = Some(Failure::Unavailable);
            return Err(Reply::Status(503));
        }
        let started = Instant::now();
        let loaded = match self.modules.load(&key, resolved.runtime) {
            Ok(loaded) => loaded,
            Err(NotLoaded::Compiling) => {
                exchange.log(
                    Level::Info,
                    &format!(
                        "mod_wasm: {resolved}: not ready, still being compiled in the background \
                         (WasmCompile background)"
                    ),
                );
                tally.failure = Some(Failure::Unavailable);
                return Err(Reply::NotReady {
                    retry_after: RETRY_WHILE_COMPILING,
                });
            }
            Err(NotLoaded::Failed(e)) => {
                exchange.log(
                    Level::Error,
                    &format!("mod_wasm: {resolved}: cannot load the module: {e}"),
                );
                tally.failure = Some(Failure::LoadFailed);
                return Err(Reply::Status(500));
            }
        };
        tally.load = loaded.first_use.map(|provenance| {
            let load = match provenance {
                Provenance::Reused => Load::Inherited,
                Provenance::Compiled | Provenance::Cached => Load::Lazy,
            };
            (load, started.elapsed())
        });
        if let Some(problem) = loaded.cache_problem {
            exchange.log(Level::Warning, &format!("mod_wasm: {resolved}: {problem}"));
        }
        let first_use = match loaded.first_use {
            None => None,
            Some(Provenance::Reused) => Some(format!("mod_wasm: loaded {key} into this process")),
            Some(provenance @ (Provenance::Compiled | Provenance::Cached)) => {
                let how = if provenance == Provenance::Cached {
                    "loaded the cached"
                } else {
                    "compiled and loaded"
                };
                Some(format!(
                    "mod_wasm: {how} {key} into this process (the configuration check cannot \
                     foresee a module combined with a runtime from another section)"
                ))
            }
        };
        if let Some(message) = first_use {
            exchange.log(Level::Info, &message);
        }
        Ok(loaded.module)
    }
}

/// How a module is run, decided once per request; everything that differs between the ways
/// (what the guest reads, where its output goes, what the response starts as, how it is
/// called) is decided here, so a new way is a new variant.
#[derive(Clone, Copy)]
enum RunMode<'m> {
    /// A program whose stdout is the response body, as it is (200, no header block).
    Plain,
    /// A CGI program: its variables describe the request, its stdin is the body, its stdout
    /// starts with a header block.
    Cgi,
    /// A `wasi:http` handler: given the request itself, it answers through its response; what
    /// it prints is not part of it.
    Handler(&'m dyn HttpHandler),
}

/// A run mode with the request handed over: how the guest is called.
enum Invocation<'m> {
    /// A command, its `_start`.
    Command,
    Handler(&'m dyn HttpHandler, HttpRequest),
}

impl<'m> RunMode<'m> {
    fn of(module: &'m dyn LoadedModule, cgi: bool) -> Self {
        match (module.as_http_handler(), cgi) {
            (Some(handler), _) => RunMode::Handler(handler),
            (None, true) => RunMode::Cgi,
            (None, false) => RunMode::Plain,
        }
    }

    /// What the response is before the guest wrote anything.
    fn first_output(self) -> Output {
        match self {
            RunMode::Handler(_) => Output::AwaitingHead,
            RunMode::Cgi => Output::Head(Vec::new()),
            RunMode::Plain => Output::Body {
                status: 200,
                head: Some(ResponseHead::ok()),
                pending: Vec::new(),
                sent: 0,
            },
        }
    }

    /// Hands the request to the guest: its body (a command's stdin), and the request itself
    /// to a handler or its CGI variables (into `execution`) to a CGI program. A plain program
    /// reads nothing.
    fn hand_request<E: Exchange>(
        self,
        config: &SectionConfig,
        resolved: &Resolved,
        mode: &HandlerMode,
        execution: &mut ExecutionConfig,
        conduit: &Shared<E::Abort>,
        exchange: &mut E,
    ) -> Result<(Box<dyn RequestBody>, Invocation<'m>), E::Abort> {
        if let RunMode::Plain = self {
            return Ok((Box::new(std::io::empty()), Invocation::Command));
        }
        let content_length = exchange.start_body()?;
        let invocation = match self {
            RunMode::Handler(handler) => Invocation::Handler(handler, exchange.http_request()),
            RunMode::Cgi | RunMode::Plain => {
                let path_info = mounted_app_path_info(resolved, mode, exchange);
                let request = exchange.cgi_request(content_length, path_info.as_deref());
                config.cgi.add_request(execution, request);
                Invocation::Command
            }
        };
        Ok((Box::new(GuestStdin(conduit.clone())), invocation))
    }

    /// Where the guest's stdout goes.
    fn stdout<A: Send + 'static>(self, conduit: &Shared<A>) -> Box<dyn std::io::Write + Send> {
        match self {
            RunMode::Handler(_) => Box::new(std::io::sink()),
            RunMode::Cgi | RunMode::Plain => Box::new(GuestStdout(conduit.clone())),
        }
    }
}

impl Invocation<'_> {
    /// Runs the guest with the request's `body`: a command's stdin, a handler's request body.
    fn call<A: Send + 'static>(
        self,
        module: &dyn LoadedModule,
        execution: &ExecutionConfig,
        body: Box<dyn RequestBody>,
        stdout: Box<dyn std::io::Write + Send>,
        stderr: Box<dyn std::io::Write + Send>,
        conduit: &Shared<A>,
    ) -> RunReport {
        match self {
            Invocation::Command => module.run(
                execution,
                Stdio {
                    stdin: body,
                    stdout,
                    stderr,
                },
            ),
            Invocation::Handler(handler, request) => handler.handle(
                execution,
                request,
                body,
                Stdio {
                    stdin: Box::new(std::io::empty()),
                    stdout,
                    stderr,
                },
                Box::new(GuestResponse(conduit.clone())),
            ),
        }
    }
}

/// Runs the module in a fresh sandbox, its stdio connected to the request, and delivers what
/// the run leaves to deliver.
fn run<E: Exchange>(
    config: &SectionConfig,
    resolved: &Resolved,
    mode: &HandlerMode,
    module: &dyn LoadedModule,
    stderr_logged: usize,
    exchange: &mut E,
    tally: &mut Tally,
) -> Reply<E::Abort> {
    let mut execution = config.execution_config();
    execution.limits = config.limits.resolve(exchange.server_timeout());
    if let HandlerMode::Interpreter { filename, .. } = mode {
        // An interpreter is handed its script the way the kernel runs a `#!` script: as the
        // last argument, after the `WasmArg`s (`python.wasm -B /site/hello.py`), under the
        // path the guest sees it at. A script outside every granted directory could not be
        // opened by the guest, so it is not named; php-cgi-style interpreters read
        // SCRIPT_FILENAME anyway.
        if let Some(script) = guest_path_of(&execution.preopens, Path::new(filename)) {
            execution.args.push(script);
        }
    }
    let run_mode = RunMode::of(module, config.cgi.enabled());
    let conduit = Conduit::shared(
        config.output.delivery(),
        run_mode.first_output(),
        Timing {
            setting: config.timing.clone(),
            runtime: resolved.runtime.name(),
            started: Instant::now(),
            took: None,
        },
    );
    let (body, invocation) =
        match run_mode.hand_request(config, resolved, mode, &mut execution, &conduit, exchange) {
            Ok(handed) => handed,
            Err(abort) => return Reply::Aborted(abort),
        };
    let stderr = OutputBuffer::dropping_beyond(stderr_logged);
    let stdout = run_mode.stdout(&conduit);
    let started = Instant::now();
    // The client cannot hold the run past its time limit, by sending slowly or reading slowly;
    // what is left to deliver once the run is over has the server's own timeout.
    exchange.bound_io(Some(started + execution.limits.timeout));
    let RunReport {
        outcome,
        refusals,
        refused_growth,
    } = stream::lend(&conduit, exchange, || {
        let stderr = Box::new(stderr.clone());
        invocation.call(module, &execution, body, stdout, stderr, &conduit)
    });
    exchange.bound_io(None);
    let took = started.elapsed();
    exchange.note(notes::RUN_MICROSECONDS, &took.as_micros().to_string());
    tally.refusals = refusals.total();

    for refusal in refusals.kept() {
        exchange.log(Level::Error, &format!("mod_wasm: {resolved}: {refusal}"));
    }
    if refusals.dropped() > 0 {
        exchange.log(
            Level::Error,
            &format!(
                "mod_wasm: {resolved}: and {} more refusals, not logged one by one",
                refusals.dropped()
            ),
        );
    }
    for line in text_lines(&stderr.take()) {
        exchange.log(
            Level::Error,
            &format!("mod_wasm: {resolved}: stderr: {line}"),
        );
    }
    if stderr.truncated() {
        exchange.log(
            Level::Warning,
            &format!(
                "mod_wasm: {resolved}: stderr: only the first {} are logged; {} more bytes \
                 were dropped",
                Bytes(stderr_logged as u64),
                stderr.dropped()
            ),
        );
    }

    let mut conduit = runtime_api::sync::lock(&conduit);
    conduit.timing.took = Some(took);
    if conduit.client_gone {
        let outcome = match &outcome {
            Ok(exit) if exit.is_success() => "it exited successfully".to_owned(),
            Ok(exit) => format!("it exited with code {}", exit.0),
            Err(e) => e.to_string(),
        };
        exchange.log(
            Level::Info,
            &format!(
                "mod_wasm: {resolved}: the client went away after {} of the response; {outcome}",
                Bytes(conduit.sent())
            ),
        );
        return Reply::Sent {
            status: conduit.status().unwrap_or(200),
        };
    }
    // A body read that failed at the run's deadline ended the run, whatever the guest made of
    // the failure in the moment it had left.
    let outcome = if conduit.abort.is_some() && took >= execution.limits.timeout {
        Err(RunError::TimedOut {
            runtime: resolved.runtime.name(),
            limit: execution.limits.timeout,
        })
    } else {
        outcome
    };
    let verdict = judge(resolved, outcome, refused_growth, &conduit, exchange, tally);
    if let Err(status) = verdict {
        if conduit.started() {
            exchange.break_off();
            exchange.log(
                Level::Error,
                &format!(
                    "mod_wasm: {resolved}: the response was cut off after {} of its body",
                    Bytes(conduit.sent())
                ),
            );
            return Reply::Sent {
                status: conduit.status().unwrap_or(200),
            };
        }
        if let Some(abort) = conduit.abort.take() {
            return Reply::Aborted(abort);
        }
        return Reply::Status(status);
    }
    match std::mem::replace(&mut conduit.output, Output::Head(Vec::new())) {
        Output::Head(head) => {
            let malformed = match cgi::parse_response(&head) {
                Err(malformed) => malformed,
                // An incomplete block that parses is one the guest never finished.
                Ok(_) => cgi::MalformedResponse::UnterminatedHeaders,
            };
            malformed_output(resolved, &malformed, exchange, tally)
        }
        Output::Malformed(malformed) => malformed_output(resolved, &malformed, exchange, tally),
        Output::AwaitingHead => {
            exchange.log(
                Level::Error,
                &format!("mod_wasm: {resolved}: the handler returned without a response"),
            );
            tally.failure = Some(Failure::Trap);
            Reply::Status(500)
        }
        Output::Redirect(path) => match discard_rest_of_body(exchange) {
            Ok(()) => Reply::LocalRedirect(path),
            Err(abort) => Reply::Aborted(abort),
        },
        body @ Output::Body { status, .. } => {
            conduit.output = body;
            conduit.send(exchange, &[]);
            if !conduit.client_gone && !conduit.trailers.is_empty() {
                exchange.send_trailers(&conduit.trailers);
            }
            Reply::Sent { status }
        }
    }
}

/// Whether the run succeeded; otherwise the status that answers it, once the cause is logged
/// and counted.
fn judge<E: Exchange>(
    resolved: &Resolved,
    outcome: Result<runtime_api::ExitCode, RunError>,
    refused_growth: Option<runtime_api::RefusedGrowth>,
    conduit: &Conduit<E::Abort>,
    exchange: &mut E,
    tally: &mut Tally,
) -> Result<(), u16> {
    if conduit.abort.is_some() {
        let line = match &outcome {
            // A body that had not arrived by the deadline also ended the run at it.
            Err(RunError::TimedOut { limit, .. }) => {
                tally.failure = Some(Failure::TimedOut);
                format!(
                    "the request body could not be read: it had not arrived when the guest \
                     was stopped after WasmTimeout {}",
                    seconds(*limit)
                )
            }
            _ => "the request body could not be read".to_owned(),
        };
        exchange.log(Level::Info, &format!("mod_wasm: {resolved}: {line}"));
        return Err(400);
    }
    // A guest cut off by the limit usually fails afterwards; the limit is the cause to log.
    if conduit.over_limit {
        let limit = conduit
            .limit()
            .map_or(String::new(), |l| Bytes(l).to_string());
        exchange.log(
            Level::Error,
            &format!(
                "mod_wasm: {resolved}: the guest wrote more than {limit} to stdout \
                 (WasmOutputLimit)"
            ),
        );
        tally.failure = Some(Failure::OutputLimit);
        return Err(500);
    }
    // A guest that fails after its memory limit refused to grow usually fails because of it.
    let memory_cause = refused_growth.map_or(String::new(), |growth| {
        format!("; WasmMemoryLimit had {growth}, the likely cause")
    });
    // A failure that follows a refused growth is counted as the memory limit's.
    let failed = |tally: &mut Tally, kind: Failure| {
        tally.failure = Some(match refused_growth {
            Some(_) => Failure::MemoryLimit,
            None => kind,
        });
    };
    match outcome {
        Ok(exit) if exit.is_success() => {
            if let Some(growth) = refused_growth {
                exchange.log(
                    Level::Warning,
                    &format!("mod_wasm: {resolved}: WasmMemoryLimit {growth}"),
                );
            }
            Ok(())
        }
        Ok(exit) => {
            exchange.log(
                Level::Error,
                &format!(
                    "mod_wasm: {resolved}: the guest exited with code {}{memory_cause}",
                    exit.0
                ),
            );
            failed(tally, Failure::Exit);
            Err(500)
        }
        Err(RunError::TimedOut { limit, .. }) => {
            exchange.log(
                Level::Error,
                &format!(
                    "mod_wasm: {resolved}: the guest was stopped after WasmTimeout {}",
                    seconds(limit)
                ),
            );
            tally.failure = Some(Failure::TimedOut);
            Err(504)
        }
        // What the server does, not what the guest did: a warning, and the client may retry.
        Err(RunError::Stopped { .. }) => {
            exchange.log(
                Level::Warning,
                &format!(
                    "mod_wasm: {resolved}: the guest was stopped because the server is stopping"
                ),
            );
            tally.failure = Some(Failure::Stopped);
            Err(503)
        }
        Err(e) => {
            exchange.log(
                Level::Error,
                &format!("mod_wasm: {resolved}: {e}{memory_cause}"),
            );
            failed(tally, Failure::Trap);
            Err(500)
        }
    }
}

/// A run whose output is not a CGI response: 502, logged and counted.
fn malformed_output<A>(
    resolved: &Resolved,
    malformed: &cgi::MalformedResponse,
    exchange: &mut impl Exchange,
    tally: &mut Tally,
) -> Reply<A> {
    exchange.log(
        Level::Error,
        &format!("mod_wasm: {resolved}: malformed CGI response: {malformed}"),
    );
    tally.failure = Some(Failure::MalformedOutput);
    Reply::Status(502)
}

/// Reads what the guest left of the request body, and drops it. A local redirect answers the
/// request with another resource, as a GET without a body; bytes of this body left unread
/// would stay on the connection, and the server would read them as the client's next request
/// (request smuggling). mod_cgi has read the whole body before it redirects, too.
fn discard_rest_of_body<W: Wire + ?Sized>(wire: &mut W) -> Result<(), W::Abort> {
    let mut scratch = [0; 8192];
    while wire.read_body(&mut scratch)? > 0 {}
    Ok(())
}

/// PATH_INFO of an app that answers its whole `<Location>` (`SetHandler`), when its module is
/// configured in that `<Location>`: SCRIPT_NAME is then where the app is mounted, as every
/// gateway that mounts apps at a URL gives it. Interpreters (`AddHandler`) and modules
/// configured elsewhere keep the server's split, which follows the file system.
fn mounted_app_path_info(
    resolved: &Resolved,
    mode: &HandlerMode,
    exchange: &mut impl Exchange,
) -> Option<String> {
    let mount = resolved.module.origin.mount.as_ref()?;
    if *mode != HandlerMode::Section {
        return None;
    }
    let path = exchange.path();
    mounted_path_info(mount, &path, |pattern| exchange.pattern_end(pattern, &path))
}

/// The lines of a guest's stderr, decoded leniently (guests may write anything), without line
/// terminators and without empty trailing lines.
fn text_lines(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    let trimmed = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(&bytes[..0], |last| &bytes[..=last]);
    trimmed
        .split(|b| *b == b'\n')
        .filter(move |_| !trimmed.is_empty())
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8_lossy(line).into_owned()
        })
}

#[cfg(test)]
mod tests;
