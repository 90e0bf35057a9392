//! Components, under every runtime that runs them: a `wasi:http` handler of WASI 0.2 and one of
//! WASI 0.3 answer requests themselves (status, headers, a streamed body, a trap, a time limit,
//! outgoing requests only where granted), WASI 0.3 instances are reused where `WasmReuse` says,
//! a 0.3 handler that componentize-py built from Python is served, a
//! `wasi:cli/run` command runs CGI-style like a core module, and neither listens nor uses UDP
//! (their connections are `tests/tests/guestbook.rs`'s); under the other runtimes the
//! configuration is refused.

use mod_wasm_tests::{component, python_service, runtime, runtimes, Config, Mpm};
use std::time::{Duration, Instant};

/// The runtimes of the build under test that run components.
fn component_runtimes() -> Vec<&'static str> {
    let capable: Vec<_> = runtimes()
        .into_iter()
        .filter(|name| runtime(name).components)
        .collect();
    assert!(
        !capable.is_empty() || runtimes().iter().all(|r| *r != "wasmtime"),
        "wasmtime runs components"
    );
    capable
}

/// The `wasi:http` handlers, each with its greeting: WASI 0.2's (`examples/http-hello`) and
/// WASI 0.3's (`examples/http-service`), which answer the same paths the same way.
const HANDLERS: [(&str, &str); 2] = [
    ("http_hello", "Hello from a wasi:http component!\n"),
    (
        "http_service",
        "Hello from a WASI 0.3 wasi:http component!\n",
    ),
];

/// A location served by the handler component `handler`.
fn location_of(handler: &str, path: &str, runtime: &str, directives: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{directives}</Location>\n",
        component(handler).display()
    )
}

/// A location served by the WASI 0.2 handler.
fn handler_location(path: &str, runtime: &str, directives: &str) -> String {
    location_of("http_hello", path, runtime, directives)
}

/// Runs `test` under every runtime that runs components, with each handler and its greeting.
fn for_each_handler(test: impl Fn(&'static str, &'static str, &'static str)) {
    for runtime in component_runtimes() {
        for (handler, greeting) in HANDLERS {
            test(runtime, handler, greeting);
        }
    }
}

#[test]
fn a_wasi_http_handler_answers_with_its_own_status_headers_and_body() {
    for_each_handler(|runtime, handler, greeting| {
        let who = format!("{runtime}, {handler}");
        let apache = Config::new(&location_of(handler, "/app", runtime, "")).start();

        let hello = apache.get("/app/?name=x");
        assert_eq!(hello.status, 200, "{who}: {}", apache.error_log());
        assert_eq!(hello.header("Content-Type"), Some("text/plain"));
        assert_eq!(hello.text(), greeting);

        let headers = apache.get("/app/headers");
        assert_eq!(headers.status, 201, "{who}");
        assert_eq!(headers.headers_named("Set-Cookie"), ["a=1", "b=2"]);
        assert_eq!(headers.header("X-Method"), Some("GET"));

        let body: Vec<u8> = (0..3 * 1024 * 1024 + 7)
            .map(|i| (i * 13 % 251) as u8)
            .collect();
        let echoed = apache
            .request("POST", "/app/echo")
            .header("Content-Type", "application/x-test")
            .body(body.clone())
            .send();
        assert_eq!(echoed.status, 200, "{who}: {}", apache.error_log());
        assert_eq!(echoed.header("Content-Type"), Some("application/x-test"));
        assert!(echoed.body == body, "{who}: the echoed body differs");

        let chunked = apache
            .request("POST", "/app/echo")
            .chunked_body(body.clone(), 100_000)
            .send();
        assert_eq!(chunked.status, 200, "{who}");
        assert!(chunked.body == body, "{who}: the chunked body differs");
    });
}

#[test]
fn a_handlers_status_reaches_the_client_as_sent_even_one_apache_has_no_name_for() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        let apache = Config::new(&location_of(handler, "/app", runtime, "")).start();
        for (status, reason) in [
            (418, "Status 418"),
            (451, "Unavailable For Legal Reasons"),
            (599, "Status 599"),
        ] {
            let response = apache.get(&format!("/app/status?{status}"));
            assert_eq!(
                (response.status, response.reason.as_str()),
                (status, reason),
                "{who}: {}",
                apache.error_log()
            );
            assert_eq!(response.text(), format!("status {status}\n"), "{who}");
        }
    });
}

