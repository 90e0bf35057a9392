//! Streaming, under every runtime: responses reach the client as the guest writes them and
//! request bodies reach the guest as they arrive, with the serving child's memory bounded
//! whatever their size; a guest that fails mid-response has it cut off, as under mod_cgi.

use mod_wasm_tests::http::StreamedResponse;
use mod_wasm_tests::{for_each_runtime, guest, peak_rss_kib, Apache, Config};
use std::time::Instant;

/// One child with 16 threads, so that its memory is the server's.
const ONE_CHILD: &str = "ServerLimit 1\nThreadsPerChild 16\nThreadLimit 16\nMaxRequestWorkers 16\n";

/// How much a streamed request may add to the serving child's peak memory.
const BOUND_MIB: u64 = 64;

fn probe_location(path: &str, runtime: &str, directives: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{directives}</Location>\n",
        guest("probe").display()
    )
}

/// `WasmArg` lines for the probe's arguments.
fn args(args: &[&str]) -> String {
    args.iter().map(|a| format!("  WasmArg {a}\n")).collect()
}

/// The peak memory of the only child, in MiB.
fn child_peak_mib(apache: &Apache) -> u64 {
    let children = apache.children();
    assert_eq!(children.len(), 1, "{children:?}");
    peak_rss_kib(children[0]).expect("the child's memory") / 1024
}

/// Reads the body to its end, checking each byte against `expected(offset)`: its length.
fn check_body(response: &mut StreamedResponse, expected: impl Fn(u64) -> u8) -> u64 {
    let mut buf = vec![0; 256 * 1024];
    let mut offset = 0u64;
    loop {
        let n = response.read_body(&mut buf).expect("the whole body");
        if n == 0 {
            return offset;
        }
        for (i, byte) in buf[..n].iter().enumerate() {
            let at = offset + i as u64;
            assert_eq!(*byte, expected(at), "byte {at}");
        }
        offset += n as u64;
    }
}

/// The probe's `big` pattern: 0..=250, repeated.
fn pattern(at: u64) -> u8 {
    (at % 251) as u8
}

#[test]
fn a_one_gib_response_arrives_whole_while_the_child_stays_small() {
    const GIB: u64 = 1 << 30;
    const CONCURRENT: usize = 16;
    const EACH: u64 = 64 << 20;
    for_each_runtime(|runtime| {
        let body = probe_location("/warm", runtime, &args(&["big", "1000000"]))
            + &probe_location("/gib", runtime, &args(&["big", &GIB.to_string()]))
            + &probe_location("/each", runtime, &args(&["big", &EACH.to_string()]))
            + ONE_CHILD;
        let apache = Config::new(&body).start();
        // The module loaded and an instance made, so that what follows is the streaming's.
        let warm = apache.get("/warm");
        assert_eq!(warm.status, 200, "{runtime}: {}", apache.error_log());
        let before = child_peak_mib(&apache);

        let mut response = apache.request("GET", "/gib").open().unwrap();
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(check_body(&mut response, pattern), GIB, "{runtime}");
        let after_one = child_peak_mib(&apache);
        assert!(
            after_one - before < BOUND_MIB,
            "{runtime}: a 1 GiB response took the child from {before} to {after_one} MiB"
        );

        let port = apache.port();
        let downloads: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut response = mod_wasm_tests::http::Request::new(port, "GET", "/each")
                        .open()
                        .unwrap();
                    (response.status, check_body(&mut response, pattern))
                })
            })
            .collect();
        for download in downloads {
            assert_eq!(download.join().unwrap(), (200, EACH), "{runtime}");
        }
        let after_all = child_peak_mib(&apache);
        assert!(
            after_all - before < BOUND_MIB,
            "{runtime}: {CONCURRENT} responses of {} MiB at once took the child from {before} \
             to {after_all} MiB",
            EACH >> 20
        );
    });
}

#[test]
fn the_first_bytes_arrive_before_the_guest_finishes() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/drip",
            runtime,
            &(args(&["drip", "2"]) + "  WasmEnableCGI On\n"),
        ))
        .start();
        let started = Instant::now();
        let mut response = apache.request("GET", "/drip").open().unwrap();
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
        response.expect_drip(started, runtime);
    });
}

