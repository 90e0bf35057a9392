//! The pipeline against fake runtimes and a fake request side: every way a request can end.

use super::stream::HOLD_BACK;
use super::*;
use crate::directive::testing::{apply, apply_module, TestSite};
use crate::directive::Site;
use crate::origin::Mount;
use crate::testing::{write_file, FakeRuntime, EMPTY_MODULE};
use runtime_api::{Abi, Capabilities, ExecutionConfig, ExitCode, Refusal, RunError};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The request side of one test request.
struct FakeExchange {
    mode: HandlerMode,
    /// The request body, and what reading past it meets.
    body: Vec<u8>,
    body_read: usize,
    body_error: Option<&'static str>,
    /// The trailers that follow the body.
    trailers: Fields,
    /// What getting ready to read the body meets.
    start_error: Option<&'static str>,
    body_starts: usize,
    request: CgiRequest,
    /// What reached the client; the guest can look while it runs.
    client: Arc<std::sync::Mutex<Client>>,
    log: Vec<(Level, String)>,
    notes: Vec<(&'static str, String)>,
    /// Every bound the pipeline put on reading and writing, in order.
    io_bounds: Vec<Option<Instant>>,
}

/// What a fake client received.
#[derive(Default)]
struct Client {
    head: Option<ResponseHead>,
    body: Vec<u8>,
    flushes: usize,
    broken: bool,
    trailers: Option<Fields>,
    /// Whether it hangs up instead of taking body bytes.
    gone: bool,
}

impl FakeExchange {
    fn new() -> Self {
        Self {
            mode: HandlerMode::Section,
            body: Vec::new(),
            body_read: 0,
            body_error: None,
            trailers: Fields::new(),
            start_error: None,
            body_starts: 0,
            request: CgiRequest {
                method: "GET".into(),
                path: "/app".into(),
                ..Default::default()
            },
            client: Arc::default(),
            log: Vec::new(),
            notes: Vec::new(),
            io_bounds: Vec::new(),
        }
    }

    fn logged(&self, needle: &str) -> Option<&(Level, String)> {
        self.log.iter().find(|(_, line)| line.contains(needle))
    }

    /// What was logged about the run, without the line about the module's first use.
    fn run_log(&self) -> Vec<&(Level, String)> {
        self.log
            .iter()
            .filter(|(_, line)| !line.contains("into this process"))
            .collect()
    }

    /// The response the client got: its head and body.
    fn response(&self) -> (ResponseHead, Vec<u8>) {
        let client = self.client.lock().unwrap();
        let head = client.head.clone().expect("a response was sent");
        (head, client.body.clone())
    }
}

impl Wire for FakeExchange {
    type Abort = &'static str;

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Self::Abort> {
        let rest = &self.body[self.body_read..];
        if rest.is_empty() {
            return self.body_error.map_or(Ok(0), Err);
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.body_read += n;
        Ok(n)
    }

    fn read_trailers(&mut self) -> Fields {
        if self.body_read < self.body.len() {
            return Fields::new();
        }
        self.trailers.clone()
    }

    fn send_head(&mut self, head: &ResponseHead) {
        let mut client = self.client.lock().unwrap();
        assert!(client.head.is_none(), "one head per response");
        client.head = Some(head.clone());
    }

    fn send_body(&mut self, bytes: &[u8]) -> Result<(), ClientGone> {
        let mut client = self.client.lock().unwrap();
        assert!(client.head.is_some(), "the head goes first");
        if client.gone {
            return Err(ClientGone);
        }
        client.body.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClientGone> {
        self.client.lock().unwrap().flushes += 1;
        Ok(())
    }

    fn send_trailers(&mut self, trailers: &Fields) {
        let mut client = self.client.lock().unwrap();
        assert!(client.head.is_some(), "the head goes first");
        assert!(
            client.trailers.is_none(),
            "one trailer section per response"
        );
        client.trailers = Some(trailers.clone());
    }

    fn break_off(&mut self) {
        self.client.lock().unwrap().broken = true;
    }

    fn bound_io(&mut self, deadline: Option<Instant>) {
        self.io_bounds.push(deadline);
    }
}

impl Exchange for FakeExchange {
    fn handler_mode(&self) -> HandlerMode {
        self.mode.clone()
    }

    fn start_body(&mut self) -> Result<Option<u64>, Self::Abort> {
        self.body_starts += 1;
        match self.start_error {
            Some(error) => Err(error),
            None => Ok((!self.body.is_empty()).then_some(self.body.len() as u64)),
        }
    }

    fn path(&self) -> String {
        self.request.path.clone()
    }

    fn server_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(300)
    }

    /// Knows one expression: `^/t/[0-9]+`.
    fn pattern_end(&mut self, pattern: &str, subject: &str) -> Option<usize> {
        assert_eq!(pattern, "^/t/[0-9]+");
        let digits = subject.strip_prefix("/t/")?;
        let len = digits.bytes().take_while(u8::is_ascii_digit).count();
        (len > 0).then_some(3 + len)
    }

    /// The server's split (`request.path_info`) unless the pipeline chose one.
    fn cgi_request(&mut self, content_length: Option<u64>, path_info: Option<&str>) -> CgiRequest {
        let mut request = CgiRequest {
            content_length,
            ..self.request.clone()
        };
        if let Some(path_info) = path_info {
            request.path_info = path_info.to_owned();
        }
        request
    }

    fn log(&mut self, level: Level, message: &str) {
        self.log.push((level, message.to_owned()));
    }

    fn note(&mut self, name: &'static str, value: &str) {
        self.notes.push((name, value.to_owned()));
    }

    fn http_request(&mut self) -> HttpRequest {
        let request = &self.request;
        let authority = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map_or_else(
                || format!("{}:{}", request.server.name, request.server.port),
                |(_, host)| host.clone(),
            );
        HttpRequest {
            method: request.method.clone(),
            scheme: request.server.scheme.clone(),
            authority,
            path_with_query: request.request_uri.clone(),
            headers: request.headers.clone(),
        }
    }
}

/// A location running one module under `runtime`, with the directives `extra` on top.
struct Location {
    _dir: tempfile::TempDir,
    module: PathBuf,
    site: TestSite,
    config: SectionConfig,
    modules: ModuleStore,
    stderr_logged: usize,
    stats: Option<Statistics>,
}

impl Location {
    fn new(runtime: FakeRuntime, extra: &[(&str, &[&str])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let module = write_file(dir.path(), "app.wasm", EMPTY_MODULE);
        let mut registry = Registry::new();
        registry.register(runtime);
        let site = TestSite::new(registry);
        let mut config = SectionConfig::default();
        apply_module(&mut config, &site, &module);
        for (directive, args) in extra {
            apply(&mut config, &site, directive, args).unwrap();
        }
        Self {
            _dir: dir,
            module,
            site,
            config,
            modules: ModuleStore::new(),
            stderr_logged: STDERR_LOGGED,
            stats: None,
        }
    }

    /// The same location, counting its requests.
    fn counted(mut self) -> Self {
        self.stats = Some(Statistics::new().unwrap());
        self
    }

    /// The figures of this location's requests.
    fn figures(&self) -> crate::stats::Figures {
        let snapshot = self.stats.as_ref().unwrap().snapshot();
        assert_eq!(snapshot.locations.len(), 1, "{snapshot:?}");
        snapshot.locations[0].figures.clone()
    }

    fn cgi(runtime: FakeRuntime) -> Self {
        Self::new(runtime, &[("WasmEnableCGI", &["On"])])
    }

    fn serve(&self, exchange: &mut FakeExchange) -> Reply<&'static str> {
        let gateway = Gateway {
            registry: self.site.registry(),
            modules: &self.modules,
            stderr_logged: self.stderr_logged,
            stats: self.stats.as_ref(),
        };
        gateway.serve(&self.config, exchange)
    }

