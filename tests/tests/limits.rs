//! Per-request limits, under every runtime: a guest that loops is stopped at its time limit
//! with a 504 and frees its worker; a guest that allocates without end is refused memory past
//! its limit; a guest that writes a flood to stderr is not failed for it; a server that stops
//! ends its guests rather than waiting for them. No child dies.

use mod_wasm_tests::{for_each_runtime, guest, peak_rss_kib, Apache, Config, Mpm};
use std::time::{Duration, Instant};

fn probe_location(path: &str, runtime: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{extra}\n</Location>\n",
        guest("probe").display()
    )
}

/// The error log line that contains `needle`, after waiting for it.
fn logged(apache: &Apache, needle: &str) -> String {
    let log = apache.wait_for_log(needle);
    log.lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no log line with {needle:?}:\n{log}"))
        .to_owned()
}

fn assert_no_child_died(apache: &Apache, what: &str) {
    let log = apache.error_log();
    assert!(!log.contains("exit signal"), "{what}: a child died:\n{log}");
}

#[test]
fn a_guest_that_loops_is_stopped_at_its_time_limit_with_a_504() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        for_each_runtime(|runtime| {
            let body = probe_location("/spin", runtime, "  WasmArg spin\n  WasmTimeout 1")
                + &probe_location("/ok", runtime, "  WasmArg exit\n  WasmArg 0");
            let apache = Config::new(&body).mpm(mpm).start();
            let children = apache.children();

            let started = Instant::now();
            let response = apache.get("/spin");
            let took = started.elapsed();
            assert_eq!(response.status, 504, "{runtime} {mpm:?}");
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(10),
                "{runtime} {mpm:?}: answered after {took:?}, not at the 1 s limit"
            );
            let line = logged(&apache, "WasmTimeout");
            for part in [
                "<Location /spin>",
                &guest("probe").display().to_string(),
                &format!("with runtime {runtime}"),
                "the guest was stopped after WasmTimeout 1 s",
            ] {
                assert!(
                    line.contains(part),
                    "{runtime} {mpm:?}: {part} missing: {line}"
                );
            }

            assert_eq!(apache.get("/ok").status, 200, "{runtime} {mpm:?}");
            let now = apache.children();
            assert!(
                children.iter().all(|child| now.contains(child)),
                "{runtime} {mpm:?}: children before {children:?}, after {now:?}"
            );
            assert_no_child_died(&apache, runtime);
        });
    }
}

