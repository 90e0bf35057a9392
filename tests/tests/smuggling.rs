//! No byte of a request body is ever read as a request of its own. A client that hides a whole
//! request in its body, on a connection kept alive, must get one response, whatever the guest
//! did with its stdin: a local redirect, a response that started before the body was read, an
//! error, a handler that never looks at the body, a body over the server's limit. Otherwise a
//! client behind a proxy that shares its connections to the server could have requests
//! answered that the proxy never saw (HTTP desync).

use mod_wasm_tests::{component, for_each_runtime, guest, runtime, Apache, Config, Mpm};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// The request hidden in the bodies.
const SMUGGLED: &str = "GET /smuggled.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// How a body is sent.
#[derive(Clone, Copy, Debug)]
enum Framing {
    ContentLength,
    Chunked,
}

/// Sends one request with `SMUGGLED` as its body on a fresh connection, says the client sends
/// nothing more, and returns everything the server sent until it closed the connection.
fn send_with_smuggled_body(apache: &Apache, method_and_path: &str, framing: Framing) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", apache.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!("{method_and_path} HTTP/1.1\r\nHost: localhost\r\n");
    match framing {
        Framing::ContentLength => {
            request += &format!("Content-Length: {}\r\n\r\n{SMUGGLED}", SMUGGLED.len());
        }
        Framing::Chunked => {
            request += &format!(
                "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n",
                SMUGGLED.len()
            );
        }
    }
    stream.write_all(request.as_bytes()).unwrap();
    // Whatever the server reads after this request can only come from its body.
    stream.shutdown(Shutdown::Write).unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    String::from_utf8_lossy(&received).into_owned()
}

/// The server under test: a guest per way a request can end without reading its body, two
/// static files, and an access log.
fn server(runtime: &str, mpm: Mpm) -> Apache {
    let config = Config::new("");
    let dir = config.scratch.path().display().to_string();
    config.scratch.file("htdocs/landing.txt", "landed\n");
    config.scratch.file("htdocs/smuggled.txt", "smuggled\n");
    let location = |path: &str, module: &std::path::Path, extra: &str| {
        format!(
            "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmEnableCGI On\n{extra}</Location>\n",
            module.display()
        )
    };
    // Debian's Apache has mod_log_config built in.
    let mut body = format!("CustomLog {dir}/access.log \"%r %>s\"\n");
    // Writes "Location: /landing.txt" without reading stdin.
    body += &location("/redirect", &guest("redirect"), "");
    body += &location("/malformed", &guest("probe"), "  WasmArg malformed\n");
    body += &location("/trap", &guest("probe"), "  WasmArg trap\n");
    body += &location("/hello", &guest("hello"), "");
    body += &location(
        "/limited",
        &guest("probe"),
        "  WasmArg pipe\n  LimitRequestBody 8\n",
    );
    if runtime_runs_components(runtime) {
        body += &location("/handler", &component("http_hello"), "");
    }
    config.with_body(&body).mpm(mpm).start()
}

fn runtime_runs_components(name: &str) -> bool {
    runtime(name).components
}

fn access_log(apache: &Apache) -> String {
    // The log line is written after the response; the connection's end comes after it.
    std::fs::read_to_string(apache.scratch().path().join("access.log")).unwrap_or_default()
}

#[test]
fn a_request_in_a_body_is_never_answered() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        for_each_runtime(|runtime| {
            let apache = server(runtime, mpm);
            let mut cases = vec![
                // A local redirect: the guest never read the body, and the server answers
                // another resource instead.
                ("POST /redirect?to=/landing.txt", Some("landed")),
                ("POST /malformed", None),
                ("POST /trap", None),
                // A response that is complete before the body was read.
                ("POST /hello", Some("Hello from WebAssembly!")),
                // Over LimitRequestBody.
                ("POST /limited", None),
            ];
            if runtime_runs_components(runtime) {
                // A wasi:http handler that answers without looking at the body.
                cases.push(("POST /handler", Some("Hello from a wasi:http component!")));
            }
            for (request, answer) in cases {
                for framing in [Framing::ContentLength, Framing::Chunked] {
                    let what = format!("{runtime} {mpm:?} {request} {framing:?}");
                    let received = send_with_smuggled_body(&apache, request, framing);
                    assert_eq!(
                        received.matches("HTTP/1.1 ").count(),
                        1,
                        "{what}: not one response:\n{received}\nerror log:\n{}",
                        apache.error_log()
                    );
                    assert!(!received.contains("smuggled"), "{what}:\n{received}");
                    if let Some(answer) = answer {
                        assert!(received.contains(answer), "{what}:\n{received}");
                    }
                }
            }
            // Nothing was answered, or logged, for a request no client sent.
            let log = access_log(&apache);
            assert!(log.contains("POST /redirect"), "{runtime} {mpm:?}:\n{log}");
            assert!(
                !log.contains("/smuggled.txt"),
                "{runtime} {mpm:?}: the access log has the smuggled request:\n{log}"
            );
            // The connection is still good for the client's own next request.
            assert_eq!(apache.get("/landing.txt").text(), "landed\n");
        });
    }
}

#[test]
fn a_redirected_post_keeps_its_connection_for_the_clients_next_request() {
    for_each_runtime(|runtime| {
        let apache = server(runtime, Mpm::Event);
        let mut stream = TcpStream::connect(("127.0.0.1", apache.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // The body is read and dropped, so the connection stays usable: the second request
        // on it, sent by the client after the first, is answered.
        let body = "x".repeat(100_000);
        let requests = format!(
            "POST /redirect?to=/landing.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}\
             GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(requests.as_bytes()).unwrap();
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        let received = String::from_utf8_lossy(&received);
        assert_eq!(
            received.matches("HTTP/1.1 200").count(),
            2,
            "{runtime}:\n{received}"
        );
        assert!(received.contains("landed"), "{runtime}:\n{received}");
        assert!(
            received.contains("Hello from WebAssembly!"),
            "{runtime}:\n{received}"
        );
    });
}
