//! Measurements through a real Apache: the same small response from a static file, from the
//! native program under mod_cgid, and from the guest under every runtime; a 64 KiB POST echoed
//! by a guest; the serving child's peak memory.
//!
//! Each handler gets its own server, so one runtime's memory never counts against another's.
//! Every server has one child with enough threads for every client, keeps connections alive
//! without a request limit, and writes no access log.

use crate::load::{self, Target};
use crate::stats::Summary;
use crate::Plan;
use mod_wasm_tests::{guest, Apache, Config, APACHE_MODULES};
use std::path::Path;

/// What the hello program answers, and so the static file's contents.
pub const HELLO_BODY: &[u8] = b"Hello from WebAssembly!\n";

/// The size of the POST the echo guest answers with its own body.
pub const ECHO_BYTES: usize = 64 * 1024;

/// Who answers a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handler {
    /// Apache's own static file handler: the ceiling for any handler.
    StaticFile,
    /// The hello program compiled natively, run by mod_cgid: what admins use today.
    NativeCgi,
    /// A guest under mod_wasm and the named runtime.
    Wasm(&'static str),
}

impl Handler {
    pub fn label(&self) -> String {
        match self {
            Handler::StaticFile => "static file".to_owned(),
            Handler::NativeCgi => "mod_cgid, native hello".to_owned(),
            Handler::Wasm(runtime) => format!("mod_wasm, {runtime}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// GET of the 24-byte hello response.
    Hello,
    /// POST of 64 KiB, answered with the same bytes.
    Echo,
}

/// Requests/s and latency of one handler, workload and client count.
#[derive(Clone, Debug)]
pub struct LoadFigures {
    pub handler: Handler,
    pub workload: Workload,
    pub clients: usize,
    pub requests_per_second: Summary,
    pub p50_ms: Summary,
    pub p99_ms: Summary,
}

/// The peak resident memory of a server's serving child after its load.
#[derive(Clone, Debug)]
pub struct Memory {
    pub handler: Handler,
    pub peak_rss_kib: u64,
}

/// What counting requests for the status page costs: hello's requests/s from a server that
/// counts them and from one that does not (`WasmStatistics Off`), measured in alternating runs
/// so that both see the same machine.
#[derive(Clone, Debug)]
pub struct CountingCost {
    pub handler: Handler,
    pub clients: usize,
    pub counted: Summary,
    pub uncounted: Summary,
}

#[derive(Default)]
pub struct Results {
    pub loads: Vec<LoadFigures>,
    pub memory: Vec<Memory>,
    pub counting: Vec<CountingCost>,
}

impl Results {
    pub fn find(
        &self,
        handler: &Handler,
        workload: Workload,
        clients: usize,
    ) -> Option<&LoadFigures> {
        self.loads
            .iter()
            .find(|f| &f.handler == handler && f.workload == workload && f.clients == clients)
    }
}

/// Settings shared by every server: one child, a thread for every client, unlimited keep-alive.
pub const SERVER_SETTINGS: &str = "\
LogLevel warn
ServerLimit 1
StartServers 1
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 64
MaxKeepAliveRequests 0
KeepAliveTimeout 60
";

pub fn measure(plan: &Plan, runtimes: &[&'static str], native_hello: &Path) -> Results {
    let mut results = Results::default();
    eprintln!("== through Apache: static file and mod_cgid");
    let baseline = baseline_server(native_hello);
    check_hello(&baseline, "/hello.txt");
    check_hello(&baseline, "/cgi-bin/hello");
    for clients in plan.clients {
        let target = Target::get(baseline.port(), "/hello.txt", HELLO_BODY.len());
        results.loads.push(measure_load(
            plan,
            Handler::StaticFile,
            Workload::Hello,
            clients,
            &target,
        ));
        let target = Target::get(baseline.port(), "/cgi-bin/hello", HELLO_BODY.len());
        results.loads.push(measure_load(
            plan,
            Handler::NativeCgi,
            Workload::Hello,
            clients,
            &target,
        ));
    }
    results.memory.push(Memory {
        handler: Handler::StaticFile,
        peak_rss_kib: peak_rss_kib(&baseline),
    });
    drop(baseline);

    for &runtime in runtimes {
        eprintln!("== through Apache: {runtime}");
        let server = wasm_server(runtime);
        check_hello(&server, "/hello");
        check_echo(&server);
        let handler = Handler::Wasm(runtime);
        let payload = echo_payload();
        for clients in plan.clients {
            let hello = Target::get(server.port(), "/hello", HELLO_BODY.len());
            results.loads.push(measure_load(
                plan,
                handler.clone(),
                Workload::Hello,
                clients,
                &hello,
            ));
            let echo = Target::post_echo(server.port(), "/echo", &payload);
            results.loads.push(measure_load(
                plan,
                handler.clone(),
                Workload::Echo,
                clients,
                &echo,
            ));
        }
        results.memory.push(Memory {
            handler: handler.clone(),
            peak_rss_kib: peak_rss_kib(&server),
        });
        // Two new servers, alike but for counting: a server that has served the loads above
        // is not the same as a new one.
        drop(server);
        let counted_server = wasm_server(runtime);
        let uncounted = wasm_server_with(runtime, "WasmStatistics Off\n");
        check_hello(&counted_server, "/hello");
        check_hello(&uncounted, "/hello");
        for clients in plan.clients {
            let counted = Target::get(counted_server.port(), "/hello", HELLO_BODY.len());
            let not = Target::get(uncounted.port(), "/hello", HELLO_BODY.len());
            let (counted, uncounted) = measure_alternating(plan, clients, &counted, &not)
                .unwrap_or_else(|e| panic!("{} counting, {clients} clients: {e}", handler.label()));
            eprintln!(
                "   {:<28} counted / not {:>2} clients: {:>8.0} / {:.0} req/s",
                handler.label(),
                clients,
                counted.median,
                uncounted.median
            );
            results.counting.push(CountingCost {
                handler: handler.clone(),
                clients,
                counted,
                uncounted,
            });
        }
    }
    results
}

/// Requests/s of `a` and `b`, each warmed up, then in alternating runs.
fn measure_alternating(
    plan: &Plan,
    clients: usize,
    a: &Target,
    b: &Target,
) -> Result<(Summary, Summary), String> {
    load::run(a, clients, plan.warmup)?;
    load::run(b, clients, plan.warmup)?;
    let (mut a_rps, mut b_rps) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        a_rps.push(load::run(a, clients, plan.load_duration)?.requests_per_second());
        b_rps.push(load::run(b, clients, plan.load_duration)?.requests_per_second());
    }
    Ok((Summary::of(&a_rps), Summary::of(&b_rps)))
}

fn baseline_server(native_hello: &Path) -> Apache {
    let config = Config::new("");
    config.scratch.file("htdocs/hello.txt", HELLO_BODY);
    let cgi_bin = config.scratch.dir("cgi-bin");
    let program = cgi_bin.join("hello");
    std::fs::copy(native_hello, &program).unwrap_or_else(|e| {
        panic!(
            "copying {} to {}: {e}",
            native_hello.display(),
            program.display()
        )
    });
    let body = format!(
        "{SERVER_SETTINGS}\
         LoadModule cgid_module {APACHE_MODULES}/mod_cgid.so\n\
         ScriptAlias /cgi-bin/ {}/\n",
        cgi_bin.display()
    );
    config.with_body(&body).start()
}

pub fn wasm_server(runtime: &str) -> Apache {
    wasm_server_with(runtime, "")
}

/// The server of [`wasm_server`], with the server-wide directives `settings`.
fn wasm_server_with(runtime: &str, settings: &str) -> Apache {
    let location = |path: &str, guest_name: &str| {
        format!(
            "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
            guest(guest_name).display()
        )
    };
    let body = format!(
        "{SERVER_SETTINGS}{settings}{}{}",
        location("/hello", "hello"),
        location("/echo", "echo")
    );
    Config::new(&body).start()
}

/// The response must be the hello text, byte for byte, before anything is timed.
fn check_hello(server: &Apache, path: &str) {
    let response = server.get(path);
    assert!(
        response.status == 200 && response.body == HELLO_BODY,
        "GET {path} answered {} {:?}; error log:\n{}",
        response.status,
        String::from_utf8_lossy(&response.body),
        server.error_log()
    );
}

fn check_echo(server: &Apache) {
    let payload = echo_payload();
    let response = server.request("POST", "/echo").body(payload.clone()).send();
    assert!(
        response.status == 200 && response.body == payload,
        "POST /echo answered {} with {} bytes; error log:\n{}",
        response.status,
        response.body.len(),
        server.error_log()
    );
}

/// 64 KiB that are not all alike, so nothing along the way can shortcut them.
fn echo_payload() -> Vec<u8> {
    (0..ECHO_BYTES).map(|i| (i * 31 % 251) as u8).collect()
}

fn measure_load(
    plan: &Plan,
    handler: Handler,
    workload: Workload,
    clients: usize,
    target: &Target,
) -> LoadFigures {
    let fail =
        |e: String| -> ! { panic!("{} ({workload:?}, {clients} clients): {e}", handler.label()) };
    load::run(target, clients, plan.warmup).unwrap_or_else(|e| fail(e));
    let mut rps = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for _ in 0..plan.runs {
        let run = load::run(target, clients, plan.load_duration).unwrap_or_else(|e| fail(e));
        if run.requests == 0 {
            fail("no request completed in a run".into());
        }
        rps.push(run.requests_per_second());
        p50.push(crate::stats::quantile(&run.latencies, 0.50));
        p99.push(crate::stats::quantile(&run.latencies, 0.99));
    }
    let figures = LoadFigures {
        handler,
        workload,
        clients,
        requests_per_second: Summary::of(&rps),
        p50_ms: Summary::of_millis(&p50),
        p99_ms: Summary::of_millis(&p99),
    };
    eprintln!(
        "   {:<28} {:?} {:>2} clients: {:>8.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        figures.handler.label(),
        workload,
        clients,
        figures.requests_per_second.median,
        figures.p50_ms.median,
        figures.p99_ms.median
    );
    figures
}

/// The largest peak resident set (VmHWM) among the server's children: the serving child's,
/// since every server has one (mod_cgid's daemon, the other child of the baseline, is smaller).
fn peak_rss_kib(server: &Apache) -> u64 {
    serving_child_kib(server, "VmHWM:")
}

/// The largest value of the `/proc/PID/status` field `field` (`VmRSS:`, `VmHWM:`) among the
/// server's children, in KiB: the serving child's.
pub fn serving_child_kib(server: &Apache, field: &str) -> u64 {
    largest_among_children(server, "status", field)
}

/// The largest proportional set size (`Pss:` of `/proc/PID/smaps_rollup`) among the server's
/// children, in KiB: what the serving child does not share with other processes, and its share
/// of what it does.
pub fn serving_child_pss_kib(server: &Apache) -> u64 {
    largest_among_children(server, "smaps_rollup", "Pss:")
}

/// The largest private dirty memory (`Private_Dirty:` of `/proc/PID/smaps_rollup`) among the
/// server's children, in KiB: what only the serving child holds and cannot share (its heap,
/// linear memories, its own copies of compiled code), which every further child holds again.
/// Its clean private pages are left out: file pages such as mapped compiled code, which a second
/// child mapping the same file would share.
pub fn serving_child_private_dirty_kib(server: &Apache) -> u64 {
    largest_among_children(server, "smaps_rollup", "Private_Dirty:")
}

/// The most memory any of the server's children has resident from files under `dir` (the
/// `Rss:` of those mappings in `/proc/PID/smaps`), in KiB: compiled code mapped from the cache,
/// which every child that maps the same file shares.
pub fn serving_child_mapped_kib(server: &Apache, dir: &Path) -> u64 {
    let dir = dir.to_string_lossy();
    server
        .children()
        .into_iter()
        .map(|pid| {
            let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
            let mut from_dir = false;
            let mut kib = 0;
            for line in smaps.lines() {
                // A mapping's header line: address range, permissions, ..., and its path.
                if line
                    .split_whitespace()
                    .next()
                    .is_some_and(|range| range.contains('-'))
                    && !line.starts_with(|c: char| c.is_ascii_uppercase())
                {
                    from_dir = line
                        .split_whitespace()
                        .nth(5)
                        .is_some_and(|path| path.starts_with(&*dir));
                } else if let Some(rss) = line.strip_prefix("Rss:") {
                    if from_dir {
                        kib += rss
                            .trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<u64>()
                            .unwrap_or(0);
                    }
                }
            }
            kib
        })
        .max()
        .unwrap_or(0)
}

/// The largest value in KiB of `field` in the `/proc/PID/<file>` of the server's children.
fn largest_among_children(server: &Apache, file: &str, field: &str) -> u64 {
    server
        .children()
        .into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}
