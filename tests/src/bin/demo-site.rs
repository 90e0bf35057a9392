//! Writes the demo site for `scripts/demo`: its page into the document root, its configuration
//! sections to stdout, for the module `MOD_WASM_SO` and the guests in `MOD_WASM_GUESTS`.
//!
//!     demo-site HTDOCS LISTING [DB_PORT DB_NAME DB_USER DB_PASSWORD]
//!
//! LISTING is the directory the `ls` example may list; without a database, the guestbook is
//! left out. The Python app is served from `examples/python`, when scripts/setup has fetched
//! CPython for WASI there.

use mod_wasm_tests::demo::{Database, Python, Site};
use mod_wasm_tests::{components_dir, guests_dir, module_so, workspace_root, Build, PYTHON_WASM};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (htdocs, listing, database) = match &args[..] {
        [htdocs, listing] => (htdocs, listing, None),
        [htdocs, listing, port, name, user, password] => {
            let port = port.parse().unwrap_or_else(|_| usage());
            let database = Database {
                port,
                name: name.clone(),
                user: user.clone(),
                password: password.clone(),
            };
            (htdocs, listing, Some(database))
        }
        _ => usage(),
    };
    let build = Build::of(&module_so());
    let (interpreter, app) = (
        workspace_root().join(PYTHON_WASM),
        workspace_root().join("examples/python"),
    );
    let site = Site {
        build: &build,
        guests: &guests_dir(),
        components: &components_dir(),
        listing: &PathBuf::from(listing),
        database: database.as_ref(),
        python: Some(Python {
            interpreter: &interpreter,
            app: &app,
        }),
    };
    let (sections, page) = site.render();
    let index = PathBuf::from(htdocs).join("index.html");
    if let Err(e) = std::fs::write(&index, page) {
        eprintln!("demo-site: cannot write {}: {e}", index.display());
        std::process::exit(1);
    }
    print!("{sections}");
}

fn usage() -> ! {
    eprintln!("usage: demo-site HTDOCS LISTING [DB_PORT DB_NAME DB_USER DB_PASSWORD]");
    std::process::exit(2);
}