    /// What every log line about a run starts with.
    fn context(&self) -> String {
        format!(
            "mod_wasm: <Location /t> (test.conf:1): {} with runtime fake",
            self.module.display()
        )
    }
}

/// A guest that writes `output` to stdout and exits successfully.
fn writing(output: &'static [u8]) -> FakeRuntime {
    FakeRuntime::new("fake").with_guest(move |_, mut stdio| {
        stdio.stdout.write_all(output).unwrap();
        Ok(ExitCode::SUCCESS).into()
    })
}

/// A runtime whose guests succeed, and how many times they ran.
fn counting_runtime() -> (FakeRuntime, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let runtime = FakeRuntime::new("fake").with_guest(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(ExitCode::SUCCESS).into()
    });
    (runtime, runs)
}

/// The response the client got for a request answered with `reply`.
fn respond(reply: Reply<&'static str>, exchange: &FakeExchange) -> (ResponseHead, Vec<u8>) {
    let (head, body) = exchange.response();
    assert_eq!(
        reply,
        Reply::Sent {
            status: head.status
        }
    );
    assert!(!exchange.client.lock().unwrap().broken);
    (head, body)
}

#[test]
fn without_cgi_stdout_is_the_body_and_the_request_is_not_read() {
    let location = Location::new(writing(b"Status: 404\n\nnot parsed"), &[]);
    let mut exchange = FakeExchange::new();
    let reply = location.serve(&mut exchange);
    let (head, body) = respond(reply, &exchange);
    assert_eq!(head.status, 200);
    assert_eq!(head.content_type, None);
    assert_eq!(body, b"Status: 404\n\nnot parsed");
    assert_eq!(exchange.body_starts, 0);
    assert!(exchange.run_log().is_empty(), "{:?}", exchange.log);
}

#[test]
fn a_cgi_response_becomes_the_reply() {
    let location = Location::cgi(writing(
        b"Status: 201 Made\r\nContent-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n\0body",
    ));
    let mut exchange = FakeExchange::new();
    let (head, body) = respond(location.serve(&mut exchange), &exchange);
    assert_eq!((head.status, head.reason.as_deref()), (201, Some("Made")));
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.headers.len(), 2);
    assert_eq!(body, b"\0body");
}

#[test]
fn a_local_location_is_a_local_redirect() {
    let location = Location::cgi(writing(b"Location: /other?x=1\n\nignored"));
    assert_eq!(
        location.serve(&mut FakeExchange::new()),
        Reply::LocalRedirect("/other?x=1".into())
    );
}

#[test]
fn a_local_redirect_reads_the_body_the_guest_left() {
    // The guest redirects without reading its stdin: the body must not stay on the
    // connection, where the server would take it for the client's next request.
    let body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let location = Location::cgi(writing(b"Location: /landing\n\n"));
    let mut exchange = FakeExchange::new();
    exchange.body = body.clone();
    assert_eq!(
        location.serve(&mut exchange),
        Reply::LocalRedirect("/landing".into())
    );
    assert_eq!(exchange.body_read, body.len());

    // A body that cannot be read to its end (over the server's limit, a broken chunk): the
    // request side has answered, and nothing is redirected.
    let mut exchange = FakeExchange::new();
    exchange.body = body;
    exchange.body_error = Some("413");
    assert_eq!(location.serve(&mut exchange), Reply::Aborted("413"));
}

#[test]
fn malformed_output_is_a_502_naming_location_module_and_runtime() {
    let location = Location::cgi(writing(b"hello world\n\n"));
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(502));
    let (level, line) = exchange.logged("malformed CGI response").unwrap();
    assert_eq!(*level, Level::Error);
    assert!(line.starts_with(&location.context()), "{line}");
}

