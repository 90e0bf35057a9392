//! mod_wasm's benchmark: every runtime built in, side by side with Apache's static file handler
//! and a native program under mod_cgid, through a real Apache and in process.
//!
//!     mod_wasm-bench [--quick] [--out DIR]
//!     mod_wasm-bench --soak [--quick] [--out DIR]
//!     mod_wasm-bench --python [--quick] [--out DIR]
//!     mod_wasm-bench --flask [--quick] [--out DIR]
//!     mod_wasm-bench --php [--quick] [--out DIR]
//!     mod_wasm-bench --wordpress [--quick] [--out DIR]
//!     mod_wasm-bench --components [--quick] [--out DIR]
//!     mod_wasm-bench --hello RUNTIME [SECONDS]
//!
//! `scripts/bench` builds what it needs and runs it; see `docs/benchmarks/README.md`. Inputs
//! come from the environment: `MOD_WASM_SO` (the module), `MOD_WASM_GUESTS` (the guests built
//! for wasm32-wasip1) and `MOD_WASM_NATIVE` (the same programs built for the host).
//!
//! It writes `report.md` and `report.svg` to DIR (default `docs/benchmarks`). `--quick` runs
//! every measurement briefly, to check the benchmark itself works; its numbers mean nothing.
//! `--soak` runs only the soak instead (see [`soak`]) and writes `soak.md`; `--python` runs
//! only CPython for WASI against python3 under mod_cgid (see [`python`]) and writes
//! `python.md`; `--flask` runs only the Flask app (see [`flask`]) and writes `flask.md`;
//! `--php` runs only PHP for WASI against the host's php-cgi (see [`php`]) and writes `php.md`;
//! `--wordpress` runs only Debian's WordPress on MariaDB, likewise (see [`wordpress`]), and
//! writes `wordpress.md`;
//! `--components` runs only the `wasi:http` hello components against `wasmtime serve` (see
//! [`components`]) and writes `components.md`.
//! `--hello` only runs hello in process under one runtime, over and over for
//! SECONDS (default 10), and prints the time per run: a steady load to profile with `perf`.

mod chart;
mod components;
mod flask;
mod in_process;
mod large_module;
mod load;
mod machine;
mod php;
mod python;
mod report;
mod soak;
mod stats;
mod through_apache;
mod wordpress;

use std::path::PathBuf;
use std::time::Duration;

/// How long and how often each measurement runs.
pub struct Plan {
    pub quick: bool,
    /// Runs per figure; the figure is their median.
    pub runs: usize,
    /// Runs for measurements that take seconds each (compiling the large module).
    pub slow_runs: usize,
    /// Client counts of the load through Apache.
    pub clients: [usize; 2],
    /// Load before the timed runs, per handler and client count, so children are warm.
    pub warmup: Duration,
    pub load_duration: Duration,
    pub hello_iterations: usize,
    pub kernel_mib: usize,
    /// The kernel's input for interpreters, which would take minutes on the full size.
    pub interpreter_kernel_mib: usize,
    pub large_module_bytes: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        quick: false,
        runs: 5,
        slow_runs: 3,
        clients: [1, 16],
        warmup: Duration::from_secs(1),
        load_duration: Duration::from_secs(3),
        hello_iterations: 200,
        kernel_mib: 16,
        interpreter_kernel_mib: 1,
        large_module_bytes: 3 << 20,
    };

    const QUICK: Plan = Plan {
        quick: true,
        runs: 2,
        slow_runs: 2,
        clients: [1, 16],
        warmup: Duration::from_millis(100),
        load_duration: Duration::from_millis(200),
        hello_iterations: 5,
        kernel_mib: 1,
        interpreter_kernel_mib: 1,
        large_module_bytes: 64 << 10,
    };
}