#[test]
fn a_handlers_response_reaches_the_client_before_the_handler_finishes() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        let apache = Config::new(&location_of(handler, "/app", runtime, "")).start();
        let started = Instant::now();
        let mut response = apache.request("GET", "/app/drip").open().unwrap();
        assert_eq!(response.status, 200, "{who}");
        response.expect_drip(started, &who);
    });
}

#[test]
fn a_handler_past_its_time_limit_is_stopped_even_while_it_waits() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        // drip writes its first line, then waits two seconds in a host call (a sleep).
        let apache =
            Config::new(&location_of(handler, "/app", runtime, "  WasmTimeout 1\n")).start();
        let started = Instant::now();
        let mut response = apache.request("GET", "/app/drip").open().unwrap();
        assert_eq!(response.status, 200, "{who}");
        let (_, error) = response
            .read_rest()
            .err()
            .unwrap_or_else(|| panic!("{who}: no response cut off at the time limit"));
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{who}");
        assert!(started.elapsed() < Duration::from_millis(1900), "{who}");
        let log = apache.wait_for_log("WasmTimeout");
        assert!(
            log.contains("the guest was stopped after WasmTimeout 1 s"),
            "{who}: {log}"
        );
    });
}

/// Over HTTP/2 (h2c, as a client that knows the server speaks it connects): `curl` with the
/// request's `body`. The response's head, then its trailers, as curl dumps them, and its body.
fn curl_h2(port: u16, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    use std::io::Write;
    let scratch = tempfile::tempdir().unwrap();
    let dumped = scratch.path().join("head");
    let mut curl = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "--data-binary",
            "@-",
            "-D",
        ])
        .arg(&dumped)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running curl");
    curl.stdin.take().unwrap().write_all(body).unwrap();
    let out = curl.wait_with_output().unwrap();
    assert!(out.status.success(), "curl failed: {}", out.status);
    (std::fs::read_to_string(dumped).unwrap(), out.stdout)
}

#[test]
fn a_handler_reads_the_request_trailers_and_sends_its_own_over_http2() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        let body = format!(
            "{}Protocols h2c http/1.1\nLogFormat \"%>s length=%{{x-body-length}}^to checksum=%{{x-checksum}}^to type=%{{content-type}}^to\" trailers\nCustomLog logs/access.log trailers\n{}",
            mod_wasm_tests::load_module("http2"),
            location_of(handler, "/app", runtime, "")
        );
        let config = Config::new(&body);
        config.scratch.dir("logs");
        let apache = config.start();

        // HTTP/1.1: the trailers of a chunked request reach the handler after the body.
        let response = apache
            .request("POST", "/app/trailers")
            .chunked_body(vec![b'x'; 100_000], 30_000)
            .trailer("X-Checksum", "abc")
            .trailer("X-Count", "2")
            .trailer("Content-Type", "text/html")
            .send();
        assert_eq!(response.status, 200, "{who}: {}", apache.error_log());
        let mut received: Vec<_> = response.text().lines().map(str::to_owned).collect();
        received.sort();
        assert_eq!(
            received,
            ["content-type: text/html", "x-checksum: abc", "x-count: 2"],
            "{who}"
        );
        let plain = apache.request("POST", "/app/trailers").body("xyz").send();
        assert_eq!((plain.status, plain.text()), (200, String::new()), "{who}");

        // HTTP/2: the handler's trailers follow its body; those a trailer section cannot carry
        // are not among them.
        let (head, body) = curl_h2(apache.port(), "/app/trailers", &[b'y'; 12_345]);
        assert!(head.starts_with("HTTP/2 200"), "{who}: {head}");
        assert_eq!(body, b"", "{who}");
        let trailer_section = head.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_eq!(
            trailer_section.trim(),
            "x-body-length: 12345",
            "{who}: {head}"
        );

        // Over HTTP/1.1 the response's trailers go nowhere (Apache 2.4's chunked encoding
        // has none) but into the request, where the access log finds them: the handler sent
        // back every trailer it was sent, and one a trailer cannot carry was dropped.
        // Apache logs a request once its response went out (the third, HTTP/2's, as mod_http2
        // leaves it).
        let access_log = apache.scratch().path().join("logs/access.log");
        let read_log = || std::fs::read_to_string(&access_log).unwrap_or_default();
        let waited = Instant::now();
        while read_log().lines().count() < 3 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = read_log();
        assert_eq!(
            log.lines().take(2).collect::<Vec<_>>(),
            [
                "200 length=100000 checksum=abc type=-",
                "200 length=3 checksum=- type=-"
            ],
            "{who}"
        );
    });
}