#[test]
fn the_request_is_stdin_and_variables_that_wasm_env_overrides() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let runtime =
        FakeRuntime::new("fake").with_guest(move |config: &ExecutionConfig, mut stdio| {
            let mut stdin = Vec::new();
            stdio.stdin.read_to_end(&mut stdin).unwrap();
            *record.lock().unwrap() = Some((config.clone(), stdin));
            stdio
                .stdout
                .write_all(b"Content-Type: text/plain\n\n")
                .unwrap();
            Ok(ExitCode::SUCCESS).into()
        });
    let location = Location::new(
        runtime,
        &[
            ("WasmEnableCGI", &["On"]),
            ("WasmEnv", &["REQUEST_METHOD", "FORCED"]),
            ("WasmArg", &["--flag"]),
        ],
    );
    let mut exchange = FakeExchange::new();
    exchange.body = b"a=1&b=2".to_vec();
    respond(location.serve(&mut exchange), &exchange);
    let (config, stdin) = seen.lock().unwrap().take().unwrap();
    assert_eq!(stdin, b"a=1&b=2");
    assert_eq!(config.args, ["app.wasm", "--flag"]);
    let var = |name: &str| {
        config
            .env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(var("CONTENT_LENGTH"), Some("7"));
    assert_eq!(var("SCRIPT_NAME"), Some("/app"));
    assert_eq!(var("REQUEST_METHOD"), Some("FORCED"));
}

#[test]
fn a_body_that_cannot_be_read_ends_the_request_before_the_guest_runs() {
    let (runtime, runs) = counting_runtime();
    let location = Location::cgi(runtime);
    let mut exchange = FakeExchange::new();
    exchange.start_error = Some("413 already sent");
    assert_eq!(
        location.serve(&mut exchange),
        Reply::Aborted("413 already sent")
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_trap_is_a_500_and_refusals_are_logged_anyway() {
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        stdio
            .stdout
            .write_all(b"Content-Type: text/plain\n\npartial")
            .unwrap();
        RunReport {
            outcome: Err(RunError::trap("fake", "unreachable", ["main"])),
            refusals: [Refusal::Resolve("db.internal".into())].into(),
            refused_growth: None,
        }
    });
    let location = Location::cgi(runtime);
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    let context = location.context();
    let (_, trap) = exchange.logged("the guest trapped").unwrap();
    assert_eq!(
        *trap,
        format!("{context}: fake: the guest trapped: unreachable; wasm backtrace: main")
    );
    let (level, refusal) = exchange.logged("refused to resolve").unwrap();
    assert_eq!(*level, Level::Error);
    assert!(refusal.starts_with(&context), "{refusal}");
}

#[test]
fn a_guest_refused_again_and_again_logs_the_first_refusals_and_a_count() {
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        stdio
            .stdout
            .write_all(b"Content-Type: text/plain\n\nok")
            .unwrap();
        let mut refusals = runtime_api::Refusals::new();
        for _ in 0..10_000 {
            refusals.record(Refusal::Resolve("db.internal".into()));
        }
        RunReport {
            outcome: Ok(ExitCode::SUCCESS),
            refusals,
            refused_growth: None,
        }
    });
    let location = Location::cgi(runtime).counted();
    let mut exchange = FakeExchange::new();
    respond(location.serve(&mut exchange), &exchange);
    let refused = exchange
        .log
        .iter()
        .filter(|(_, line)| line.contains("refused to resolve"))
        .count();
    assert_eq!(refused, runtime_api::Refusals::KEPT);
    let dropped = 10_000 - runtime_api::Refusals::KEPT;
    assert!(
        exchange
            .logged(&format!(
                "and {dropped} more refusals, not logged one by one"
            ))
            .is_some(),
        "{:?}",
        exchange.log
    );
    // The status page counts every one.
    assert_eq!(location.figures().refusals, 10_000);
}

#[test]
fn a_non_zero_exit_is_a_500_and_zero_is_success() {
    let exits = |code| FakeRuntime::new("fake").with_guest(move |_, _| Ok(ExitCode(code)).into());
    let mut exchange = FakeExchange::new();
    assert_eq!(
        Location::new(exits(3), &[]).serve(&mut exchange),
        Reply::Status(500)
    );
    assert!(exchange.logged("the guest exited with code 3").is_some());
    assert_eq!(
        Location::new(exits(0), &[]).serve(&mut FakeExchange::new()),
        Reply::Sent { status: 200 }
    );
}

#[test]
fn stderr_is_logged_line_by_line_up_to_its_limit() {
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        stdio.stderr.write_all(b"first\r\n\nthird\n").unwrap();
        // Past the limit, writes still succeed: the guest goes on.
        stdio.stderr.write_all(&[b'x'; 100]).unwrap();
        stdio.stdout.write_all(b"done").unwrap();
        Ok(ExitCode::SUCCESS).into()
    });
    let mut location = Location::new(runtime, &[]);
    location.stderr_logged = 32;
    let mut exchange = FakeExchange::new();
    let reply = location.serve(&mut exchange);
    assert_eq!(respond(reply, &exchange).1, b"done");
    let context = location.context();
    let log = exchange.run_log();
    let lines: Vec<&str> = log.iter().map(|(_, l)| l.as_str()).collect();
    // 14 bytes of lines, then 18 of the 100 x's fit.
    let xs = "x".repeat(18);
    let expected = [
        "first",
        "",
        "third",
        &xs,
        "only the first 32 bytes are logged; 82 more bytes were dropped",
    ]
    .map(|line| format!("{context}: stderr: {line}"));
    assert_eq!(lines, expected);
    assert_eq!(log[4].0, Level::Warning);
    assert!(log[..4].iter().all(|(level, _)| *level == Level::Error));
}

