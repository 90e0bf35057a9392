//! PHP: php-cgi for WASI (`examples/php/build`) serving the example site's `hello.php` and a
//! page of Debian's DokuWiki (`wiki:dokuwiki`, which the package ships) under every runtime,
//! configured as the README configures them, against the host's php-cgi (Debian's `php-cgi`)
//! running the same `hello.php` as a CGI program under mod_cgid. Each runtime serves them twice:
//! with php-cgi starting for each request, and started once (`WasmPreinit On`, every request
//! from the snapshot PHP's start-up left).
//!
//! Per server and page: the first request after a start with the compiled code in the cache;
//! requests/s, p50 and p99 at each client count; and the serving child's peak memory (VmHWM).
//! In process, under wasmtime: what instantiating php-cgi costs, as built and from the snapshot.

use crate::load::{self, Target};
use crate::stats::{quantile, Summary};
use crate::through_apache::{serving_child_kib, SERVER_SETTINGS};
use mod_wasm_tests::{
    load_module, php_cgi_wasm, shared_cache_dir, unpack_dokuwiki, workspace_root, Apache, Config,
};
use runtime_api::{EntryPoint, ExecutionConfig, InitConfig, InitExport, Stdio};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the PHP benchmark runs.
pub struct PhpPlan {
    pub clients: &'static [usize],
    /// The shortest load per client count; a server whose requests take longer gets a load of
    /// `slow_requests` of its requests per client instead.
    pub load_duration: Duration,
    pub slow_requests: u32,
    pub started_once: StartedOnce,
    /// How many instantiations are timed, each way.
    pub instantiations: usize,
}

impl PhpPlan {
    pub const FULL: PhpPlan = PhpPlan {
        clients: &[1, 8],
        load_duration: Duration::from_secs(10),
        slow_requests: 3,
        started_once: StartedOnce::Everywhere,
        instantiations: 200,
    };
    pub const QUICK: PhpPlan = PhpPlan {
        clients: &[1],
        load_duration: Duration::from_millis(500),
        slow_requests: 1,
        started_once: StartedOnce::HelloUnderTheFirstRuntime,
        instantiations: 3,
    };
}

/// Where PHP started once is measured. Each location has a snapshot of its own, made anew for
/// each server (its directories are new), which each runtime compiles: minutes, under
/// WasmEdge's ahead-of-time compiler.
pub enum StartedOnce {
    /// Both pages, under every runtime.
    Everywhere,
    /// hello.php, under the first runtime.
    HelloUnderTheFirstRuntime,
}