struct Options {
    quick: bool,
    soak: bool,
    python: bool,
    flask: bool,
    php: bool,
    wordpress: bool,
    components: bool,
    /// `--hello`: the runtime, and for how long.
    hello: Option<(String, Duration)>,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        soak: false,
        python: false,
        flask: false,
        php: false,
        wordpress: false,
        components: false,
        hello: None,
        out: PathBuf::from("docs/benchmarks"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--soak" => options.soak = true,
            "--python" => options.python = true,
            "--flask" => options.flask = true,
            "--php" => options.php = true,
            "--wordpress" => options.wordpress = true,
            "--components" => options.components = true,
            "--hello" => {
                let runtime = args.next().ok_or("--hello needs a runtime")?;
                let seconds = match args.next() {
                    Some(seconds) => seconds
                        .parse()
                        .map_err(|_| format!("--hello: '{seconds}' is no number of seconds"))?,
                    None => 10,
                };
                options.hello = Some((runtime, Duration::from_secs(seconds)));
            }
            "--out" => {
                options.out = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--out needs a directory")?
            }
            "-h" | "--help" => {
                return Err(
                    "usage: mod_wasm-bench [--soak | --python | --flask | --php | --wordpress | --components] [--quick] [--out DIR]\n       \
                     mod_wasm-bench --hello RUNTIME [SECONDS]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument '{other}'; try --help")),
        }
    }
    Ok(options)
}

/// What the Python report measures, above its tables.
const PYTHON_INTRO: &str =
    "CPython 3.12 for WASI (`examples/python`, fetched by `scripts/setup`) runs a \
hello script (`print` of a header and a line) in interpreter mode under every runtime, against \
the host's python3 running the same script under mod_cgid. `apachectl -t` compiles CPython \
(26 MB) with an empty `WasmCacheDir`, then loads it from the cache it filled; the first request \
after a start with that cache loads the compiled code into the child and runs the script once. \
Each server has one child with 32 threads. VmHWM is the serving child's peak resident memory; \
PSS counts the pages it shares with other processes (its parent, the page cache) in proportion. \
Private dirty is what only that child holds and cannot share (heap, linear memories, a copy of \
compiled code of its own), with the linear memories of the load's 16 concurrent runs, which a \
runtime may keep for reuse: what every further child costs again. Compiled code mapped from the \
cache's files is not in it but in the last column, resident once for all the children that map \
it; runtimes that copy compiled code into each child have it in private dirty.\n";

/// What the Flask report measures, above its table.
const FLASK_INTRO: &str = "The README's Flask app (`examples/flask`: Flask's quick-start app, \
Flask from PyPI, installed by `scripts/setup`) answers `GET /` through `wsgiref`'s CGI handler, \
run by CPython 3.12 for WASI under every runtime that runs it in reasonable time (not WasmEdge's \
interpreter), and as a CGI script by the host's python3 under mod_cgid. Each figure is one \
request at a time, after a first request that loads the module and fills a cache. Under \
mod_wasm, Flask's bytecode is compiled from source on every request, or read from CPython's \
bytecode cache (`PYTHONPYCACHEPREFIX`) in a read-write grant that the first request filled, or \
from that same cache granted read-only: bytecode compiled in advance, which the guest cannot \
change. The host's python3 reads the bytecode pip compiled when it installed Flask. Under the \
runtimes that run components, the same app also answers as a `wasi:http` handler that \
`examples/wsgi/build` made with componentize-py (CPython 3.14), Flask imported when it was \
built: a request starts from there.\n";

/// What the PHP report measures, above its tables.
const PHP_INTRO: &str = "php-cgi 8.2 for WASI (`examples/php/build`, from Debian's source) \
serves the example site's `hello.php` (`?name=Ada`: a page of a few lines) and a page of \
Debian's DokuWiki (`wiki:dokuwiki`, which the package ships, rendered from DokuWiki's cache), \
each as the README configures it, under every runtime, against the host's php-cgi (Debian's \
`php-cgi` 8.2) running the same `hello.php` as a CGI program under mod_cgid. Each server has one child with 32 threads; its compiled code comes from \
the cache, so the first request after a start loads it and runs the page once. Every request \
is a fresh php-cgi: a process on the host, a sandbox under mod_wasm, and neither has an \
opcache, so each request compiles the scripts it runs (for a DokuWiki page, about 190 files). \
Each runtime serves both pages twice: with php-cgi starting PHP for each request, and with PHP \
started once (`WasmPreinit On`: php-cgi's init runs PHP's start-up when the configuration is \
read, and each request starts from its snapshot). VmHWM is the serving child's peak resident \
memory, after both pages.\n";