#[test]
fn a_buffered_guest_over_the_output_limit_is_a_500() {
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        // The guest sees the limit as a failed write, and may then fail itself.
        match stdio.stdout.write_all(&[b'x'; 3 << 20]) {
            Ok(()) => Ok(ExitCode::SUCCESS).into(),
            Err(_) => Ok(ExitCode(1)).into(),
        }
    });
    let location = Location::new(
        runtime,
        &[
            ("WasmBufferResponse", &["On"]),
            ("WasmOutputLimit", &["2M"]),
        ],
    );
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    assert!(exchange.client.lock().unwrap().head.is_none());
    let (_, line) = exchange.logged("to stdout").unwrap();
    assert_eq!(
        *line,
        format!(
            "{}: the guest wrote more than 2 MiB to stdout (WasmOutputLimit)",
            location.context()
        )
    );
    assert!(
        exchange.logged("exited with code").is_none(),
        "the limit is the cause"
    );
}

#[test]
fn a_missing_script_is_a_404_and_the_module_does_not_run() {
    let (runtime, runs) = counting_runtime();
    let location = Location::new(runtime, &[]);
    let mut exchange = FakeExchange::new();
    exchange.mode = HandlerMode::Interpreter {
        filename: "/var/www/missing.php".into(),
        is_file: false,
    };
    assert_eq!(location.serve(&mut exchange), Reply::Status(404));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(
        exchange.log,
        [(
            Level::Info,
            "mod_wasm: script not found or not a file: /var/www/missing.php".into()
        )]
    );
    exchange.mode = HandlerMode::Interpreter {
        filename: "/var/www/index.php".into(),
        is_file: true,
    };
    respond(location.serve(&mut exchange), &exchange);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn an_interpreter_is_handed_its_script_as_the_guest_sees_it() {
    let site_dir = tempfile::tempdir().unwrap();
    let site = site_dir.path().to_str().unwrap();
    let argv = |extra: &[(&str, &[&str])], filename: String| {
        let (runtime, seen) = recording();
        let location = Location::new(runtime, extra);
        let mut exchange = FakeExchange::new();
        exchange.mode = HandlerMode::Interpreter {
            filename,
            is_file: true,
        };
        respond(location.serve(&mut exchange), &exchange);
        let config = seen.lock().unwrap().take().unwrap();
        config.args
    };
    let script = format!("{site}/blog/hello.py");
    assert_eq!(
        argv(
            &[("WasmArg", &["-B"]), ("WasmMapDir", &["/site", site, "ro"])],
            script.clone()
        ),
        ["app.wasm", "-B", "/site/blog/hello.py"]
    );
    // A script the guest cannot open is not named.
    assert_eq!(argv(&[("WasmArg", &["-B"])], script), ["app.wasm", "-B"]);
}

#[test]
fn a_handler_without_a_module_is_a_500() {
    let mut registry = Registry::new();
    registry.register(FakeRuntime::new("fake"));
    let modules = ModuleStore::new();
    let gateway = Gateway {
        registry: &registry,
        modules: &modules,
        stderr_logged: STDERR_LOGGED,
        stats: None,
    };
    let mut exchange = FakeExchange::new();
    assert_eq!(
        gateway.serve(&SectionConfig::default(), &mut exchange),
        Reply::Status(500)
    );
    assert_eq!(
        exchange.log,
        [(
            Level::Error,
            "mod_wasm: wasm-handler is set here but no WasmModule applies".into()
        )]
    );
}

#[test]
fn grants_the_runtime_cannot_honour_are_refused_per_request_too() {
    // A combination of sections the configuration check could not see.
    let location = Location::new(writing(b""), &[("WasmAllowConnect", &["db:3306"])]);
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    let (_, line) = exchange.logged("cannot open connections").unwrap();
    assert!(
        line.starts_with("mod_wasm: WasmAllowConnect db:3306 in"),
        "{line}"
    );

    let sockets = Capabilities::none().with_outbound_sockets(Abi::new("sockets"));
    let networked = writing(b"").with_capabilities(sockets);
    let location = Location::new(networked, &[("WasmAllowConnect", &["db:3306"])]);
    let mut exchange = FakeExchange::new();
    respond(location.serve(&mut exchange), &exchange);
}

#[test]
fn a_module_is_loaded_once_per_process_and_its_first_use_logged() {
    let runtime = writing(b"ok");
    let location = Location::new(runtime.clone(), &[]);
    let mut exchange = FakeExchange::new();
    for _ in 0..3 {
        let reply = location.serve(&mut exchange);
        assert_eq!(respond(reply, &exchange).1, b"ok");
        exchange.client = Arc::default();
    }
    // Nothing compiled it before the first request: the check could not foresee it.
    assert_eq!(runtime.compiles(), 1);
    let first_uses: Vec<_> = exchange
        .log
        .iter()
        .filter(|(_, line)| line.contains("into this process"))
        .collect();
    assert_eq!(first_uses.len(), 1, "{:?}", exchange.log);
    assert_eq!(first_uses[0].0, Level::Info);
    assert!(
        first_uses[0].1.starts_with(&format!(
            "mod_wasm: compiled and loaded {} with runtime fake into this process",
            location.module.display()
        )),
        "{}",
        first_uses[0].1
    );
}

#[test]
fn a_module_the_check_compiled_is_only_loaded() {
    let runtime = writing(b"ok");
    let location = Location::new(runtime.clone(), &[]);
    let resolved = location.config.resolve(location.site.registry()).unwrap();
    location
        .modules
        .compile(&resolved.key(), resolved.runtime)
        .unwrap();
    let mut exchange = FakeExchange::new();
    respond(location.serve(&mut exchange), &exchange);
    assert_eq!(runtime.compiles(), 1);
    assert_eq!(
        exchange.log,
        [(
            Level::Info,
            format!(
                "mod_wasm: loaded {} with runtime fake into this process",
                location.module.display()
            )
        )]
    );
}

#[test]
fn stderr_lines_split_on_any_line_ending() {
    let lines: Vec<_> = text_lines(b"one\r\ntwo\nthree\n\n").collect();
    assert_eq!(lines, ["one", "two", "three"]);
    let lines: Vec<_> = text_lines(b"a\n\n\xffb").collect();
    assert_eq!(lines, ["a", "", "\u{fffd}b"]);
    assert_eq!(text_lines(b"").count(), 0);
    assert_eq!(text_lines(b"\n\n").count(), 0);
}

/// A runtime whose guest answers with an empty CGI response and keeps the sandbox it saw.
fn recording() -> (FakeRuntime, Arc<std::sync::Mutex<Option<ExecutionConfig>>>) {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let runtime =
        FakeRuntime::new("fake").with_guest(move |config: &ExecutionConfig, mut stdio| {
            *record.lock().unwrap() = Some(config.clone());
            stdio.stdout.write_all(b"Status: 204\n\n").unwrap();
            Ok(ExitCode::SUCCESS).into()
        });
    (runtime, seen)
}

/// SCRIPT_NAME and PATH_INFO as the guest saw them, for a request for `path` that the server
/// split at `server_path_info`, with the module configured where `mount` says.
fn script_name_and_path_info(
    mount: Option<Mount>,
    mode: HandlerMode,
    path: &str,
    server_path_info: &str,
) -> (String, String) {
    let (runtime, seen) = recording();
    let mut location = Location::cgi(runtime);
    location
        .config
        .program
        .module
        .as_mut()
        .unwrap()
        .origin
        .mount = mount;
    let mut exchange = FakeExchange::new();
    exchange.mode = mode;
    exchange.request.path = path.into();
    exchange.request.path_info = server_path_info.into();
    respond(location.serve(&mut exchange), &exchange);
    let config = seen.lock().unwrap().take().unwrap();
    let var = |name: &str| {
        let value = config
            .env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        value.unwrap_or_default()
    };
    (var("SCRIPT_NAME"), var("PATH_INFO"))
}

fn pair(script_name: &str, path_info: &str) -> (String, String) {
    (script_name.to_owned(), path_info.to_owned())
}

#[test]
fn an_app_answering_its_location_is_mounted_where_its_module_is_configured() {
    // The server split at /t, the first path segment under its DocumentRoot that is not there.
    let prefix = Some(Mount::Prefix("/t/env".into()));
    assert_eq!(
        script_name_and_path_info(prefix, HandlerMode::Section, "/t/env/a/b", "/env/a/b"),
        pair("/t/env", "/a/b")
    );
    let pattern = Some(Mount::Pattern("^/t/[0-9]+".into()));
    assert_eq!(
        script_name_and_path_info(pattern, HandlerMode::Section, "/t/42/x", "/42/x"),
        pair("/t/42", "/x")
    );
}

#[test]
fn interpreters_and_modules_configured_elsewhere_keep_the_servers_split() {
    let interpreter = HandlerMode::Interpreter {
        filename: "/var/www/t".into(),
        is_file: true,
    };
    let prefix = Some(Mount::Prefix("/t/env".into()));
    assert_eq!(
        script_name_and_path_info(prefix, interpreter, "/t/env/a", "/env/a"),
        pair("/t", "/env/a")
    );
    assert_eq!(
        script_name_and_path_info(None, HandlerMode::Section, "/t/env/a", "/env/a"),
        pair("/t", "/env/a")
    );
    // A path the mount does not match (after an internal redirect, say).
    let elsewhere = Some(Mount::Prefix("/other".into()));
    assert_eq!(
        script_name_and_path_info(elsewhere, HandlerMode::Section, "/t/env/a", "/env/a"),
        pair("/t", "/env/a")
    );
}

#[test]
fn server_timing_says_how_long_the_guest_ran_when_asked() {
    let served = |location: Location| {
        let mut exchange = FakeExchange::new();
        respond(location.serve(&mut exchange), &exchange).0
    };
    let plain = Location::cgi(writing(b"Content-Type: text/plain\n\nhi"));
    let response = served(plain);
    assert!(response.headers.is_empty(), "{:?}", response.headers);

    let timed = Location::new(
        writing(b"Content-Type: text/plain\nX-A: 1\n\nhi"),
        &[("WasmEnableCGI", &["On"]), ("WasmServerTiming", &["On"])],
    );
    let response = served(timed);
    let (name, value) = &response.headers[1];
    assert_eq!(name, "Server-Timing");
    assert!(
        value.starts_with("wasm;dur=") && value.ends_with(";desc=\"fake\""),
        "{value}"
    );
    let without_cgi = Location::new(writing(b"raw"), &[("WasmServerTiming", &["On"])]);
    let response = served(without_cgi);
    assert_eq!(response.headers[0].0, "Server-Timing");
}

#[test]
fn every_run_is_limited_by_the_sections_limits_or_the_servers_timeout() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let runtime = FakeRuntime::new("fake").with_guest(move |config, _| {
        record.lock().unwrap().push(config.limits);
        Ok(ExitCode::SUCCESS).into()
    });
    for location in [
        Location::new(runtime.clone(), &[]),
        Location::new(
            runtime,
            &[("WasmTimeout", &["2"]), ("WasmMemoryLimit", &["16M"])],
        ),
    ] {
        let mut exchange = FakeExchange::new();
        respond(location.serve(&mut exchange), &exchange);
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        runtime_api::Limits {
            timeout: std::time::Duration::from_secs(300),
            memory: runtime_api::MemorySize::from_mib(256),
        },
        "the server's Timeout and the default memory"
    );
    assert_eq!(
        seen[1],
        runtime_api::Limits {
            timeout: std::time::Duration::from_secs(2),
            memory: runtime_api::MemorySize::from_mib(16),
        }
    );
}

