//! A real Python web application from PyPI: Flask's quick-start app with a counter in SQLite
//! (`examples/flask`, Flask installed by `scripts/setup`), run by CPython for WASI through
//! `wsgiref`'s CGI handler, under every runtime that runs CPython in reasonable time. Routing,
//! Flask's own 404, a redirect after a POST, and concurrent writes to the database in a
//! read-write grant, none of them lost. And the bytecode cache the README suggests: written by
//! a first request into a read-write grant, then served from read-only. And the same app
//! started once: built into a `wasi:http` handler with Flask already imported
//! (`examples/wsgi/build`), served by every runtime that runs components.

use mod_wasm_tests::{python_wasm, runtimes, shared_cache_dir, workspace_root, Apache, Config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// WasmEdge's interpreter takes seconds for CPython to say hello; Flask's imports take it
/// minutes.
const TOO_SLOW: &str = "wasmedge-interpreter";

/// Concurrent POSTs per runtime.
const WRITERS: usize = 4;

/// Copies the files under `from` into the scratch directory at `to`, readable by the children.
fn copy_tree(config: &Config, from: &Path, to: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let relative = format!("{to}/{name}");
        if entry.file_type().unwrap().is_dir() {
            copy_tree(config, &entry.path(), &relative);
        } else {
            config
                .scratch
                .file(&relative, std::fs::read(entry.path()).unwrap());
        }
    }
}

/// A configuration with the app and Flask copied into its scratch directory (`app/`).
fn with_the_app() -> Config {
    let example = workspace_root().join("examples/flask");
    let site_packages = example.join("site-packages");
    assert!(
        site_packages.join("flask").is_dir(),
        "{} has no Flask: install it with scripts/setup",
        site_packages.display()
    );
    let config = Config::new("");
    copy_tree(&config, &site_packages, "app/site-packages");
    config
        .scratch
        .file("app/app.py", std::fs::read(example.join("app.py")).unwrap());
    config
}

/// The app at `/PATH` under `runtime`, as the README configures it, with `data` granted
/// read-write at /data and `more` directives.
fn location(config: &Config, runtime: &str, path: &str, data: &Path, more: &str) -> String {
    format!(
        "<Location /{path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
         WasmModule {python}\n  WasmEnableCGI On\n  WasmMapDir /app {app} ro\n  \
         WasmMapDir /data {data} rw\n  WasmEnv PYTHONPATH /app/site-packages\n  \
         WasmArg /app/app.py\n  WasmTimeout 120\n{more}</Location>\n",
        python = python_wasm().display(),
        app = config.scratch.path().join("app").display(),
        data = data.display(),
    )
}

fn start(runtimes: &[&str]) -> Apache {
    let config = with_the_app();
    let mut body = format!("WasmCacheDir {}\n", shared_cache_dir().display());
    for runtime in runtimes {
        let data = config.scratch.writable_dir(&format!("data-{runtime}"));
        body += &location(&config, runtime, runtime, &data, "");
    }
    config.with_body(&body).start()
}

/// The app at `/RUNTIME` answers its hello route, and Flask's own 404 elsewhere.
fn routes_and_404(apache: &Apache, runtime: &str) {
    let hello = apache.get(&format!("/{runtime}/"));
    assert_eq!(hello.status, 200, "{runtime}: {}", apache.error_log());
    assert_eq!(hello.body, b"Hello, World!\n", "{runtime}");
    let missing = apache.get(&format!("/{runtime}/nowhere"));
    assert_eq!(missing.status, 404, "{runtime}: Flask's own 404");
}

/// Posts to the counter at `prefix/count` from [`WRITERS`] clients at once, and checks that each
/// is redirected to it and that it then counts every one.
fn count_concurrently(apache: &Apache, runtime: &str, prefix: &str) {
    let port = apache.port();
    let counter = format!("{prefix}/count");
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                mod_wasm_tests::http::Request::new(port, "POST", &counter).send()
            })
        })
        .collect();
    for writer in writers {
        let posted = writer.join().unwrap();
        assert_eq!(posted.status, 302, "{runtime}: {}", apache.error_log());
        let location = posted
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("location"))
            .map(|(_, value)| value.as_str());
        assert_eq!(
            location,
            Some(counter.as_str()),
            "{runtime}: redirected to the counter, under the mount point"
        );
    }
    let counted = apache.get(&counter);
    assert_eq!(counted.status, 200, "{runtime}");
    assert_eq!(
        counted.body,
        format!("{WRITERS}\n").as_bytes(),
        "{runtime}: every concurrent write kept"
    );
}

