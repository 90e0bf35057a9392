//! Writes the demo for `scripts/demo`: the whole Apache configuration (`DIR/httpd.conf`) and
//! the page (`DIR/htdocs/index.html`), for the module `MOD_WASM_SO` and the guests in
//! `MOD_WASM_GUESTS` and `MOD_WASM_COMPONENTS`.
//!
//!     demo-site DIR PORT LISTING PYTHON_APP [--cache CACHE] [--database PORT NAME USER PASSWORD]
//!               [--php PHP_DIR]
//!
//! LISTING is the directory the `ls` example may list, PYTHON_APP the Python app's directory
//! (a copy of `examples/python`, which the server's children must be able to read); CPython
//! for WASI is taken from where scripts/setup fetches it. CACHE is the `WasmCacheDir`.
//! Without a database, the guestbook is left out. PHP_DIR holds PHP for WASI and its site
//! (`php-cgi.wasm`, `site/`, `etc/php.ini`, a writable `data/`, and `cgi-bin/` with the sandbox
//! demo's script for the host's php-cgi); without it, the PHP rows are left out.

use mod_wasm_tests::demo::{Database, Php, Python, Server, Site};
use mod_wasm_tests::{components_dir, guests_dir, module_so, workspace_root, Build, PYTHON_WASM};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: demo-site DIR PORT LISTING PYTHON_APP [--cache CACHE] \
                     [--database PORT NAME USER PASSWORD] [--php PHP_DIR]";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut positional = || args.next().unwrap_or_else(|| usage());
    let dir = PathBuf::from(positional());
    let port = positional().parse().unwrap_or_else(|_| usage());
    let listing = PathBuf::from(positional());
    let app = PathBuf::from(positional());
    let (mut cache, mut database, mut php) = (None, None, None);
    let rest: Vec<String> = args.collect();
    let mut options = rest.iter();
    while let Some(option) = options.next() {
        let mut value = || options.next().cloned().unwrap_or_else(|| usage());
        match option.as_str() {
            "--cache" => cache = Some(PathBuf::from(value())),
            "--php" => php = Some(PathBuf::from(value())),
            "--database" => {
                database = Some(Database {
                    port: value().parse().unwrap_or_else(|_| usage()),
                    name: value(),
                    user: value(),
                    password: value(),
                })
            }
            _ => usage(),
        }
    }

    let so = module_so();
    let build = Build::of(&so);
    let interpreter = workspace_root().join(PYTHON_WASM);
    let site = Site {
        build: &build,
        guests: &guests_dir(),
        components: &components_dir(),
        listing: &listing,
        database: database.as_ref(),
        python: Some(Python {
            interpreter: &interpreter,
            app: &app,
        }),
        php: php.as_deref().map(|dir| Php { dir }),
    };
    let server = Server {
        dir: &dir,
        port,
        module_so: &so,
        cache: cache.as_deref(),
        error_log: "/dev/stderr",
    };
    let (conf, page) = site.render(&server);
    write(&dir.join("htdocs/index.html"), &page);
    write(&dir.join("httpd.conf"), &conf);
}

fn write(path: &Path, contents: &str) {
    if let Err(e) = std::fs::write(path, contents) {
        eprintln!("demo-site: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}