#[test]
fn the_client_is_bounded_by_the_runs_deadline_while_it_runs_and_not_after() {
    let location = Location::new(writing(b"Status: 200\n\nbody"), &[("WasmTimeout", &["2"])]);
    let mut exchange = FakeExchange::new();
    let before = Instant::now();
    respond(location.serve(&mut exchange), &exchange);
    let after = Instant::now();
    let [Some(deadline), None] = exchange.io_bounds[..] else {
        panic!("bounds: {:?}", exchange.io_bounds);
    };
    let limit = std::time::Duration::from_secs(2);
    assert!(deadline >= before + limit && deadline <= after + limit);
}

#[test]
fn a_body_that_fails_at_the_deadline_is_logged_as_the_time_limit_whatever_the_guest_did() {
    // The guest meets the failed read at its deadline and traps before its engine stops it.
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        std::thread::sleep(std::time::Duration::from_millis(60));
        let mut body = Vec::new();
        assert!(stdio.stdin.read_to_end(&mut body).is_err());
        Err(RunError::Trap {
            runtime: "fake",
            reason: "unreachable".into(),
        })
        .into()
    });
    let location = Location::new(
        runtime,
        &[("WasmEnableCGI", &["On"]), ("WasmTimeout", &["50ms"])],
    );
    let mut exchange = FakeExchange::new();
    exchange.body = b"partial".to_vec();
    exchange.body_error = Some("408");
    assert_eq!(location.serve(&mut exchange), Reply::Aborted("408"));
    let (_, line) = exchange.logged("request body").unwrap();
    assert!(
        line.ends_with(
            "the request body could not be read: it had not arrived when the guest was stopped \
             after WasmTimeout 50 ms"
        ),
        "{line}"
    );
}