/// What the WordPress report measures, above its tables.
const WORDPRESS_INTRO: &str = "Debian's WordPress (the `wordpress` package, unpacked by \
`examples/wordpress/unpack`) on a MariaDB the benchmark starts, installed by its installer, \
shows its front page: the installer's \"Hello world!\" and four posts of a few paragraphs, \
in the Twenty Twenty-Three theme. mod_wasm serves it with `examples/wordpress/wordpress.conf` \
as it is, under every runtime with sockets, by the flavour of php-cgi for WASI that connects \
there (`wasip2/` for wasmtime's `wasi:sockets`, `wasix/` for Wasmer, `wasmedge/` for \
WasmEdge); the host's php-cgi (Debian's `php-cgi` and `php-mysql` 8.2) runs the same WordPress \
under mod_cgid, handed each script by mod_actions as Debian's php-cgi configuration does. All \
of them read the one database over TCP on loopback. Each site runs no cron on a page view \
(`DISABLE_WP_CRON`) and is named by the request's host (`WP_HOME`). Each server has one child \
with 32 threads; its compiled code comes from the cache, so the first request after a start \
loads it and runs the page once. Every request is a fresh php-cgi, with no opcache: each \
compiles every script WordPress runs. VmHWM is the serving child's peak resident memory. \
`libapache2-mod-php` is not beside them: it needs the prefork MPM, and this module's \
figures are taken under event (see the PHP section of `docs/benchmarks/README.md`).\n";

/// What the components report measures, above its tables.
const COMPONENTS_INTRO: &str = "The hello `wasi:http` handlers, WASI 0.2's \
(`examples/http-hello`) and WASI 0.3's (`examples/http-service`, built with `wasip3` from \
crates.io), answer `GET /` with a line of text, served by `wasmtime serve` (the CLI at the \
version mod_wasm links, installed by `scripts/bench --components`, with its defaults and \
`-Scli`: a fresh instance per request for WASI 0.2, and for WASI 0.3 an instance reused for up to \
128 requests, 16 of them at once) and by mod_wasm under wasmtime: with a fresh instance per \
request, and for WASI 0.3 also with `WasmReuse On` (up to 1000 requests per instance, one at a \
time). Apache has one child with 32 \
threads; the clients keep their connections alive. Each load follows a warm-up. Beside them: \
the same Apache serving a static file of the hello's length (what a request through Apache \
costs before any handler runs), and, in the last table, mod_wasm's call of each handler in the \
benchmark's own process, without Apache or a connection (what the handler costs on its own).\n";

/// Writes a report of its own (`--soak`, `--python`, …) to `DIR/<file>`: a title, the command
/// that made it, what quick mode means for it (if anything), what it measures and its tables.
fn write_report(options: &Options, file: &str, title: &str, quick: &str, intro: &str, table: &str) {
    let command = std::env::var("MOD_WASM_BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let quick = if options.quick && !quick.is_empty() {
        format!("**Quick mode**: {quick}\n\n")
    } else {
        String::new()
    };
    let path = options.out.join(file);
    let written = std::fs::create_dir_all(&options.out).and_then(|()| {
        std::fs::write(
            &path,
            format!("# {title}\n\n`{command}`\n\n{quick}{intro}{table}"),
        )
    });
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    eprintln!("wrote {}", path.display());
}

