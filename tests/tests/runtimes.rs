//! What depends on which runtimes a build has: runtimes left out of it, WASIX, modules compiled
//! at the first request because their runtime comes from another section, and the threads a
//! runtime keeps per process.

use mod_wasm_tests::{for_each_runtime, guest, thread_count, Build, Config};
use std::path::PathBuf;

/// Whether `runtime` provides WASIX, Wasmer's extensions to WASI preview1, by what the build
/// says of it.
fn provides_wasix(runtime: &str) -> bool {
    mod_wasm_tests::runtime(runtime)
        .extensions
        .iter()
        .any(|abi| abi == "wasix")
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
/// made one (`MOD_WASM_SO_MINIMAL`: `scripts/test` makes one without any runtime); otherwise
/// the build under test.
fn minimal_build() -> PathBuf {
    std::env::var_os("MOD_WASM_SO_MINIMAL")
        .map(PathBuf::from)
        .unwrap_or_else(mod_wasm_tests::module_so)
}

#[test]
fn a_runtime_left_out_of_the_build_is_refused_naming_its_cargo_feature() {
    let so = minimal_build();
    let minimal = Build::of(&so);
    assert!(
        !minimal.left_out.is_empty(),
        "every known runtime is built into {}: set MOD_WASM_SO_MINIMAL to a smaller build",
        so.display()
    );
    // Both builds know the same runtimes, built in or not.
    let known = |build: &Build| {
        let mut names: Vec<String> = build.built_in.iter().map(|r| r.name.clone()).collect();
        names.extend(build.left_out.iter().map(|(name, _)| name.clone()));
        names.sort();
        names
    };
    assert_eq!(known(&minimal), known(Build::under_test()));
    for (runtime, feature) in &minimal.left_out {
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

    let unnamed = format!(
        "<Location /app>\n  SetHandler wasm-handler\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
        guest("hello").display()
    );
    let config = Config::new(&unnamed).module_so(&so);
    match minimal.default_runtime() {
        // The same build serves with the runtimes it has.
        Some(default) => {
            let apache = config.start();
            let response = apache.get("/app");
            assert_eq!(
                response.status,
                200,
                "{}: {}",
                default.name,
                apache.error_log()
            );
            assert_eq!(response.text(), "Hello from WebAssembly!\n");
        }
        None => {
            let result = config.check();
            assert!(!result.success, "{}", result.output);
            assert!(
                result.output.contains(
                    "no WasmRuntime applies, and this mod_wasm was built without any runtime"
                ),
                "{}",
                result.output
            );
        }
    }
}

#[test]
fn a_module_whose_runtime_comes_from_another_section_is_compiled_at_first_request() {
    // The module is set on a <Location>, the runtime on the <Directory> it maps to; only the
    // merge at request time pairs them, so the pair was not compiled at start.
    let build = Build::under_test();
    let other = build.built_in.iter().find(|r| !r.default);
    let (Some(_), Some(other)) = (build.default_runtime(), other) else {
        panic!("this needs the default runtime and another one built in: {build:?}")
    };
    let runtime = other.name.as_str();
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
fn a_runtime_set_in_a_nested_directory_is_paired_with_the_module_at_start() {
    let build = Build::under_test();
    let Some(other) = build.built_in.iter().find(|r| !r.default) else {
        panic!("this needs a runtime besides the default one built in: {build:?}")
    };
    let runtime = other.name.as_str();
    let config = Config::new("");
    let htdocs = config.htdocs();
    config.scratch.file("htdocs/sub/page.hello", "");
    // The inner section comes first: Apache merges directories by depth, not by order.
    let body = format!(
        "<Directory {htdocs}/sub>\n  WasmRuntime {runtime}\n  SetHandler wasm-handler\n</Directory>\n\
         <Directory {htdocs}>\n  WasmModule {hello}\n  WasmEnableCGI On\n</Directory>\n",
        htdocs = htdocs.display(),
        hello = guest("hello").display()
    );
    let apache = config.with_body(&body).start();
    let response = apache.get("/sub/page.hello");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.text(), "Hello from WebAssembly!\n");
    let log = apache.wait_for_log("into this process");
    let compiled_at_start = format!(
        "mod_wasm: compiled {} with runtime {runtime}",
        guest("hello").display()
    );
    assert!(log.contains(&compiled_at_start), "{log}");
    assert!(
        !log.contains("compiled and loaded"),
        "compiled in the request:\n{log}"
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

#[test]
fn the_module_lists_its_runtimes_for_admins() {
    // `apachectl -t -D DUMP_WASM_RUNTIMES`: after the check, as Apache's own DUMP_MODULES.
    let result = Config::new("").test_with(&["-D", "DUMP_WASM_RUNTIMES"]);
    assert!(result.success, "{}", result.output);
    assert!(result.output.contains("Syntax OK"), "{}", result.output);
    let build = Build::under_test();
    let defaults: Vec<_> = build.built_in.iter().filter(|r| r.default).collect();
    assert_eq!(defaults.len(), 1, "one default: {build:?}");
    assert_eq!(
        defaults[0].name, build.built_in[0].name,
        "the first is the default"
    );
    for runtime in &build.built_in {
        assert!(
            !runtime.version.is_empty() && !runtime.version.contains("unknown"),
            "{runtime:?}"
        );
        if let Some(abi) = &runtime.socket_abi {
            assert!(runtime.extensions.contains(abi), "{runtime:?}");
        }
    }
    // Without the define, nothing is listed.
    let quiet = Config::new("").check();
    assert!(quiet.success, "{}", quiet.output);
    assert!(
        !quiet.output.contains("WebAssembly runtimes:"),
        "{}",
        quiet.output
    );
}