#[test]
fn a_trailer_section_over_the_servers_limits_is_refused_and_the_child_lives_on() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        let apache = Config::new(&location_of(handler, "/app", runtime, "")).start();
        let children = apache.children();
        // One field longer than LimitRequestFieldSize (8190 bytes), then more fields than
        // LimitRequestFields (100): Apache refuses either trailer section, as it would the
        // same header section.
        let long = "x".repeat(10_000);
        let too_long = apache
            .request("POST", "/app/trailers")
            .chunked_body(b"hello".to_vec(), 5)
            .trailer("X-Long", &long)
            .send();
        let mut many = apache
            .request("POST", "/app/trailers")
            .chunked_body(b"hello".to_vec(), 5);
        for i in 0..150 {
            many = many.trailer(&format!("X-Field-{i}"), "1");
        }
        let too_many = many.send();
        for (what, response) in [("too long", too_long), ("too many", too_many)] {
            assert_eq!(
                response.status,
                400,
                "{who}: {what}: {}",
                apache.error_log()
            );
        }
        assert_eq!(apache.get("/app/").status, 200, "{who}");
        assert_eq!(apache.children(), children, "{who}");
    });
}

#[test]
fn a_trapping_handler_gets_a_500_and_its_child_lives_on() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        let apache = Config::new(&location_of(handler, "/app", runtime, "")).start();
        let children = apache.children();
        assert_eq!(apache.get("/app/trap").status, 500, "{who}");
        let log = apache.wait_for_log("the guest trapped");
        assert!(
            log.contains(&format!("with runtime {runtime}")),
            "{who}: {log}"
        );
        assert_eq!(apache.get("/app/").status, 200, "{who}");
        assert_eq!(apache.children(), children, "{who}");
        assert!(!apache.error_log().contains("exit signal"), "{who}");
    });
}

#[test]
fn a_wasi_03_handler_gets_a_fresh_instance_for_every_request() {
    for runtime in component_runtimes() {
        let apache = Config::new(&location_of("http_service", "/app", runtime, "")).start();
        // The handler counts the requests its instance handled.
        for _ in 0..3 {
            let count = apache.get("/app/count");
            assert_eq!(count.status, 200, "{runtime}: {}", apache.error_log());
            assert_eq!(count.text(), "1\n", "{runtime}");
        }
        // What the configuration test found the file to be, in the log.
        let log = apache.error_log();
        let compiled = log
            .lines()
            .find(|line| line.contains("mod_wasm: compiled") && line.contains("http_service"))
            .unwrap_or_else(|| panic!("{runtime}: no compile noted:\n{log}"));
        assert!(
            compiled.ends_with(": a WASI 0.3 HTTP handler component (wasi:http/handler)"),
            "{runtime}: {compiled}"
        );
    }
}

/// One server process serving one request at a time (prefork, one child): every request meets
/// the instances the requests before it left.
const ONE_CHILD: &str =
    "MinSpareServers 1\nMaxSpareServers 1\nMaxRequestWorkers 1\nServerLimit 1\n";

