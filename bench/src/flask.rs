//! Flask: the README's Flask app (`examples/flask`) under every runtime that runs it in
//! reasonable time, against the host's python3 running it under mod_cgid. Per runtime, the time
//! of one request (`GET /`, one at a time after a first one) with Flask's imports compiled from
//! source on every request, with CPython's bytecode cache in a read-write grant
//! (`PYTHONPYCACHEPREFIX`, filled by the first request), and with that same cache granted
//! read-only, which is how a site serves bytecode compiled in advance. Under the runtimes that
//! run components, also the app started once: built into a `wasi:http` handler with Flask
//! imported ahead of time (`examples/wsgi/build`).

use crate::stats::quantile;
use mod_wasm_tests::{
    load_module, python_wasm, shared_cache_dir, workspace_root, Apache, Config, Scratch,
};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// WasmEdge's interpreter takes seconds for CPython to say hello; Flask's imports take it
/// minutes.
const TOO_SLOW: &str = "wasmedge-interpreter";

const HELLO: &[u8] = b"Hello, World!\n";

/// How many requests each figure is the median of.
pub struct FlaskPlan {
    pub requests: usize,
}

impl FlaskPlan {
    pub const FULL: FlaskPlan = FlaskPlan { requests: 5 };
    pub const QUICK: FlaskPlan = FlaskPlan { requests: 1 };
}

/// Where Flask's bytecode comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bytecode {
    /// Compiled from source on every request: nothing may be written next to the sources.
    EveryRequest,
    /// A cache in a read-write grant, which the first request filled.
    ReadWriteCache,
    /// The same cache, granted read-only.
    ReadOnlyCache,
    /// The host's python3 reads what pip compiled when it installed Flask.
    HostPip,
    /// Imported when the component was built: a request starts with Flask imported.
    ImportedAtBuild,
}

impl Bytecode {
    fn label(self) -> &'static str {
        match self {
            Bytecode::EveryRequest => "compiled on every request",
            Bytecode::ReadWriteCache => "`PYTHONPYCACHEPREFIX`, read-write grant",
            Bytecode::ReadOnlyCache => "`PYTHONPYCACHEPREFIX`, read-only grant",
            Bytecode::HostPip => "compiled by pip at install",
            Bytecode::ImportedAtBuild => "imported at build: a component (`examples/wsgi/build`)",
        }
    }

    /// The directives that give a location this bytecode, with the cache at `cache`.
    fn directives(self, cache: &Path) -> String {
        let grant = |access: &str| {
            format!(
                "  WasmMapDir /pycache {} {access}\n  WasmEnv PYTHONPYCACHEPREFIX /pycache\n",
                cache.display()
            )
        };
        match self {
            Bytecode::EveryRequest | Bytecode::HostPip | Bytecode::ImportedAtBuild => String::new(),
            Bytecode::ReadWriteCache => grant("rw"),
            Bytecode::ReadOnlyCache => grant("ro"),
        }
    }
}

const WASM_BYTECODES: [Bytecode; 3] = [
    Bytecode::EveryRequest,
    Bytecode::ReadWriteCache,
    Bytecode::ReadOnlyCache,
];

/// The seconds one request took, for one interpreter and bytecode.
pub struct FlaskFigures {
    pub interpreter: String,
    pub bytecode: Bytecode,
    pub median: Duration,
    pub fastest: Duration,
}