#[test]
fn a_guest_stopped_at_its_time_limit_is_a_504() {
    let runtime = FakeRuntime::new("fake").with_guest(|config, mut stdio| {
        stdio.stdout.write_all(b"Status: 200\n\npartial").unwrap();
        Err(RunError::TimedOut {
            runtime: "fake",
            limit: config.limits.timeout,
        })
        .into()
    });
    let location = Location::new(runtime, &[("WasmTimeout", &["1500ms"])]);
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(504));
    let (level, line) = exchange.logged("WasmTimeout").unwrap();
    assert_eq!(*level, Level::Error);
    assert_eq!(
        *line,
        format!(
            "{}: the guest was stopped after WasmTimeout 1.5 s",
            location.context()
        )
    );
}

#[test]
fn a_guest_stopped_because_the_server_stops_is_a_503() {
    let runtime = FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        stdio.stdout.write_all(b"Status: 200\n\npartial").unwrap();
        Err(RunError::Stopped { runtime: "fake" }).into()
    });
    let location = Location::new(runtime, &[]);
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(503));
    let (level, line) = exchange.logged("server is stopping").unwrap();
    assert_eq!(*level, Level::Warning);
    assert_eq!(
        *line,
        format!(
            "{}: the guest was stopped because the server is stopping",
            location.context()
        )
    );
}

#[test]
fn a_failure_after_a_refused_growth_names_the_memory_limit() {
    let growth = runtime_api::RefusedGrowth {
        requested: 512 << 20,
        limit: runtime_api::MemorySize::from_mib(64),
    };
    let fails = move |_: &ExecutionConfig, _| RunReport {
        outcome: Err(RunError::trap("fake", "unreachable", [])),
        refusals: runtime_api::Refusals::new(),
        refused_growth: Some(growth),
    };
    let location = Location::new(FakeRuntime::new("fake").with_guest(fails), &[]);
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    let (_, line) = exchange.logged("the guest trapped").unwrap();
    assert_eq!(
        *line,
        format!(
            "{}: fake: the guest trapped: unreachable; WasmMemoryLimit had refused to grow \
             linear memory to 512 MiB: the limit is 64 MiB, the likely cause",
            location.context()
        )
    );

    // A guest that copes with the refusal succeeds; the refusal is still worth a warning.
    let copes = move |_: &ExecutionConfig, _| RunReport {
        outcome: Ok(ExitCode::SUCCESS),
        refusals: runtime_api::Refusals::new(),
        refused_growth: Some(growth),
    };
    let location = Location::new(FakeRuntime::new("fake").with_guest(copes), &[]);
    let mut exchange = FakeExchange::new();
    respond(location.serve(&mut exchange), &exchange);
    let (level, _) = exchange.logged("refused to grow").unwrap();
    assert_eq!(*level, Level::Warning);
}

#[test]
fn a_module_out_of_service_since_a_restart_is_a_503_and_does_not_run() {
    let (runtime, runs) = counting_runtime();
    let location = Location::new(runtime, &[]);
    let key = crate::ModuleKey {
        runtime: "fake",
        path: location.module.clone(),
        init: None,
    };
    location
        .modules
        .set_unavailable(&key, "fake: not a valid WebAssembly module".into());
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(503));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let (level, line) = exchange
        .logged("unavailable since the last restart")
        .unwrap();
    assert_eq!(*level, Level::Error);
    assert!(
        line.ends_with("fake: not a valid WebAssembly module"),
        "{line}"
    );
}