#[test]
fn flask_started_once_as_a_component_serves_routes_redirects_and_sqlite() {
    let runtimes: Vec<&str> = runtimes()
        .into_iter()
        .filter(|name| mod_wasm_tests::runtime(name).components)
        .collect();
    if runtimes.is_empty() {
        return;
    }
    let config = Config::new("");
    let mut body = format!("WasmCacheDir {}\n", shared_cache_dir().display());
    for runtime in &runtimes {
        let data = config.scratch.writable_dir(&format!("data-{runtime}"));
        body += &format!(
            "<Location /{runtime}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmMapDir /data {} rw\n  WasmEnv SCRIPT_NAME /{runtime}\n\
             </Location>\n",
            mod_wasm_tests::flask_component().display(),
            data.display()
        );
    }
    let apache = config.with_body(&body).start();
    for runtime in runtimes {
        routes_and_404(&apache, runtime);
        // A first request makes the database: concurrent requests that all find none fail
        // with "file is not a database" now and then (see the README).
        let empty = apache.get(&format!("/{runtime}/count"));
        assert_eq!(empty.body, b"0\n", "{runtime}: {}", apache.error_log());
        count_concurrently(&apache, runtime, &format!("/{runtime}"));
    }
}

#[test]
fn flask_from_pypi_serves_routes_redirects_and_sqlite_under_every_runtime() {
    let runtimes: Vec<&str> = runtimes()
        .into_iter()
        .filter(|runtime| *runtime != TOO_SLOW)
        .collect();
    let apache = start(&runtimes);
    for runtime in runtimes {
        routes_and_404(&apache, runtime);
        count_concurrently(&apache, runtime, &format!("/{runtime}"));
    }
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                files.insert(entry.path(), (metadata.len(), metadata.modified().unwrap()));
            }
        }
    }
    files
}

#[test]
fn a_bytecode_cache_written_by_a_first_request_serves_later_ones_read_only() {
    let runtimes: Vec<&str> = runtimes()
        .into_iter()
        .filter(|runtime| *runtime != TOO_SLOW)
        .collect();
    let config = with_the_app();
    let mut body = format!("WasmCacheDir {}\n", shared_cache_dir().display());
    let mut caches = Vec::new();
    for runtime in &runtimes {
        let data = config.scratch.writable_dir(&format!("data-{runtime}"));
        let cache = config.scratch.writable_dir(&format!("pycache-{runtime}"));
        let writable = format!(
            "  WasmMapDir /pycache {} rw\n  WasmEnv PYTHONPYCACHEPREFIX /pycache\n",
            cache.display()
        );
        let read_only = writable.replace(" rw\n", " ro\n");
        body += &location(
            &config,
            runtime,
            &format!("{runtime}/warm"),
            &data,
            &writable,
        );
        body += &location(
            &config,
            runtime,
            &format!("{runtime}/frozen"),
            &data,
            &read_only,
        );
        caches.push(cache);
    }
    let apache = config.with_body(&body).start();
    for (runtime, cache) in runtimes.iter().zip(&caches) {
        let warm = apache.get(&format!("/{runtime}/warm/"));
        assert_eq!(warm.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(warm.body, b"Hello, World!\n", "{runtime}");
        // The prefix mirrors the guest's paths: Flask's own module, compiled by this CPython.
        let flask = cache.join("app/site-packages/flask/app.cpython-312.pyc");
        assert!(
            flask.is_file(),
            "{runtime}: no {} after the first request; the cache holds {:?}",
            flask.display(),
            snapshot(cache).keys().take(10).collect::<Vec<_>>()
        );

        let written = snapshot(cache);
        let frozen = apache.get(&format!("/{runtime}/frozen/"));
        assert_eq!(frozen.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(frozen.body, b"Hello, World!\n", "{runtime}");
        assert_eq!(
            snapshot(cache),
            written,
            "{runtime}: a request with the cache granted read-only changed it"
        );
    }
}
