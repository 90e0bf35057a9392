//! PHP: php-cgi for WASI (`examples/php/build`) serving the example site's `hello.php` and a
//! page of Debian's DokuWiki (`wiki:dokuwiki`, which the package ships) under every runtime,
//! configured as the README configures them, against the host's php-cgi (Debian's `php-cgi`)
//! running the same `hello.php` as a CGI program under mod_cgid.
//!
//! Per server and page: the first request after a start with the compiled code in the cache;
//! requests/s, p50 and p99 at each client count; and the serving child's peak memory (VmHWM).

use crate::load::{self, Target};
use crate::stats::quantile;
use crate::through_apache::{serving_child_kib, SERVER_SETTINGS};
use mod_wasm_tests::{
    load_module, php_cgi_wasm, shared_cache_dir, unpack_dokuwiki, workspace_root, Apache, Config,
};
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
}

impl PhpPlan {
    pub const FULL: PhpPlan = PhpPlan {
        clients: &[1, 8],
        load_duration: Duration::from_secs(10),
        slow_requests: 3,
    };
    pub const QUICK: PhpPlan = PhpPlan {
        clients: &[1],
        load_duration: Duration::from_millis(500),
        slow_requests: 1,
    };
}

/// Who runs PHP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Php {
    /// The host's php-cgi under mod_cgid.
    Host,
    /// php-cgi.wasm under mod_wasm and the named runtime.
    Wasm(&'static str),
}

impl Php {
    pub fn label(self) -> String {
        match self {
            Php::Host => "mod_cgid, php-cgi".to_owned(),
            Php::Wasm(runtime) => format!("mod_wasm, {runtime}"),
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

pub fn run(plan: &PhpPlan, runtimes: &[&'static str]) -> Vec<PhpFigures> {
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
        eprintln!("== PHP: {runtime}");
        let server = wasm_server(runtime, &php);
        figures.push(measure(
            plan,
            Php::Wasm(runtime),
            &server,
            HELLO,
            &format!("/site/hello.php{HELLO_QUERY}"),
        ));
        figures.push(measure(
            plan,
            Php::Wasm(runtime),
            &server,
            DOKUWIKI,
            "/wiki/doku.php?id=wiki:dokuwiki",
        ));
    }
    figures
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
/// with `examples/dokuwiki/dokuwiki.conf` as it is.
fn wasm_server(runtime: &str, php: &Path) -> Apache {
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
         WasmMapDir /etc/php {ini} ro\n  WasmEnv PHPRC /etc/php\n</Directory>\n\
         Define DOKUWIKI_ROOT {root}/\nDefine DOKUWIKI_URL /wiki\nDefine DOKUWIKI_RUNTIME {runtime}\n\
         Define PHP_CGI_WASM {php}\nDefine PHP_INI_DIR {ini}\nDefine PHP_DATA {wiki_data}\n\
         Include {conf}\n\
         # WasmEdge's interpreter takes seconds a page, many clients minutes.\n\
         <Location /wiki>\n  WasmTimeout 600\n</Location>\n<Location /site>\n  WasmTimeout 600\n</Location>\n",
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

fn measure(
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
pub fn markdown(figures: &[PhpFigures]) -> String {
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
    out
}
