//! `WasmTimeout` bounds a run however it spends its time, under every runtime: a guest that
//! waits in a host call (a sleep, which is `poll_oneoff` on a clock) is stopped at its deadline
//! as one that computes is, and a client cannot hold a run past it by sending its body slowly
//! or by not taking the response. The worker is free again at the deadline. And a wait of no
//! time does not wait.

use mod_wasm_tests::{for_each_runtime, guest, Apache, Config};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The time limit of every guest here.
const LIMIT: Duration = Duration::from_secs(2);

/// How late after its deadline a run may end here: the deadline holds within 100 ms, and a
/// busy test machine gets the rest.
const SLACK: Duration = Duration::from_secs(2);

/// A location `/PATH` that runs the probe as `probe ARGS` with a 2 s limit, CGI on or off.
fn location(runtime: &str, path: &str, args: &str, cgi: bool) -> String {
    let mut location = format!(
        "<Location /{path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
         WasmModule {}\n  WasmEnableCGI {}\n  WasmTimeout {}\n",
        guest("probe").display(),
        if cgi { "On" } else { "Off" },
        LIMIT.as_secs()
    );
    for arg in args.split(' ') {
        location += &format!("  WasmArg {arg}\n");
    }
    location + "</Location>\n"
}

/// A server running the probe at CGI locations `/PATH` as `probe ARGS`. Its own `Timeout` is
/// a minute, so only the guests' limit can end what is tested.
fn server(runtime: &str, guests: &[(&str, &str)]) -> Apache {
    let mut body = String::from("Timeout 60\n");
    for (path, args) in guests {
        body += &location(runtime, path, args, true);
    }
    Config::new(&body).start()
}

/// Sends `request` raw and returns all the server sent until it closed the connection, and
/// when that was.
fn exchange(apache: &Apache, request: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", apache.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

fn assert_on_time(runtime: &str, what: &str, took: Duration) {
    assert!(
        took >= LIMIT - Duration::from_millis(100) && took < LIMIT + SLACK,
        "{runtime}: {what} ended after {took:?}, not at the {LIMIT:?} limit"
    );
}

fn assert_stopped_at_the_limit(runtime: &str, apache: &Apache, path: &str) {
    let needle = format!(
        "the guest was stopped after WasmTimeout {} s",
        LIMIT.as_secs()
    );
    let log = apache.wait_for_log(&needle);
    assert!(
        log.lines()
            .any(|line| line.contains(&needle) && line.contains(&format!("<Location /{path}>"))),
        "{runtime}: no line saying /{path} was stopped at its limit:\n{log}"
    );
}

#[test]
fn a_guest_sleeping_before_it_answers_is_stopped_at_its_limit_with_a_504() {
    for_each_runtime(|runtime| {
        let apache = server(runtime, &[("nap", "nap 30"), ("quick", "nap 0")]);
        assert_eq!(apache.get("/quick").status, 200, "{runtime}");
        let started = Instant::now();
        let response = apache.get("/nap");
        assert_on_time(runtime, "a sleeping guest", started.elapsed());
        assert_eq!(response.status, 504, "{runtime}");
        assert_stopped_at_the_limit(runtime, &apache, "nap");
        // The worker is free: the server answers at once.
        assert_eq!(apache.get("/quick").status, 200, "{runtime}");
    });
}

#[test]
fn a_guest_sleeping_after_its_response_started_has_it_cut_off_at_its_limit() {
    for_each_runtime(|runtime| {
        let apache = server(runtime, &[("drip", "drip 30")]);
        let (received, took) = exchange(
            &apache,
            "GET /drip HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert_on_time(runtime, "a response that started", took);
        assert!(
            received.starts_with("HTTP/1.1 200"),
            "{runtime}: {received}"
        );
        assert!(received.contains("first"), "{runtime}: {received}");
        assert!(!received.contains("last"), "{runtime}: {received}");
        // Cut off: the chunked body never got its last chunk.
        assert!(!received.ends_with("0\r\n\r\n"), "{runtime}: {received:?}");
        assert_stopped_at_the_limit(runtime, &apache, "drip");
    });
}

#[test]
fn a_client_that_stalls_its_body_does_not_hold_the_run_past_its_limit() {
    for_each_runtime(|runtime| {
        let apache = server(runtime, &[("pipe", "pipe")]);
        // 10 of the 1000 bytes it announces, and then nothing: the connection stays open.
        let (received, took) = exchange(
            &apache,
            "POST /pipe HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789",
        );
        assert_on_time(runtime, "a run waiting for a stalled body", took);
        assert!(
            received.starts_with("HTTP/1.1 408"),
            "{runtime}: the server's answer to a body too slow: {received}\n{}",
            apache.error_log()
        );
        let needle = "the request body could not be read: it had not arrived when the guest \
                      was stopped after WasmTimeout 2 s";
        let log = apache.wait_for_log(needle);
        assert!(
            log.lines()
                .any(|line| line.contains(needle) && line.contains("<Location /pipe>")),
            "{runtime}:\n{log}"
        );
    });
}

#[test]
fn a_client_that_does_not_take_the_response_does_not_hold_the_run_past_its_limit() {
    for_each_runtime(|runtime| {
        // Far more than the socket buffers between the server and a client hold, written as
        // fast as the guest can: it waits only for the client.
        let body =
            String::from("Timeout 60\n") + &location(runtime, "flood", "big 2000000000", false);
        let apache = Config::new(&body).start();
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", apache.port())).unwrap();
        stream
            .write_all(b"GET /flood HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // The client reads nothing; the run must end at its limit all the same.
        let needle = "<Location /flood>";
        let deadline = Instant::now() + LIMIT + SLACK;
        let mut log = apache.error_log();
        while !log.contains(needle) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            log = apache.error_log();
        }
        let took = started.elapsed();
        assert_on_time(
            runtime,
            &format!("a run writing to a client that does not read ({log})"),
            took,
        );
        let line = log.lines().find(|line| line.contains(needle)).unwrap();
        assert!(
            line.contains("the client went away") || line.contains("WasmTimeout 2 s"),
            "{runtime}: {line}"
        );
        drop(stream);
    });
}

#[test]
fn a_poll_that_must_not_wait_returns_at_once() {
    // C's `poll(fds, n, 0)`; CPython makes one when it imports `selectors`.
    for_each_runtime(|runtime| {
        let apache = server(runtime, &[("poll0", "poll0")]);
        let started = Instant::now();
        let response = apache.get("/poll0");
        let took = started.elapsed();
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.body, b"polled 0\n", "{runtime}");
        assert!(took < LIMIT, "{runtime}: the poll waited {took:?}");
    });
}

#[test]
fn c_programs_sleep_as_long_as_they_ask() {
    // SQLite waits for a lock with `usleep`, and gives up after the sum of the times it asked
    // for: a sleep that returns at once makes a busy database an error. CPython's `time.sleep`
    // is `clock_nanosleep` to an absolute time on the monotonic clock.
    for_each_runtime(|runtime| {
        let apache = server(runtime, &[("sleeps", "sleeps")]);
        let response = apache.get("/sleeps");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        let text = response.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{runtime}: {text}");
        for line in lines {
            let (name, result) = line.split_once(": ").unwrap();
            let slept: u64 = result
                .strip_prefix("returned 0 after ")
                .and_then(|rest| rest.strip_suffix(" ms"))
                .and_then(|ms| ms.parse().ok())
                .unwrap_or_else(|| panic!("{runtime}: {name} failed: {result}"));
            assert!(
                (195..1500).contains(&slept),
                "{runtime}: {name} asked for 200 ms and slept {slept} ms"
            );
        }
    });
}
