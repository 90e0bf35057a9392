//! Python: CPython for WASI serving a hello script under every runtime, against the host's
//! python3 running the same script under mod_cgid (what admins use today).
//!
//! Per runtime: `apachectl -t` with an empty cache (the compile) and with the cache it filled;
//! a start with that cache and its first request; requests/s at 1 and 16 clients; and the
//! serving child's memory: resident (VmHWM), proportional (PSS, what it does not share with
//! the other processes) and private dirty (what every further child would hold again).

use crate::load::{self, Target};
use crate::stats::quantile;
use crate::through_apache::{
    serving_child_kib, serving_child_mapped_kib, serving_child_private_dirty_kib,
    serving_child_pss_kib, SERVER_SETTINGS,
};
use mod_wasm_tests::{load_module, python_wasm, shared_cache_dir, Apache, Config, Scratch};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The script: a CGI response of a fixed length, so the load generator can check every one.
const HELLO_PY: &str = "print('Content-Type: text/plain')\nprint()\nprint('Hello from Python!')\n";
const HELLO_BODY: &[u8] = b"Hello from Python!\n";

/// How long the Python benchmark runs.
pub struct PythonPlan {
    pub clients: &'static [usize],
    /// The shortest load per client count; a runtime whose requests take longer gets a load
    /// of `slow_requests` of its requests per client instead.
    pub load_duration: Duration,
    pub slow_requests: u32,
    /// Whether to time a compile with an empty cache (minutes under WasmEdge's compiler).
    /// Without, the compiled code comes from the cache the test suite fills.
    pub cold_compile: bool,
}

impl PythonPlan {
    pub const FULL: PythonPlan = PythonPlan {
        clients: &[1, 16],
        load_duration: Duration::from_secs(10),
        slow_requests: 3,
        cold_compile: true,
    };
    pub const QUICK: PythonPlan = PythonPlan {
        clients: &[1],
        load_duration: Duration::from_millis(500),
        slow_requests: 1,
        cold_compile: false,
    };
}

/// Who runs the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpreter {
    /// The host's python3 under mod_cgid.
    Host,
    /// python.wasm under mod_wasm and the named runtime.
    Wasm(&'static str),
}

impl Interpreter {
    pub fn label(self) -> String {
        match self {
            Interpreter::Host => "mod_cgid, python3".to_owned(),
            Interpreter::Wasm(runtime) => format!("mod_wasm, {runtime}"),
        }
    }
}

/// What was measured for one interpreter.
pub struct PythonFigures {
    pub interpreter: Interpreter,
    /// `apachectl -t` with an empty cache, and with the cache it filled.
    pub check_cold: Option<Duration>,
    pub check_warm: Option<Duration>,
    /// The first request after a start with a warm cache.
    pub first_request: Duration,
    /// (clients, requests/s, p50 latency in ms)
    pub loads: Vec<(usize, f64, f64)>,
    pub peak_rss_kib: u64,
    pub pss_kib: u64,
    pub private_dirty_kib: u64,
    /// Compiled code the child has resident from the cache's files, shared with every child
    /// that maps them.
    pub mapped_kib: u64,
}