/// Who runs PHP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Php {
    /// The host's php-cgi under mod_cgid.
    Host,
    /// php-cgi.wasm under mod_wasm and the named runtime, starting PHP for each request.
    Wasm(&'static str),
    /// php-cgi.wasm under mod_wasm and the named runtime, each request from the snapshot of
    /// PHP's start-up (`WasmPreinit On`).
    WasmStartedOnce(&'static str),
}

impl Php {
    pub fn label(self) -> String {
        match self {
            Php::Host => "mod_cgid, php-cgi".to_owned(),
            Php::Wasm(runtime) => format!("mod_wasm, {runtime}"),
            Php::WasmStartedOnce(runtime) => format!("mod_wasm, {runtime}, started once"),
        }
    }
}

/// What was measured for one page under one server.
pub struct PhpFigures {
    pub php: Php,
    pub page: &'static str,
    pub first_request: Duration,
    /// (clients, requests/s, p50 in ms, p99 in ms)
    pub loads: Vec<(usize, f64, f64, f64)>,
    pub peak_rss_kib: u64,
}

/// The pages, by name, and where each server has them.
const HELLO: &str = "hello.php";
const DOKUWIKI: &str = "DokuWiki, wiki:dokuwiki";
const HELLO_QUERY: &str = "?name=Ada";

/// What was measured.
pub struct PhpResults {
    pub pages: Vec<PhpFigures>,
    pub instantiation: Option<Instantiation>,
}

pub fn run(plan: &PhpPlan, runtimes: &[&'static str]) -> PhpResults {
    PhpResults {
        pages: pages(plan, runtimes),
        instantiation: runtimes
            .contains(&"wasmtime")
            .then(|| instantiation(plan.instantiations)),
    }
}

fn pages(plan: &PhpPlan, runtimes: &[&'static str]) -> Vec<PhpFigures> {
    let mut figures = Vec::new();
    eprintln!("== PHP: php-cgi under mod_cgid");
    let host = host_server();
    figures.push(measure(
        plan,
        Php::Host,
        &host,
        HELLO,
        &format!("/cgi-bin/hello.php{HELLO_QUERY}"),
    ));
    drop(host);
    let php = php_cgi_wasm();
    for &runtime in runtimes {
        let (started_once_measured, started_once_dokuwiki) = match plan.started_once {
            StartedOnce::Everywhere => (true, true),
            StartedOnce::HelloUnderTheFirstRuntime => (runtime == runtimes[0], false),
        };
        let mut servers = vec![Php::Wasm(runtime)];
        if started_once_measured {
            servers.push(Php::WasmStartedOnce(runtime));
        }
        for php_runs in servers {
            eprintln!("== PHP: {}", php_runs.label());
            let started_once = php_runs == Php::WasmStartedOnce(runtime);
            let dokuwiki = !started_once || started_once_dokuwiki;
            let server = wasm_server(runtime, &php, started_once, dokuwiki);
            figures.push(measure(
                plan,
                php_runs,
                &server,
                HELLO,
                &format!("/site/hello.php{HELLO_QUERY}"),
            ));
            if dokuwiki {
                figures.push(measure(
                    plan,
                    php_runs,
                    &server,
                    DOKUWIKI,
                    "/wiki/doku.php?id=wiki:dokuwiki",
                ));
            }
        }
    }
    figures
}

/// What instantiating php-cgi costs under wasmtime, in microseconds: as built, and as the
/// snapshot of its start-up that `WasmPreinit On` makes (here without a php.ini). Each run
/// calls `zend_gdb_unregister_all`, an export that does nothing when no code was registered
/// with a debugger, so what is timed is a run's sandbox, its instantiation and its teardown.
pub struct Instantiation {
    pub as_built_us: Summary,
    pub snapshot_us: Summary,
}

const EMPTY_EXPORT: &str = "zend_gdb_unregister_all";

fn instantiation(runs: usize) -> Instantiation {
    let registry = builtin_runtimes::registry();
    let wasmtime = registry.get("wasmtime").expect("wasmtime is built in");
    let as_built = std::fs::read(php_cgi_wasm()).unwrap();
    let config = ExecutionConfig {
        args: vec!["php-cgi".into()],
        ..ExecutionConfig::default()
    };
    let snapshot = registry
        .preinitializer()
        .expect("a pre-initialiser is built in")
        .preinitialize(
            &as_built,
            &InitConfig::for_runs(InitExport::Conventional, &config),
            None,
        )
        .unwrap_or_else(|e| panic!("php-cgi cannot be pre-initialised: {e}"));
    let time = |wasm: &[u8], what: &str| {
        eprintln!("== PHP: instantiating {what} under wasmtime, {runs} times");
        let module = wasmtime
            .load(&wasmtime.compile(wasm).unwrap())
            .unwrap_or_else(|e| panic!("wasmtime cannot load {what}: {e}"));
        let config = ExecutionConfig {
            entry_point: EntryPoint::new(EMPTY_EXPORT),
            ..config.clone()
        };
        let micros: Vec<f64> = (0..runs)
            .map(|_| {
                let stdio = Stdio {
                    stdin: Box::new(std::io::empty()),
                    stdout: Box::new(std::io::sink()),
                    stderr: Box::new(std::io::sink()),
                };
                let start = Instant::now();
                let outcome = module.run(&config, stdio).outcome;
                let elapsed = start.elapsed();
                match outcome {
                    Ok(code) if code.is_success() => elapsed.as_secs_f64() * 1e6,
                    other => panic!("{what}: {EMPTY_EXPORT} did not return: {other:?}"),
                }
            })
            .collect();
        Summary::of(&micros)
    };
    Instantiation {
        as_built_us: time(&as_built, "php-cgi as built"),
        snapshot_us: time(&snapshot, "php-cgi's snapshot"),
    }
}

fn example(path: &str) -> PathBuf {
    workspace_root().join("examples").join(path)
}

fn host_server() -> Apache {
    let config = Config::new("");
    let hello = std::fs::read_to_string(example("php/site/hello.php")).unwrap();
    // Run directly rather than through an Action, php-cgi is told that this is intended.
    let alias = config.scratch.host_cgi_script(
        "hello.php",
        &format!("#!/usr/bin/php-cgi -dcgi.force_redirect=0\n{hello}"),
        &[],
    );
    let body = format!(
        "{SERVER_SETTINGS}{}{}{alias}",
        load_module("cgid"),
        load_module("alias"),
    );
    config.with_body(&body).start()
}

/// The example site at /site, as the README's "Running PHP" serves it, and DokuWiki at /wiki,
/// with `examples/dokuwiki/dokuwiki.conf` as it is; `started_once` adds `WasmPreinit On` to
/// /site's section, and `DOKUWIKI_PHP_STARTS_ONCE` to the wiki's if `dokuwiki` is measured.
fn wasm_server(runtime: &str, php: &Path, started_once: bool, dokuwiki: bool) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let php = scratch.file("wasm/php-cgi.wasm", std::fs::read(php).unwrap());
    let ini = scratch.file(
        "etc-php/php.ini",
        std::fs::read(example("php/php.ini")).unwrap(),
    );
    let ini_dir = ini.parent().unwrap();
    let site = scratch.file(
        "site/hello.php",
        std::fs::read(example("php/site/hello.php")).unwrap(),
    );
    let site = site.parent().unwrap();
    let data = scratch.php_data_dir("site-data");
    let wiki_data = scratch.php_data_dir("dokuwiki-php");
    let root = scratch.path().join("dokuwiki");
    unpack_dokuwiki(&root, "benchmark");
    let body = format!(
        "{SERVER_SETTINGS}{alias}{dir}WasmCacheDir {cache}\n\
         Alias /site {site}\n<Directory {site}>\n  AddHandler wasm-handler .php\n  \
         WasmModule {php}\n  WasmRuntime {runtime}\n  WasmEnableCGI On\n  \
         WasmMapCGIFileNames On\n  WasmMapDir /site {site} ro\n  WasmMapDir /data {data} rw\n  \
         WasmMapDir /etc/php {ini} ro\n  WasmEnv PHPRC /etc/php\n  WasmTimeout 600\n\
         {preinit}</Directory>\n\
         Define DOKUWIKI_ROOT {root}/\nDefine DOKUWIKI_URL /wiki\nDefine DOKUWIKI_RUNTIME {runtime}\n\
         Define PHP_CGI_WASM {php}\nDefine PHP_INI_DIR {ini}\nDefine PHP_DATA {wiki_data}\n\
         {wiki_preinit}Include {conf}\n\
         # WasmEdge's interpreter takes seconds a page, many clients minutes.\n\
         <Location /wiki>\n  WasmTimeout 600\n</Location>\n",
        preinit = if started_once { "  WasmPreinit On\n" } else { "" },
        wiki_preinit = if started_once && dokuwiki {
            "Define DOKUWIKI_PHP_STARTS_ONCE\n"
        } else {
            ""
        },
        alias = load_module("alias"),
        dir = load_module("dir"),
        cache = shared_cache_dir().display(),
        site = site.display(),
        php = php.display(),
        data = data.display(),
        ini = ini_dir.display(),
        root = root.display(),
        wiki_data = wiki_data.display(),
        conf = example("dokuwiki/dokuwiki.conf").display(),
    );
    config.with_body(&body).start()
}

pub(crate) fn measure(
    plan: &PhpPlan,
    php: Php,
    server: &Apache,
    page: &'static str,
    path: &str,
) -> PhpFigures {
    let label = php.label();
    let start = Instant::now();
    let first = server.get(path);
    let first_request = start.elapsed();
    assert!(
        first.status == 200,
        "{label}: GET {path} answered {} {:?}; error log:\n{}",
        first.status,
        String::from_utf8_lossy(&first.body),
        server.error_log()
    );
    // Every response is the first one's length: the page does not change between requests.
    let target =
        Target::get(server.port(), path, first.body.len()).with_timeout(Duration::from_secs(600));
    let mut loads = Vec::new();
    for &clients in plan.clients {
        let duration = plan.load_duration.max(first_request * plan.slow_requests);
        let run = load::run(&target, clients, duration)
            .unwrap_or_else(|e| panic!("{label}, {page}, {clients} clients: {e}"));
        let p50 = quantile(&run.latencies, 0.5).as_secs_f64() * 1e3;
        let p99 = quantile(&run.latencies, 0.99).as_secs_f64() * 1e3;
        eprintln!(
            "   {label:<32} {page:<20} {clients:>2} clients: {:>7.1} req/s, p50 {p50:.0} ms, p99 {p99:.0} ms",
            run.requests_per_second()
        );
        loads.push((clients, run.requests_per_second(), p50, p99));
    }
    PhpFigures {
        php,
        page,
        first_request,
        loads,
        peak_rss_kib: serving_child_kib(server, "VmHWM:"),
    }
}

/// The figures as Markdown.
pub fn markdown(results: &PhpResults) -> String {
    let figures = &results.pages;
    let mut out = String::from(
        "| server | page | first request after start (s) | child VmHWM (MiB) |\n\
         |---|---|---:|---:|\n",
    );
    for f in figures {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.1} |",
            f.php.label(),
            f.page,
            f.first_request.as_secs_f64(),
            f.peak_rss_kib as f64 / 1024.0,
        );
    }
    out.push_str(
        "\n| server | page | clients | requests/s | p50 (ms) | p99 (ms) |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for f in figures {
        for (clients, rps, p50, p99) in &f.loads {
            let _ = writeln!(
                out,
                "| {} | {} | {clients} | {rps:.1} | {p50:.0} | {p99:.0} |",
                f.php.label(),
                f.page
            );
        }
    }
    if let Some(i) = &results.instantiation {
        out.push_str(
            "\n| wasmtime, in process | instantiation and an empty call, median (µs) | min | max | runs |\n\
             |---|---:|---:|---:|---:|\n",
        );
        for (what, summary) in [
            ("php-cgi as built", &i.as_built_us),
            ("php-cgi's snapshot", &i.snapshot_us),
        ] {
            let _ = writeln!(
                out,
                "| {what} | {:.0} | {:.0} | {:.0} | {} |",
                summary.median, summary.min, summary.max, summary.runs
            );
        }
    }
    out
}