#[test]
fn wasm_reuse_lets_a_wasi_03_instance_serve_request_after_request() {
    for runtime in component_runtimes() {
        let location =
            |path: &str, directives: &str| location_of("http_service", path, runtime, directives);
        let body = ONE_CHILD.to_owned()
            + &location("/on", "  WasmReuse On\n")
            + &location("/three", "  WasmReuse 3\n")
            + &location("/off", "  WasmReuse Off\n")
            + &location("/limited", "  WasmReuse On\n  WasmTimeout 1\n");
        let apache = Config::new(&body).mpm(Mpm::Prefork).start();
        // The handler counts the requests its instance handled.
        let count = |path: &str| {
            let response = apache.get(path);
            assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
            response.text().trim().parse::<u32>().unwrap()
        };
        let counts = |path: &str| (0..7).map(|_| count(path)).collect::<Vec<_>>();
        assert_eq!(counts("/on/count"), [1, 2, 3, 4, 5, 6, 7], "{runtime}");
        assert_eq!(counts("/three/count"), [1, 2, 3, 1, 2, 3, 1], "{runtime}");
        assert_eq!(counts("/off/count"), [1; 7], "{runtime}");

        // A trap drops its instance: the next request gets a fresh one.
        assert_eq!(apache.get("/on/trap").status, 500, "{runtime}");
        assert_eq!(counts("/on/count")[..2], [1, 2], "{runtime}");

        // The time limit is each request's own, and a run stopped at it drops its instance.
        assert_eq!(counts("/limited/count")[..2], [1, 2], "{runtime}");
        let mut response = apache.request("GET", "/limited/drip").open().unwrap();
        assert!(response.read_rest().is_err(), "{runtime}: not cut off");
        assert_eq!(count("/limited/count"), 1, "{runtime}");
    }
}

#[test]
fn a_wasi_03_handler_that_componentize_py_built_from_python_is_served_and_reused() {
    let python = python_service();
    for runtime in component_runtimes() {
        let location = |path: &str, directives: &str| {
            format!(
                "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
                 WasmModule {}\n{directives}</Location>\n",
                python.display()
            )
        };
        let body =
            ONE_CHILD.to_owned() + &location("/py", "") + &location("/reused", "  WasmReuse On\n");
        let apache = Config::new(&body).mpm(Mpm::Prefork).start();
        let hello = apache.get("/py/");
        assert_eq!(hello.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(hello.header("Content-Type"), Some("text/plain"));
        assert_eq!(
            hello.text(),
            "Hello from Python, a WASI 0.3 wasi:http component!\n"
        );
        let counts = |path: &str| {
            (0..3)
                .map(|_| apache.get(path).text())
                .collect::<Vec<_>>()
                .join("")
        };
        assert_eq!(counts("/py/count"), "1\n1\n1\n", "{runtime}");
        assert_eq!(counts("/reused/count"), "1\n2\n3\n", "{runtime}");
    }
}

#[test]
fn wasm_reuse_is_refused_for_modules_other_than_wasi_03_handlers() {
    for runtime in component_runtimes() {
        let config = Config::new(&handler_location("/app", runtime, "  WasmReuse On\n"));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        assert!(
            result.output.contains("WasmReuse in <Location /app> (")
                && result.output.contains(
                    "): only WASI 0.3 HTTP handlers are reused (wasi:http/handler), and the \
                     module is a WASI 0.2 HTTP handler component (wasi:http/incoming-handler)"
                ),
            "{runtime}: {}",
            result.output
        );
    }
}

#[test]
fn outgoing_requests_go_only_where_wasm_allow_connect_grants() {
    for_each_handler(|runtime, handler, _| {
        let who = format!("{runtime}, {handler}");
        // The upstream: another Apache, serving a file.
        let upstream = Config::new("");
        upstream
            .scratch
            .file("htdocs/upstream.txt", "from the upstream\n");
        let upstream = upstream.start();
        let origin = format!("127.0.0.1:{}", upstream.port());
        let url = format!("http://{origin}/upstream.txt");
        let body = location_of(
            handler,
            "/granted",
            runtime,
            &format!("  WasmAllowConnect {origin}\n"),
        ) + &location_of(handler, "/refused", runtime, "");
        let apache = Config::new(&body).start();

        let granted = apache.get(&format!("/granted/fetch?{url}"));
        assert_eq!(granted.status, 200, "{who}: {}", apache.error_log());
        assert_eq!(granted.header("X-Upstream-Status"), Some("200"));
        assert_eq!(granted.text(), "from the upstream\n");

        let refused = apache.get(&format!("/refused/fetch?{url}"));
        assert_eq!(refused.status, 502, "{who}: {}", refused.text());
        assert!(
            refused.text().contains("HttpRequestDenied"),
            "{}",
            refused.text()
        );
        let log = apache.wait_for_log("refused an HTTP request");
        assert!(
            log.contains(&format!(
                "refused an HTTP request to {origin}: no WasmAllowConnect grants it"
            )),
            "{who}: {log}"
        );
    });
}

#[test]
fn a_handler_connects_only_where_wasm_allow_connect_grants() {
    for runtime in component_runtimes() {
        // Something to connect to: another Apache.
        let upstream = Config::new("").start();
        let port = upstream.port();
        let body = handler_location(
            "/granted",
            runtime,
            &format!("  WasmAllowConnect 127.0.0.1:{port} localhost:{port}\n"),
        ) + &handler_location("/refused", runtime, "");
        let apache = Config::new(&body).start();

        for target in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
            let granted = apache.get(&format!("/granted/connect?{target}"));
            assert_eq!(
                granted.status,
                200,
                "{runtime}: {target}: {}",
                granted.text()
            );
            assert!(granted.text().starts_with("connected to "), "{runtime}");
        }
        let refused = apache.get(&format!("/refused/connect?127.0.0.1:{port}"));
        assert_eq!(refused.status, 502, "{runtime}: {}", refused.text());
        let needle = format!("refused a connection to 127.0.0.1:{port}");
        assert!(apache.wait_for_log(&needle).contains(&needle), "{runtime}");
        let unresolved = apache.get(&format!("/refused/connect?localhost:{port}"));
        assert_eq!(unresolved.status, 502, "{runtime}: {}", unresolved.text());
        let needle = "refused to resolve 'localhost'";
        assert!(apache.wait_for_log(needle).contains(needle), "{runtime}");
    }
}

