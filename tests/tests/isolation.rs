//! Nothing of one request reaches the next, under every runtime: a guest's static counter (in
//! its linear memory) starts over in every run, and a file one run leaves open is not open in
//! the next, one request after another and many at once; as a WASI 0.2 component too. The
//! backends keep what is not the guest's between runs (WASI scaffolding, stores, executors);
//! this is the guest's part.

use mod_wasm_tests::{component, for_each_runtime, guest, runtime, runtimes, Apache, Config};
use std::path::Path;

/// Requests at once, and requests each of them sends, for the concurrent part.
const CLIENTS: usize = 8;
const REQUESTS_EACH: usize = 10;

#[test]
fn a_run_leaves_nothing_behind() {
    for_each_runtime(|runtime| check_isolation(runtime, &guest("probe")));
}

#[test]
fn a_components_run_leaves_nothing_behind() {
    for name in runtimes().into_iter().filter(|r| runtime(r).components) {
        check_isolation(name, &component("probe"));
    }
}

/// Runs the probe `module` under `runtime`, one request after another and many at once.
fn check_isolation(runtime: &str, module: &Path) {
    let config = Config::new("");
    let data = config.scratch.dir("data");
    config.scratch.file("data/kept.txt", "kept open\n");
    let body = format!(
        "<Location /residue>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
         WasmModule {}\n  WasmMapDir /data {}\n  WasmArg residue\n  WasmArg /data/kept.txt\n\
         </Location>\n",
        module.display(),
        data.display()
    );
    let apache = config.with_body(&body).start();

    let first = residue(&apache, runtime);
    assert!(first.starts_with("runs 1\nopen "), "{runtime}: {first}");
    assert!(first.contains("\nopened "), "{runtime}: {first}");
    for _ in 0..5 {
        assert_eq!(
            residue(&apache, runtime),
            first,
            "{runtime}, one after another"
        );
    }
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                for _ in 0..REQUESTS_EACH {
                    assert_eq!(residue(&apache, runtime), first, "{runtime}, at once");
                }
            });
        }
    });
}

/// What the probe saw of earlier runs: its counter, the open descriptors, the one it opened.
fn residue(apache: &Apache, runtime: &str) -> String {
    let response = apache.get("/residue");
    assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
    response.text()
}
