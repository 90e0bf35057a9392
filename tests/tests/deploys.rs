//! A bad deploy does not take the site down: when a running server is signalled to restart
//! (a bare `SIGUSR1` or `SIGHUP`, as log rotation sends) and a module file no longer compiles,
//! the server stays up. The module keeps the code compiled before, or, with none, its requests
//! get 503; `apachectl -t` still reports the problem; a start still refuses it.

use mod_wasm_tests::{for_each_runtime, guest, Config};

fn location(path: &str, runtime: &str, module: &std::path::Path) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmArg exit\n  WasmArg 0\n</Location>\n",
        module.display()
    )
}

/// Replaces `path` with `bytes` the way deployments do: a new file renamed over the old one.
fn deploy(path: &std::path::Path, bytes: &[u8]) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, bytes).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[test]
fn a_module_that_no_longer_compiles_keeps_its_code_across_a_bare_restart() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let app = config
            .scratch
            .file("app.wasm", std::fs::read(guest("probe")).unwrap());
        let body = location("/app", runtime, &app) + &location("/other", runtime, &guest("probe"));
        let mut apache = config.with_body(&body).start();
        assert_eq!(apache.get("/app").status, 200, "{runtime}");

        deploy(&app, b"\0asm\x01\0\0\0garbage that is no module");
        let check = apache.config().check();
        assert!(
            !check.success,
            "{runtime}: apachectl -t accepted a broken module"
        );

        for signal in ["USR1", "HUP"] {
            apache.kill(signal);
            assert!(
                apache.is_running(),
                "{runtime}: SIGHUP/SIGUSR1 stopped the server"
            );
            let response = apache.get("/app");
            assert_eq!(response.status, 200, "{runtime} {signal}: the kept code");
            assert_eq!(response.text(), "exiting\n", "{runtime} {signal}");
            assert_eq!(apache.get("/other").status, 200, "{runtime} {signal}");
        }
        let log = apache.error_log();
        assert!(
            log.contains("the server goes on running the code compiled before this restart")
                && log.contains("<Location /app>"),
            "{runtime}:\n{log}"
        );

        // A module first configured at a restart has no earlier code: 503 until it is fixed.
        let added = apache.scratch().file("added.wasm", b"not a module");
        let body = body + &location("/added", runtime, &added);
        apache.rewrite_config(&body);
        apache.kill("USR1");
        assert!(apache.is_running(), "{runtime}");
        assert_eq!(apache.get("/added").status, 503, "{runtime}");
        assert_eq!(apache.get("/app").status, 200, "{runtime}");
        let log = apache.wait_for_log("unavailable since the last restart");
        assert!(log.contains("answered with 503"), "{runtime}:\n{log}");

        // Fixed and restarted, it serves.
        deploy(&added, &std::fs::read(guest("probe")).unwrap());
        apache.kill("USR1");
        assert_eq!(apache.get("/added").status, 200, "{runtime}");
    });
}

#[test]
fn a_start_still_refuses_a_module_that_does_not_compile() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let broken = config
            .scratch
            .file("broken.wasm", b"\0asm\x01\0\0\0garbage that is no module");
        let body = location("/app", runtime, &broken);
        let (check, apache) = config.with_body(&body).try_start();
        assert!(!check.success, "{runtime}: started with a broken module");
        assert!(
            apache.is_none_or(|apache| !apache.is_running()),
            "{runtime}: the server runs"
        );
    });
}