#[test]
fn a_client_that_does_not_read_delays_no_other_clients_bytes() {
    for_each_runtime(|runtime| {
        // Both responses are served by one child, whose idle responses one thread watches.
        let body = probe_location(
            "/trickle",
            runtime,
            &(args(&["trickle", "120"]) + "  WasmEnableCGI On\n  WasmTimeout 60\n"),
        ) + &probe_location(
            "/drip",
            runtime,
            &(args(&["drip", "2"]) + "  WasmEnableCGI On\n"),
        ) + ONE_CHILD;
        let apache = Config::new(&body).start();
        // A client that asks and then reads nothing: the pieces its guest writes between
        // pauses go out as idle flushes, until the connection's buffers are full and the
        // flush of the next piece waits for the client.
        let stalled = apache.request("GET", "/trickle").open().unwrap();
        assert_eq!(stalled.status, 200, "{runtime}");
        std::thread::sleep(std::time::Duration::from_secs(3));
        // Another client's first bytes still go out while its guest pauses.
        let started = Instant::now();
        let mut response = apache.request("GET", "/drip").open().unwrap();
        assert_eq!(response.status, 200, "{runtime}");
        response.expect_drip(started, runtime);
        drop(stalled);
    });
}

#[test]
fn a_256_mib_upload_streams_through_the_guest_intact() {
    const LEN: u64 = 256 << 20;
    /// A pattern that differs from one 64 KiB block to the next.
    fn upload(at: u64) -> u8 {
        (at.wrapping_mul(7) ^ (at >> 16)) as u8
    }
    for_each_runtime(|runtime| {
        let body = probe_location(
            "/pipe",
            runtime,
            &(args(&["pipe"]) + "  WasmEnableCGI On\n"),
        ) + ONE_CHILD;
        let apache = Config::new(&body).start();
        let warm = apache.request("POST", "/pipe").body("warm").send();
        assert_eq!(
            (warm.status, warm.text().as_str()),
            (200, "warm"),
            "{runtime}"
        );
        let before = child_peak_mib(&apache);

        let mut response = apache
            .request("POST", "/pipe")
            .stream(LEN, |offset, buf| {
                for (i, byte) in buf.iter_mut().enumerate() {
                    *byte = upload(offset + i as u64);
                }
            })
            .unwrap();
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(check_body(&mut response, upload), LEN, "{runtime}");
        let after = child_peak_mib(&apache);
        assert!(
            after - before < BOUND_MIB,
            "{runtime}: a 256 MiB upload took the child from {before} to {after} MiB"
        );
    });
}

#[test]
fn a_guest_that_traps_mid_response_has_it_cut_off_and_the_child_survives() {
    const SENT: u64 = 1 << 20;
    for_each_runtime(|runtime| {
        let cut = args(&["cut", &SENT.to_string()]) + "  WasmEnableCGI On\n";
        let body = probe_location("/cut", runtime, &cut)
            + &probe_location(
                "/buffered",
                runtime,
                &(cut.clone() + "  WasmBufferResponse On\n"),
            )
            + &probe_location("/ok", runtime, &args(&["exit", "0"]));
        let apache = Config::new(&body).start();
        let children = apache.children();

        let mut response = apache.request("GET", "/cut").open().unwrap();
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
        let (received, error) = response
            .read_rest()
            .err()
            .unwrap_or_else(|| panic!("{runtime}: a cut-off response looked complete"));
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{runtime}");
        assert!(received <= SENT, "{runtime}: {received}");
        let log = apache.wait_for_log("the response was cut off");
        assert!(log.contains("the guest trapped"), "{runtime}: {log}");

        // Buffered, the same guest gets a clean 500 instead.
        let buffered = apache.get("/buffered");
        assert_eq!(buffered.status, 500, "{runtime}");

        assert_eq!(apache.get("/ok").status, 200, "{runtime}");
        assert_eq!(
            apache.children(),
            children,
            "{runtime}: a child was replaced"
        );
        assert!(!apache.error_log().contains("exit signal"), "{runtime}");
    });
}

#[test]
fn output_past_the_limit_cuts_a_streamed_response_and_fails_a_buffered_one() {
    for_each_runtime(|runtime| {
        let flood = args(&["big", &(2 << 20).to_string()]) + "  WasmOutputLimit 1M\n";
        let body = probe_location("/streamed", runtime, &flood)
            + &probe_location(
                "/buffered",
                runtime,
                &(flood.clone() + "  WasmBufferResponse On\n"),
            )
            + &probe_location("/ok", runtime, &args(&["exit", "0"]));
        let apache = Config::new(&body).start();

        let mut response = apache.request("GET", "/streamed").open().unwrap();
        assert_eq!(response.status, 200, "{runtime}");
        let (_, error) = response
            .read_rest()
            .err()
            .unwrap_or_else(|| panic!("{runtime}: the response past the limit looked complete"));
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{runtime}");
        apache.wait_for_log("more than 1 MiB to stdout (WasmOutputLimit)");

        assert_eq!(apache.get("/buffered").status, 500, "{runtime}");
        assert_eq!(apache.get("/ok").status, 200, "{runtime}");
    });
}