#[test]
fn a_component_with_outbound_tcp_can_neither_listen_nor_use_udp() {
    for runtime in component_runtimes() {
        let apache = Config::new(&format!(
            "<Location /probe>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmArg listen\n  WasmAllowConnect 127.0.0.1:3306\n</Location>\n",
            component("probe").display()
        ))
        .start();
        let tried = apache.get("/probe");
        assert_eq!(tried.status, 200, "{runtime}: {}", apache.error_log());
        let text = tried.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{runtime}: {text}");
        for line in lines {
            assert!(line.contains(": error: "), "{runtime}: {line}");
        }
        for refused in [
            "refused binding a local address: only outbound TCP is granted",
            "refused listening for connections: only outbound TCP is granted",
        ] {
            let log = apache.wait_for_log(refused);
            let line = log
                .lines()
                .find(|line| line.contains(refused))
                .unwrap_or_else(|| panic!("{runtime}: {refused}:\n{log}"));
            assert!(line.contains("<Location /probe>"), "{runtime}: {line}");
        }
    }
}

#[test]
fn a_wasi_02_command_runs_with_cgi_like_a_core_module() {
    for runtime in component_runtimes() {
        let location = |path: &str, name: &str| {
            format!(
                "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
                component(name).display()
            )
        };
        let apache =
            Config::new(&(location("/hello", "hello") + &location("/echo", "echo"))).start();
        let hello = apache.get("/hello");
        assert_eq!(hello.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(hello.text(), "Hello from WebAssembly!\n");
        let echoed = apache.request("POST", "/echo").body("a=1&b=2").send();
        assert_eq!(echoed.status, 200, "{runtime}");
        assert_eq!(echoed.header("X-Echo-Length"), Some("7"));
        assert_eq!(echoed.text(), "a=1&b=2");
    }
}

#[test]
fn components_are_refused_under_runtimes_that_cannot_run_them() {
    let capable = component_runtimes();
    let alternatives = if capable.is_empty() {
        "no runtime built into this mod_wasm has WASI 0.2 and 0.3 components".to_owned()
    } else {
        format!("use WasmRuntime {}", capable.join(" or "))
    };
    for runtime in runtimes().into_iter().filter(|r| !capable.contains(r)) {
        let config = Config::new(&handler_location("/app", runtime, ""));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        assert!(
            result.output.contains(&format!(
                "is a WASI 0.2 HTTP handler component (wasi:http/incoming-handler), and runtime \
                 {runtime} runs only core modules (WASI preview1); {alternatives}"
            )),
            "{runtime}: {}",
            result.output
        );
        let config = Config::new(&location_of("http_service", "/app", runtime, ""));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        assert!(
            result.output.contains(&format!(
                "is a WASI 0.3 HTTP handler component (wasi:http/handler), and runtime {runtime} \
                 runs only core modules (WASI preview1); {alternatives}"
            )),
            "{runtime}: {}",
            result.output
        );
    }
}