#[test]
fn requests_are_counted_with_how_they_ended() {
    let trap = |_: &ExecutionConfig, _| Err(RunError::trap("fake", "unreachable", [])).into();
    let location = Location::new(FakeRuntime::new("fake").with_guest(trap), &[]).counted();
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    assert_eq!(location.serve(&mut FakeExchange::new()), Reply::Status(500));
    let figures = location.figures();
    assert_eq!(figures.requests, 2);
    assert_eq!(figures.responses["5xx"], 2);
    assert_eq!(figures.failures["trap"], 2);
    assert_eq!((figures.loads_inherited, figures.loads_lazy), (0, 1));
    assert_eq!(exchange.notes[0], (notes::RUNTIME, "fake".to_owned()));
    assert_eq!(exchange.notes[1].0, notes::RUN_MICROSECONDS);

    let ok = Location::cgi(FakeRuntime::new("fake").with_guest(|_, mut stdio| {
        stdio.stdout.write_all(b"Status: 404\n\n").unwrap();
        Ok(ExitCode::SUCCESS).into()
    }))
    .counted();
    assert_eq!(
        ok.serve(&mut FakeExchange::new()),
        Reply::Sent { status: 404 }
    );
    let figures = ok.figures();
    assert_eq!(figures.responses["4xx"], 1);
    assert_eq!(figures.failures.values().sum::<u64>(), 0);

    let mut refused = FakeExchange::new();
    refused.mode = HandlerMode::Interpreter {
        filename: "/srv/missing.php".into(),
        is_file: false,
    };
    let interpreter = Location::new(FakeRuntime::new("fake"), &[]).counted();
    assert_eq!(interpreter.serve(&mut refused), Reply::Status(404));
    assert_eq!(interpreter.figures().failures["not_found"], 1);
}

/// A CGI guest that runs `guest` with what its client got so far in view.
fn streaming(
    guest: impl Fn(&mut Stdio) -> Result<ExitCode, RunError> + Send + Sync + 'static,
) -> FakeRuntime {
    FakeRuntime::new("fake").with_guest(move |_, mut stdio| guest(&mut stdio).into())
}

const HEAD: &[u8] = b"Content-Type: text/plain\n\n";

#[test]
fn a_streamed_body_reaches_the_client_while_the_guest_runs() {
    let mut exchange = FakeExchange::new();
    let client = exchange.client.clone();
    let location = Location::cgi(streaming(move |stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(b"small").unwrap();
        // Small writes are held back, so that an early failure is still a clean error.
        assert!(client.lock().unwrap().head.is_none());
        stdio.stdout.write_all(&[b'x'; HOLD_BACK]).unwrap();
        let sent = client.lock().unwrap().body.len();
        assert_eq!(sent, 5 + HOLD_BACK, "sent once enough waits");
        stdio.stdout.write_all(b"end").unwrap();
        Ok(ExitCode::SUCCESS)
    }));
    let reply = location.serve(&mut exchange);
    let (head, body) = respond(reply, &exchange);
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(body.len(), 5 + HOLD_BACK + 3);
    assert!(body.ends_with(b"xend"));
}

#[test]
fn what_an_idle_guest_wrote_is_flushed_to_the_client() {
    let mut exchange = FakeExchange::new();
    let client = exchange.client.clone();
    let location = Location::cgi(streaming(move |stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(b"first").unwrap();
        let waited = Instant::now();
        while client.lock().unwrap().flushes == 0 {
            assert!(waited.elapsed() < Duration::from_secs(5), "never flushed");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(waited.elapsed() >= stream::IDLE);
        assert_eq!(client.lock().unwrap().body, b"first");
        stdio.stdout.write_all(b", last").unwrap();
        Ok(ExitCode::SUCCESS)
    }));
    let reply = location.serve(&mut exchange);
    assert_eq!(respond(reply, &exchange).1, b"first, last");
}

#[test]
fn a_guest_that_waits_for_the_request_body_has_its_output_sent_first() {
    let mut exchange = FakeExchange::new();
    exchange.body = b"posted".to_vec();
    let client = exchange.client.clone();
    let location = Location::cgi(streaming(move |stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(b"reading: ").unwrap();
        let mut body = Vec::new();
        stdio.stdin.read_to_end(&mut body).unwrap();
        assert_eq!(client.lock().unwrap().body, b"reading: ");
        stdio.stdout.write_all(&body).unwrap();
        Ok(ExitCode::SUCCESS)
    }));
    let reply = location.serve(&mut exchange);
    assert_eq!(respond(reply, &exchange).1, b"reading: posted");
}

#[test]
fn a_guest_that_fails_after_its_response_started_has_it_cut_off() {
    let location = Location::cgi(streaming(|stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(&[b'x'; 2 * HOLD_BACK]).unwrap();
        Err(RunError::trap("fake", "unreachable", []))
    }));
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Sent { status: 200 });
    let client = exchange.client.lock().unwrap();
    assert!(client.broken);
    assert_eq!(client.body.len(), 2 * HOLD_BACK);
    assert!(exchange.logged("the guest trapped").is_some());
    let (level, line) = exchange.logged("cut off").unwrap();
    assert_eq!(*level, Level::Error);
    assert_eq!(
        *line,
        format!(
            "{}: the response was cut off after 256 KiB of its body",
            location.context()
        )
    );
}

#[test]
fn a_header_block_waits_for_its_body_so_a_failure_before_the_body_is_a_clean_500() {
    let location = Location::cgi(streaming(|stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        std::thread::sleep(stream::IDLE * 3);
        Err(RunError::trap("fake", "division by zero", []))
    }));
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    assert!(exchange.client.lock().unwrap().head.is_none());
}

#[test]
fn a_guest_that_fails_before_its_response_started_gets_a_clean_500() {
    let location = Location::cgi(streaming(|stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(b"partial").unwrap();
        Err(RunError::trap("fake", "unreachable", []))
    }));
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(500));
    let client = exchange.client.lock().unwrap();
    assert!(client.head.is_none() && !client.broken);
}