#[test]
fn looping_guests_do_not_starve_the_server() {
    for_each_runtime(|runtime| {
        let body = probe_location("/spin", runtime, "  WasmArg spin\n  WasmTimeout 1")
            + &probe_location("/ok", runtime, "  WasmArg exit\n  WasmArg 0");
        let apache = Config::new(&body).start();
        let port = apache.port();
        let loops: Vec<_> = (0..40)
            .map(|_| {
                std::thread::spawn(move || {
                    mod_wasm_tests::http::Request::new(port, "GET", "/spin")
                        .send()
                        .status
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        let started = Instant::now();
        let response = apache.get("/ok");
        assert_eq!(response.status, 200, "{runtime}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{runtime}: a normal request waited {:?} behind looping guests",
            started.elapsed()
        );
        for handle in loops {
            assert_eq!(handle.join().unwrap(), 504, "{runtime}");
        }
        assert_no_child_died(&apache, runtime);
    });
}

#[test]
fn a_stopping_server_ends_its_guests_instead_of_waiting_for_them() {
    for_each_runtime(|runtime| {
        let body = probe_location("/spin", runtime, "  WasmArg spin\n  WasmTimeout 120")
            + &probe_location(
                "/nap",
                runtime,
                "  WasmArg nap\n  WasmArg 120\n  WasmEnableCGI On\n  WasmTimeout 120",
            )
            + &probe_location("/ok", runtime, "  WasmArg exit\n  WasmArg 0");
        let apache = Config::new(&body).mpm(Mpm::Event).start();
        // The module is loaded in the child before the looping guests start.
        assert_eq!(apache.get("/ok").status, 200, "{runtime}");
        let port = apache.port();
        // Two guests computing, two waiting.
        let loops: Vec<_> = ["/spin", "/nap", "/spin", "/nap"]
            .into_iter()
            .map(|path| {
                std::thread::spawn(move || {
                    // The server closes the connection when it stops: no answer.
                    mod_wasm_tests::http::Request::new(port, "GET", path)
                        .try_send()
                        .map(|response| response.status)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(1));

        let started = Instant::now();
        assert!(
            apache.stop(Duration::from_secs(30)),
            "{runtime}: still running"
        );
        let took = started.elapsed();
        let log = apache.error_log();
        assert!(
            took < Duration::from_secs(3),
            "{runtime}: stopping took {took:?}:\n{log}"
        );
        assert!(!log.contains("did not exit"), "{runtime}:\n{log}");
        assert_eq!(
            log.matches("the guest was stopped because the server is stopping")
                .count(),
            4,
            "{runtime}:\n{log}"
        );
        assert_no_child_died(&apache, runtime);
        for handle in loops {
            let answer = handle.join().unwrap();
            assert!(!matches!(answer, Ok(200)), "{runtime}: {answer:?}");
        }
    });
}

#[test]
fn memory_cannot_grow_past_the_limit() {
    for_each_runtime(|runtime| {
        let limit = "  WasmMemoryLimit 32M";
        let body = probe_location(
            "/reserve",
            runtime,
            &format!("{limit}\n  WasmArg reserve\n  WasmArg 1024"),
        ) + &probe_location(
            "/bomb",
            runtime,
            &format!("{limit}\n  WasmArg bomb\n  WasmArg 512"),
        ) + &probe_location("/default", runtime, "  WasmArg reserve\n  WasmArg 1024")
            + &probe_location("/small", runtime, "  WasmArg bomb\n  WasmArg 16");
        let apache = Config::new(&body).start();

        // A program that handles a failed allocation goes on with what it got.
        let response = apache.get("/reserve");
        assert_eq!(response.status, 200, "{runtime}");
        let reserved: u32 = response
            .text()
            .trim()
            .strip_prefix("reserved ")
            .and_then(|rest| rest.strip_suffix(" MiB"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{runtime}: {}", response.text()));
        assert!(
            (16..32).contains(&reserved),
            "{runtime}: reserved {reserved} MiB under a 32 MiB limit"
        );

        // Without WasmMemoryLimit, 256 MiB.
        let response = apache.get("/default");
        let text = response.text();
        let reserved: u32 = text
            .trim()
            .strip_prefix("reserved ")
            .and_then(|rest| rest.strip_suffix(" MiB"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{runtime}: {text}"));
        assert!(
            (200..256).contains(&reserved),
            "{runtime}: reserved {reserved} MiB under the default limit"
        );

        // A program that aborts when refused is a 500; the log says why where the runtime can
        // tell which growth it refused.
        assert_eq!(apache.get("/bomb").status, 500, "{runtime}");
        if runtime == "wasmtime" || runtime == "wasmer" {
            let line = logged(&apache, "WasmMemoryLimit had refused");
            assert!(
                line.contains("<Location /bomb>") && line.contains("the limit is 32 MiB"),
                "{runtime}: {line}"
            );
        }
        assert_eq!(
            apache.get("/small").status,
            200,
            "{runtime}: within the limit"
        );
        assert_no_child_died(&apache, runtime);
    });
}

#[test]
fn a_flood_on_stderr_is_logged_in_part_and_the_guest_goes_on() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/chatter",
            runtime,
            "  WasmArg chatter\n  WasmArg 20971520",
        ))
        .start();
        let response = apache.get("/chatter");
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(response.text(), "ok\n", "{runtime}");
        let line = logged(&apache, "more bytes were dropped");
        assert!(
            line.contains("only the first 64 KiB are logged")
                && line.contains(&format!("{} more bytes", 20971520 - 65536)),
            "{runtime}: {line}"
        );
    });
}

#[test]
fn memory_hungry_guests_at_once_stay_within_their_limits() {
    for_each_runtime(|runtime| {
        // One child, so its peak memory holds every run.
        let body = probe_location(
            "/reserve",
            runtime,
            "  WasmMemoryLimit 32M\n  WasmArg reserve\n  WasmArg 1024",
        ) + "ServerLimit 1\nThreadsPerChild 16\nThreadLimit 16\nMaxRequestWorkers 16\n";
        let apache = Config::new(&body).start();
        let port = apache.port();
        let runs: Vec<_> = (0..16)
            .map(|_| {
                std::thread::spawn(move || {
                    let response =
                        mod_wasm_tests::http::Request::new(port, "GET", "/reserve").send();
                    (response.status, response.text())
                })
            })
            .collect();
        for run in runs {
            let (status, text) = run.join().unwrap();
            assert_eq!(status, 200, "{runtime}: {text}");
            assert!(text.starts_with("reserved "), "{runtime}: {text}");
        }
        let peak_mib = apache
            .children()
            .into_iter()
            .filter_map(peak_rss_kib)
            .max()
            .unwrap_or(0)
            / 1024;
        assert!(
            peak_mib < 16 * 32 + 100,
            "{runtime}: 16 guests limited to 32 MiB each took the child to {peak_mib} MiB"
        );
        assert_no_child_died(&apache, runtime);
    });
}