pub fn run(plan: &PythonPlan, runtimes: &[&'static str]) -> Vec<PythonFigures> {
    let mut figures = Vec::new();
    eprintln!("== Python: python3 under mod_cgid");
    let host = host_server();
    figures.push(measure(
        plan,
        Interpreter::Host,
        &host,
        "/cgi-bin/hello.py",
        None,
        None,
        None,
    ));
    drop(host);
    for &runtime in runtimes {
        eprintln!("== Python: {runtime}");
        let fresh = Scratch::new();
        let cache = if plan.cold_compile {
            fresh.path().join("cache")
        } else {
            shared_cache_dir()
        };
        let config = || wasm_config(runtime, &cache);
        // The first check fills the cache; only a fresh cache makes it a measure of compiling.
        let first_check = timed_check(&config(), runtime);
        let check_cold = plan.cold_compile.then_some(first_check);
        let check_warm = Some(timed_check(&config(), runtime));
        let server = config().start();
        figures.push(measure(
            plan,
            Interpreter::Wasm(runtime),
            &server,
            "/py/hello.py",
            check_cold,
            check_warm,
            Some(&cache),
        ));
    }
    figures
}

fn host_server() -> Apache {
    let config = Config::new("");
    let cgi_bin = config.scratch.dir("cgi-bin");
    let script = config.scratch.file(
        "cgi-bin/hello.py",
        format!("#!/usr/bin/python3\n{HELLO_PY}"),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let body = format!(
        "{SERVER_SETTINGS}{}{}ScriptAlias /cgi-bin/ {}/\n",
        load_module("cgid"),
        load_module("alias"),
        cgi_bin.display()
    );
    config.with_body(&body).start()
}

fn wasm_config(runtime: &str, cache: &std::path::Path) -> Config {
    let config = Config::new("");
    let site = config.scratch.dir("site");
    config.scratch.file("site/hello.py", HELLO_PY);
    let body = format!(
        "{SERVER_SETTINGS}{alias}WasmCacheDir {cache}\nAlias /py {site}\n\
         <Directory {site}>\n  AddHandler wasm-handler .py\n  WasmModule {python}\n  \
         WasmRuntime {runtime}\n  WasmEnableCGI On\n  WasmMapDir /site {site} ro\n  \
         WasmTimeout 600\n</Directory>\n",
        alias = load_module("alias"),
        cache = cache.display(),
        site = site.display(),
        python = python_wasm().display(),
    );
    config.with_body(&body)
}

/// How long `apachectl -t` takes on `config`, which must pass.
fn timed_check(config: &Config, runtime: &str) -> Duration {
    let start = Instant::now();
    let result = config.check();
    let took = start.elapsed();
    assert!(result.success, "{runtime}: {}", result.output);
    took
}

fn measure(
    plan: &PythonPlan,
    interpreter: Interpreter,
    server: &Apache,
    path: &str,
    check_cold: Option<Duration>,
    check_warm: Option<Duration>,
    cache: Option<&std::path::Path>,
) -> PythonFigures {
    let label = interpreter.label();
    let start = Instant::now();
    let first = server.get(path);
    let first_request = start.elapsed();
    assert!(
        first.status == 200 && first.body == HELLO_BODY,
        "{label}: GET {path} answered {} {:?}; error log:\n{}",
        first.status,
        String::from_utf8_lossy(&first.body),
        server.error_log()
    );
    // Many clients of an interpreted CPython wait minutes for their turn.
    let target =
        Target::get(server.port(), path, HELLO_BODY.len()).with_timeout(Duration::from_secs(600));
    let mut loads = Vec::new();
    for &clients in plan.clients {
        // At least a few requests per client, however slow they are.
        let duration = plan.load_duration.max(first_request * plan.slow_requests);
        let run = load::run(&target, clients, duration)
            .unwrap_or_else(|e| panic!("{label}, {clients} clients: {e}"));
        let p50 = quantile(&run.latencies, 0.5).as_secs_f64() * 1e3;
        eprintln!(
            "   {label:<32} {clients:>2} clients: {:>7.1} req/s, p50 {p50:.0} ms",
            run.requests_per_second()
        );
        loads.push((clients, run.requests_per_second(), p50));
    }
    PythonFigures {
        interpreter,
        check_cold,
        check_warm,
        first_request,
        loads,
        peak_rss_kib: serving_child_kib(server, "VmHWM:"),
        pss_kib: serving_child_pss_kib(server),
        private_dirty_kib: serving_child_private_dirty_kib(server),
        mapped_kib: cache.map_or(0, |cache| serving_child_mapped_kib(server, cache)),
    }
}

/// The figures as Markdown, with the targets and their verdicts.
pub fn markdown(figures: &[PythonFigures]) -> String {
    let seconds =
        |d: Option<Duration>| d.map_or("—".to_owned(), |d| format!("{:.2}", d.as_secs_f64()));
    let mut out = String::from(
        "| interpreter | `apachectl -t`, empty cache (s) | `apachectl -t`, warm cache (s) | \
         first request after start (s) | child VmHWM (MiB) | child PSS (MiB) | \
         child private dirty (MiB) | code mapped from the cache (MiB) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for f in figures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} |",
            f.interpreter.label(),
            seconds(f.check_cold),
            seconds(f.check_warm),
            f.first_request.as_secs_f64(),
            f.peak_rss_kib as f64 / 1024.0,
            f.pss_kib as f64 / 1024.0,
            f.private_dirty_kib as f64 / 1024.0,
            f.mapped_kib as f64 / 1024.0,
        );
    }
    out.push_str("\n| interpreter | clients | requests/s | p50 (ms) |\n|---|---:|---:|---:|\n");
    for f in figures {
        for (clients, rps, p50) in &f.loads {
            let _ = writeln!(
                out,
                "| {} | {clients} | {rps:.1} | {p50:.0} |",
                f.interpreter.label()
            );
        }
    }
    out.push_str("\n| target | interpreter | figure | verdict |\n|---|---|---:|---|\n");
    let host_rps = |clients: usize| {
        figures
            .iter()
            .find(|f| f.interpreter == Interpreter::Host)
            .and_then(|f| f.loads.iter().find(|l| l.0 == clients))
            .map(|l| l.1)
    };
    let verdict = |met: bool| if met { "met" } else { "**missed**" };
    for f in figures
        .iter()
        .filter(|f| f.interpreter != Interpreter::Host)
    {
        let label = f.interpreter.label();
        if let Some(warm) = f.check_warm {
            let _ = writeln!(
                out,
                "| `apachectl -t`, warm cache < 2 s | {label} | {:.2} s | {} |",
                warm.as_secs_f64(),
                verdict(warm < Duration::from_secs(2))
            );
        }
        let _ = writeln!(
            out,
            "| first request after start < 1 s | {label} | {:.2} s | {} |",
            f.first_request.as_secs_f64(),
            verdict(f.first_request < Duration::from_secs(1))
        );
        if let (Some(host), Some(own)) = (
            host_rps(16),
            f.loads.iter().find(|l| l.0 == 16).map(|l| l.1),
        ) {
            let _ = writeln!(
                out,
                "| 16 clients ≥ python3 under mod_cgid | {label} | {:.2} × | {} |",
                own / host,
                verdict(own >= host)
            );
        }
    }
    out
}
