//! What depends on which runtimes a build has: runtimes left out of it, WASIX, modules compiled
//! at the first request because their runtime comes from another section, and the threads a
//! runtime keeps per process.

use mod_wasm_tests::{for_each_runtime, guest, thread_count, Config};
use std::path::PathBuf;

/// Every runtime mod_wasm knows by name, built in or not, with the cargo feature that builds it.
const KNOWN_RUNTIMES: [(&str, &str); 4] = [
    ("wasmtime", "wasmtime"),
    ("wasmer", "wasmer"),
    ("wasmedge", "wasmedge"),
    ("wasmedge-interpreter", "wasmedge"),
];

/// Runtimes that provide WASIX, Wasmer's extensions to WASI preview1.
fn provides_wasix(runtime: &str) -> bool {
    runtime == "wasmer"
}

fn location(path: &str, runtime: &str, module: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{extra}</Location>\n",
        guest(module).display()
    )
}

#[test]
fn wasix_guests_run_where_wasix_is_provided_and_are_refused_elsewhere() {
    for_each_runtime(|runtime| {
        let config = Config::new(&location(
            "/wasix",
            runtime,
            "wasix",
            "  WasmEnableCGI On\n",
        ));
        if provides_wasix(runtime) {
            let apache = config.start();
            let response = apache.get("/wasix");
            assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
            let text = response.text();
            assert!(text.contains("cwd: /\n"), "{runtime}: {text}");
            assert!(text.contains("thread: "), "{runtime}: {text}");
            assert!(!text.contains("errno"), "{runtime}: {text}");
        } else {
            // A runtime with plain WASI preview1 refuses the module when the configuration is
            // read, naming the first WASIX import.
            let result = config.check();
            assert!(!result.success, "{runtime}: {}", result.output);
            assert!(
                result.output.contains("imports 'wasix_32v1::"),
                "{runtime}: {}",
                result.output
            );
        }
    });
}

/// A second build of mod_wasm with fewer runtimes than the one under test, if the test command
/// made one (`MOD_WASM_SO_MINIMAL`); otherwise the build under test.
fn minimal_build() -> (PathBuf, Vec<&'static str>) {
    match std::env::var_os("MOD_WASM_SO_MINIMAL") {
        Some(so) => {
            let features = std::env::var("MOD_WASM_MINIMAL_FEATURES")
                .expect("MOD_WASM_MINIMAL_FEATURES names the runtimes of MOD_WASM_SO_MINIMAL");
            let built = KNOWN_RUNTIMES
                .into_iter()
                .filter(|(_, feature)| features.split_whitespace().any(|f| f == *feature))
                .map(|(runtime, _)| runtime)
                .collect();
            (PathBuf::from(so), built)
        }
        None => (mod_wasm_tests::module_so(), mod_wasm_tests::runtimes()),
    }
}

#[test]
fn a_runtime_left_out_of_the_build_is_refused_naming_its_cargo_feature() {
    let (so, built) = minimal_build();
    let left_out: Vec<_> = KNOWN_RUNTIMES
        .into_iter()
        .filter(|(runtime, _)| !built.contains(runtime))
        .collect();
    assert!(
        !left_out.is_empty(),
        "every known runtime is built into {}: set MOD_WASM_SO_MINIMAL to a smaller build",
        so.display()
    );
    for (runtime, feature) in left_out {
        let config = Config::new(&location("/app", runtime, "hello", "")).module_so(&so);
        let result = config.check();
        assert!(!result.success, "{}", result.output);
        assert!(
            result.output.contains(&format!(
                "runtime '{runtime}' is not built into this mod_wasm (build it with the cargo feature '{feature}')"
            )),
            "{}",
            result.output
        );
    }

    // The same build serves the runtimes it has.
    let apache = Config::new(&location("/app", built[0], "hello", "  WasmEnableCGI On\n"))
        .module_so(&so)
        .start();
    let response = apache.get("/app");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "Hello from WebAssembly!\n");
}

#[test]
fn a_module_whose_runtime_comes_from_another_section_is_compiled_at_first_request() {
    // The module is set on a <Location>, the runtime on the <Directory> it maps to; only the
    // merge at request time pairs them, so the pair was not compiled at start.
    let built = mod_wasm_tests::runtimes();
    let runtime = match built.iter().find(|r| **r != "wasmtime") {
        Some(runtime) if built.contains(&"wasmtime") => *runtime,
        _ => panic!("this needs the default runtime (wasmtime) and another one built in"),
    };
    let config = Config::new("");
    let htdocs = config.htdocs();
    let body = format!(
        "<Directory {}>\n  WasmRuntime {runtime}\n</Directory>\n<Location /lazy>\n  SetHandler wasm-handler\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
        htdocs.display(),
        guest("hello").display()
    );
    let apache = config.with_body(&body).start();
    for _ in 0..2 {
        let response = apache.get("/lazy");
        assert_eq!(response.status, 200, "{}", apache.error_log());
        assert_eq!(response.text(), "Hello from WebAssembly!\n");
    }
    let log = apache.wait_for_log("compiled and loaded");
    let compiled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("compiled and loaded"))
        .collect();
    assert_eq!(compiled.len(), 1, "compiled once per process:\n{log}");
    assert!(
        compiled[0].contains(&format!("with runtime {runtime}")),
        "{}",
        compiled[0]
    );
}

#[test]
fn requests_do_not_leave_threads_behind() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let data = config.scratch.dir("data");
        std::fs::write(data.join("file.txt"), "x").unwrap();
        // One child with one worker, so every request lands in the process being counted.
        let body = format!(
            "{}ServerLimit 1\nMaxRequestWorkers 1\nThreadsPerChild 1\nThreadLimit 1\n",
            location(
                "/ls",
                runtime,
                "ls",
                &format!("  WasmArg /data\n  WasmMapDir /data {}\n", data.display())
            )
        );
        let apache = config.with_body(&body).start();
        let get = || {
            let response = apache.get("/ls");
            assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        };
        for _ in 0..5 {
            get();
        }
        let child = match apache.children()[..] {
            [child] => child,
            ref children => panic!("{runtime}: expected one child, found {children:?}"),
        };
        let before = thread_count(child);
        for _ in 0..50 {
            get();
        }
        let after = thread_count(child);
        // Runtimes may keep bounded pools (Wasmer's tokio blocking threads are reused and end
        // when idle); a thread per request would show as about 50 more.
        assert!(
            after <= before + 4,
            "{runtime}: {before} threads after 5 requests, {after} after 55"
        );
    });
}