/// A directory named by an environment variable, with the build's default beside it.
fn input_dir(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"));
            target.join(default)
        })
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let plan = if options.quick {
        Plan::QUICK
    } else {
        Plan::FULL
    };
    let guests = input_dir("MOD_WASM_GUESTS", "wasm32-wasip1/release");
    let components = input_dir("MOD_WASM_COMPONENTS", "wasm32-wasip2/release");
    let native = input_dir("MOD_WASM_NATIVE", "release");

    let registry = builtin_runtimes::registry();
    let runtimes: Vec<_> = registry.iter().collect();
    let names: Vec<&'static str> = runtimes.iter().map(|runtime| runtime.name()).collect();
    let command = std::env::var("MOD_WASM_BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));

    if let Some((name, duration)) = &options.hello {
        match registry.get(name) {
            Ok(runtime) => in_process::hello_loop(runtime, &guests, *duration),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
        return;
    }

    if options.soak {
        let plan = if options.quick {
            soak::SoakPlan::QUICK
        } else {
            soak::SoakPlan::FULL
        };
        let soaks = soak::run(&plan, &names);
        let table = soak::markdown(&soaks);
        print!("{table}");
        write_report(&options, "soak.md", "Soak", "", "", &table);
        return;
    }

    if options.python {
        let plan = if options.quick {
            python::PythonPlan::QUICK
        } else {
            python::PythonPlan::FULL
        };
        let figures = python::run(&plan, &names);
        let table = python::markdown(&figures);
        print!("{table}");
        write_report(
            &options,
            "python.md",
            "Python",
            "every load is brief and no compile is timed with an empty cache; the numbers mean \
             nothing.",
            &format!("{PYTHON_INTRO}\n"),
            &table,
        );
        return;
    }

    if options.flask {
        let plan = if options.quick {
            flask::FlaskPlan::QUICK
        } else {
            flask::FlaskPlan::FULL
        };
        let table = flask::markdown(&flask::run(&plan, &names));
        print!("{table}");
        write_report(
            &options,
            "flask.md",
            "Flask",
            "one request per figure; the numbers mean little.",
            &format!("{FLASK_INTRO}\n"),
            &table,
        );
        return;
    }

    if options.php {
        let plan = if options.quick {
            php::PhpPlan::QUICK
        } else {
            php::PhpPlan::FULL
        };
        let table = php::markdown(&php::run(&plan, &names));
        print!("{table}");
        write_report(
            &options,
            "php.md",
            "PHP",
            "every load is brief, PHP started once serves hello.php under the first runtime \
             only, and instantiations are few; the numbers mean nothing.",
            &format!("{PHP_INTRO}\n"),
            &table,
        );
        return;
    }

    if options.wordpress {
        let plan = if options.quick {
            php::PhpPlan::QUICK
        } else {
            php::PhpPlan::FULL
        };
        let table = php::markdown(&php::PhpResults {
            pages: wordpress::run(&plan, &names),
            instantiation: None,
        });
        print!("{table}");
        write_report(
            &options,
            "wordpress.md",
            "WordPress",
            "every load is brief; the numbers mean nothing.",
            &format!("{WORDPRESS_INTRO}\n"),
            &table,
        );
        return;
    }

    if options.components {
        let plan = if options.quick {
            components::ComponentsPlan::QUICK
        } else {
            components::ComponentsPlan::FULL
        };
        let Ok(wasmtime) = registry.get("wasmtime") else {
            eprintln!("--components compares wasmtime's serving with `wasmtime serve`: build with the wasmtime runtime");
            std::process::exit(2);
        };
        let table = components::markdown(&components::run(&plan, wasmtime));
        print!("{table}");
        write_report(
            &options,
            "components.md",
            "Components",
            "every load is brief; the numbers mean nothing.",
            &format!("{COMPONENTS_INTRO}\n"),
            &table,
        );
        return;
    }

    let machine = machine::describe(&runtimes);
    let through_apache = through_apache::measure(&plan, &names, &native.join("hello"));
    let in_process = in_process::measure(&plan, &runtimes, &guests, &components, &native);

    let report = report::Report {
        plan: &plan,
        command: &command,
        machine: &machine,
        through_apache: &through_apache,
        in_process: &in_process,
    };
    if let Err(e) = std::fs::create_dir_all(&options.out) {
        eprintln!("cannot create {}: {e}", options.out.display());
        std::process::exit(1);
    }
    let markdown = options.out.join("report.md");
    let svg = options.out.join("report.svg");
    let written = std::fs::write(&markdown, report.markdown())
        .map_err(|e| format!("cannot write {}: {e}", markdown.display()))
        .and_then(|()| chart::write(&svg, &report));
    if let Err(e) = written {
        eprintln!("{e}");
        std::process::exit(1);
    }
    eprintln!("wrote {} and {}", markdown.display(), svg.display());
}