#[test]
fn a_buffered_response_goes_out_only_once_the_guest_succeeded() {
    let output_while_running = |buffered: &'static str| {
        let mut exchange = FakeExchange::new();
        let client = exchange.client.clone();
        let location = Location::new(
            streaming(move |stdio| {
                stdio.stdout.write_all(HEAD).unwrap();
                stdio.stdout.write_all(&[b'x'; 4 * HOLD_BACK]).unwrap();
                std::thread::sleep(stream::IDLE * 3);
                let sent = client.lock().unwrap().body.len();
                stdio
                    .stdout
                    .write_all(format!("{sent}").as_bytes())
                    .unwrap();
                Ok(ExitCode::SUCCESS)
            }),
            &[
                ("WasmEnableCGI", &["On"]),
                ("WasmBufferResponse", &[buffered]),
            ],
        );
        let reply = location.serve(&mut exchange);
        let body = respond(reply, &exchange).1;
        String::from_utf8_lossy(&body[4 * HOLD_BACK..]).into_owned()
    };
    assert_eq!(output_while_running("On"), "0");
    assert_eq!(output_while_running("Off"), (4 * HOLD_BACK).to_string());
}

#[test]
fn a_streamed_guest_over_the_output_limit_has_its_response_cut_off() {
    let location = Location::new(
        streaming(|stdio| match stdio.stdout.write_all(&[b'x'; 3 << 20]) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(_) => Ok(ExitCode(1)),
        }),
        &[("WasmOutputLimit", &["2M"])],
    );
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Sent { status: 200 });
    let client = exchange.client.lock().unwrap();
    assert!(client.broken);
    assert_eq!(client.body.len(), 2 << 20);
    assert!(exchange.logged("more than 2 MiB to stdout").is_some());
}

#[test]
fn a_body_that_fails_while_the_guest_reads_it_ends_the_request_as_the_server_answered() {
    let mut exchange = FakeExchange::new();
    exchange.body = b"part".to_vec();
    exchange.body_error = Some("413 already sent");
    let location = Location::cgi(streaming(|stdio| {
        let mut body = Vec::new();
        let read = stdio.stdin.read_to_end(&mut body);
        assert!(read.is_err());
        assert_eq!(body, b"part");
        stdio.stdout.write_all(HEAD).unwrap();
        Ok(ExitCode(1))
    }));
    assert_eq!(
        location.serve(&mut exchange),
        Reply::Aborted("413 already sent")
    );
    assert!(exchange.client.lock().unwrap().head.is_none());
}

#[test]
fn a_client_that_went_away_ends_the_guests_writes_and_is_no_error() {
    let mut exchange = FakeExchange::new();
    exchange.client.lock().unwrap().gone = true;
    let location = Location::cgi(streaming(|stdio| {
        stdio.stdout.write_all(HEAD).unwrap();
        stdio.stdout.write_all(&[b'x'; HOLD_BACK]).unwrap();
        let refused = stdio.stdout.write_all(b"more").unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::BrokenPipe);
        Ok(ExitCode(1))
    }));
    assert_eq!(location.serve(&mut exchange), Reply::Sent { status: 200 });
    let (level, line) = exchange.logged("went away").unwrap();
    assert_eq!(*level, Level::Info);
    assert!(
        line.ends_with("the client went away after 0 bytes of the response; it exited with code 1"),
        "{line}"
    );
    assert!(exchange
        .logged("exited with code 1")
        .iter()
        .all(|(l, _)| *l == Level::Info));
}

#[test]
fn a_guest_that_never_finishes_its_header_block_gets_a_502() {
    let location = Location::cgi(writing(b"Content-Type: text/plain\n"));
    let mut exchange = FakeExchange::new();
    assert_eq!(location.serve(&mut exchange), Reply::Status(502));
    assert!(exchange.logged("does not end with a blank line").is_some());
}

/// A request with a chunked-style body followed by trailers, to a handler.
fn trailing_request() -> FakeExchange {
    let mut exchange = FakeExchange::new();
    exchange.body = b"abc".to_vec();
    exchange.trailers = vec![("X-Sum".into(), "1".into())];
    exchange
}

#[test]
fn a_handler_reads_the_trailers_after_the_body_and_its_own_follow_its_whole_body() {
    let runtime = FakeRuntime::new("fake").with_handler(|_, mut body, mut response| {
        assert_eq!(body.trailers(), Fields::new(), "none before the body's end");
        let mut read = Vec::new();
        body.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"abc");
        assert_eq!(body.trailers(), [("X-Sum".to_owned(), "1".to_owned())]);
        response.head(200, vec![("content-type".into(), "text/plain".into())]);
        response.write_all(b"ok").unwrap();
        response.trailers(
            [
                ("x-sum", "1"),
                ("Content-Length", "9"),
                ("transfer-encoding", "chunked"),
                ("content-type", "text/html"),
                ("Trailer", "x-sum"),
                ("x-digest", "sha-256=:x:"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .to_vec(),
        );
        Ok(ExitCode::SUCCESS).into()
    });
    let location = Location::new(runtime, &[]);
    let mut exchange = trailing_request();
    let reply = location.serve(&mut exchange);
    let (head, body) = respond(reply, &exchange);
    assert_eq!((head.status, body.as_slice()), (200, &b"ok"[..]));
    // Those a trailer section cannot carry (framing, the content's type) are dropped.
    assert_eq!(
        exchange.client.lock().unwrap().trailers,
        Some(vec![
            ("x-sum".to_owned(), "1".to_owned()),
            ("x-digest".to_owned(), "sha-256=:x:".to_owned()),
        ])
    );
}

#[test]
fn a_handler_that_fails_after_giving_trailers_has_its_response_cut_off_without_them() {
    let runtime = FakeRuntime::new("fake").with_handler(|_, _, mut response| {
        response.head(200, Vec::new());
        response.write_all(&vec![b'x'; HOLD_BACK + 1]).unwrap();
        response.trailers(vec![("x-sum".into(), "1".into())]);
        Err(RunError::trap("fake", "unreachable", [])).into()
    });
    let location = Location::new(runtime, &[]);
    let mut exchange = trailing_request();
    let reply = location.serve(&mut exchange);
    assert_eq!(reply, Reply::Sent { status: 200 });
    let client = exchange.client.lock().unwrap();
    assert!(client.broken);
    assert_eq!(client.trailers, None);
}