pub fn run(plan: &FlaskPlan, runtimes: &[&'static str]) -> Vec<FlaskFigures> {
    let example = workspace_root().join("examples/flask");
    let site_packages = example.join("site-packages");
    assert!(
        site_packages.join("flask").is_dir(),
        "{} has no Flask: install it with scripts/setup",
        site_packages.display()
    );
    let config = Config::new("");
    let app = config.scratch.dir("app");
    copy_tree(&config.scratch, &site_packages, "app/site-packages");
    config
        .scratch
        .file("app/app.py", std::fs::read(example.join("app.py")).unwrap());
    let data = config.scratch.writable_dir("data");

    // The host's python3 runs the same app.py as a CGI script, with Flask on its path.
    let cgi_bin = config.scratch.dir("cgi-bin");
    let script = config.scratch.file(
        "cgi-bin/app.py",
        format!(
            "#!/usr/bin/python3\nimport sys\nsys.path.insert(0, {:?})\n{}",
            app.join("site-packages").display().to_string(),
            std::fs::read_to_string(example.join("app.py")).unwrap()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let runtimes: Vec<&str> = runtimes
        .iter()
        .copied()
        .filter(|runtime| *runtime != TOO_SLOW)
        .collect();
    let mut body = format!(
        "{}{}{}WasmCacheDir {}\nScriptAlias /cgi-bin/ {}/\n",
        crate::through_apache::SERVER_SETTINGS,
        load_module("cgid"),
        load_module("alias"),
        shared_cache_dir().display(),
        cgi_bin.display(),
    );
    for runtime in &runtimes {
        let cache = config.scratch.writable_dir(&format!("pycache-{runtime}"));
        for bytecode in WASM_BYTECODES {
            body += &format!(
                "<Location /{runtime}/{bytecode:?}>\n  SetHandler wasm-handler\n  \
                 WasmRuntime {runtime}\n  WasmModule {python}\n  WasmEnableCGI On\n  \
                 WasmMapDir /app {app} ro\n  WasmMapDir /data {data} rw\n  \
                 WasmEnv PYTHONPATH /app/site-packages\n  WasmArg /app/app.py\n  \
                 WasmTimeout 600\n{cache}</Location>\n",
                python = python_wasm().display(),
                app = app.display(),
                data = data.display(),
                cache = bytecode.directives(&cache),
            );
        }
        if mod_wasm_tests::runtime(runtime).components {
            body += &format!(
                "<Location /{runtime}/{:?}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
                 WasmModule {}\n  WasmMapDir /data {} rw\n  WasmEnv SCRIPT_NAME /{runtime}/{:?}\n\
                 </Location>\n",
                Bytecode::ImportedAtBuild,
                mod_wasm_tests::flask_component().display(),
                data.display(),
                Bytecode::ImportedAtBuild,
            );
        }
    }
    let server = config.with_body(&body).start();

    let mut figures = Vec::new();
    eprintln!("== Flask: python3 under mod_cgid");
    figures.push(measure(
        plan,
        &server,
        "mod_cgid, python3",
        Bytecode::HostPip,
        "/cgi-bin/app.py/",
    ));
    for runtime in &runtimes {
        eprintln!("== Flask: {runtime}");
        // In this order: the read-write cache is filled before it is granted read-only.
        let component = mod_wasm_tests::runtime(runtime)
            .components
            .then_some(Bytecode::ImportedAtBuild);
        for bytecode in WASM_BYTECODES.into_iter().chain(component) {
            figures.push(measure(
                plan,
                &server,
                &format!("mod_wasm, {runtime}"),
                bytecode,
                &format!("/{runtime}/{bytecode:?}/"),
            ));
        }
    }
    figures
}

/// One request to warm up (load the module, fill a cache), then `plan.requests` timed ones.
fn measure(
    plan: &FlaskPlan,
    server: &Apache,
    interpreter: &str,
    bytecode: Bytecode,
    path: &str,
) -> FlaskFigures {
    let mut times = Vec::new();
    for _ in 0..=plan.requests {
        let started = Instant::now();
        let response = server.get(path);
        times.push(started.elapsed());
        assert!(
            response.status == 200 && response.body == HELLO,
            "{interpreter}, {}: GET {path} answered {} {:?}; error log:\n{}",
            bytecode.label(),
            response.status,
            String::from_utf8_lossy(&response.body),
            server.error_log()
        );
    }
    let mut timed = times.split_off(1);
    timed.sort();
    let figures = FlaskFigures {
        interpreter: interpreter.to_owned(),
        bytecode,
        median: quantile(&timed, 0.5),
        fastest: timed.first().copied().unwrap_or_default(),
    };
    eprintln!(
        "   {interpreter:<24} {:<42} median {:.3} s",
        bytecode.label(),
        figures.median.as_secs_f64()
    );
    figures
}

/// Copies the files under `from` into `scratch` at `to`, readable by Apache's children.
fn copy_tree(scratch: &Scratch, from: &Path, to: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let relative = format!("{to}/{name}");
        if entry.file_type().unwrap().is_dir() {
            copy_tree(scratch, &entry.path(), &relative);
        } else {
            scratch.file(&relative, std::fs::read(entry.path()).unwrap());
        }
    }
}

pub fn markdown(figures: &[FlaskFigures]) -> String {
    let mut out = String::from(
        "| interpreter | Flask's bytecode | median (s) | fastest (s) |\n|---|---|---:|---:|\n",
    );
    for f in figures {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} |",
            f.interpreter,
            f.bytecode.label(),
            f.median.as_secs_f64(),
            f.fastest.as_secs_f64()
        );
    }
    out
}
