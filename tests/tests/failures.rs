//! A guest that fails never takes an Apache child with it: traps, exit codes, missing entry
//! points and missing scripts become clean error responses and error-log lines that name the
//! location, the module and the runtime.

use mod_wasm_tests::{for_each_runtime, guest, Config, Mpm};

fn probe_location(path: &str, runtime: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{extra}\n</Location>\n",
        guest("probe").display()
    )
}

/// Asserts the error log names where the module was configured, the module and the runtime.
fn assert_logged_with_context(log: &str, line: &str, section: &str, runtime: &str) {
    let entry = log
        .lines()
        .find(|l| l.contains(line) && l.contains(section))
        .unwrap_or_else(|| panic!("{runtime}: no log line with {line:?} for {section}:\n{log}"));
    assert!(
        entry.contains(&guest("probe").display().to_string()),
        "{runtime}: module missing: {entry}"
    );
    assert!(
        entry.contains(&format!("with runtime {runtime}")),
        "{runtime}: runtime missing: {entry}"
    );
}

#[test]
fn a_trap_is_a_500_and_the_child_keeps_serving() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        for_each_runtime(|runtime| {
            // `recurse` runs out of linear memory for its stack, `nest` out of the engine's
            // own stack, which WasmEdge does not limit by itself.
            let traps = ["trap", "oob", "recurse", "nest"];
            let mut body = probe_location("/ok", runtime, "  WasmArg env");
            for trap in traps {
                body += &probe_location(
                    &format!("/{trap}"),
                    runtime,
                    &format!("  WasmArg {trap}\n  WasmEnableCGI On"),
                );
            }
            // One child, so a crash could not hide behind another child answering.
            let apache = Config::new(&format!("{body}ServerLimit 1\nMaxRequestWorkers 1\n<IfModule mpm_event_module>\n  ThreadsPerChild 1\n  ThreadLimit 1\n</IfModule>\n"))
                .mpm(mpm)
                .start();
            for trap in traps {
                let response = apache.get(&format!("/{trap}"));
                assert_eq!(response.status, 500, "{runtime} {mpm:?} {trap}");
                assert!(
                    !response.text().contains("about to trap"),
                    "{runtime}: partial output leaked"
                );
                assert_eq!(
                    apache.get("/ok").status,
                    200,
                    "{runtime} {mpm:?}: the server stopped serving after {trap}"
                );
                let log = apache.wait_for_log(&format!("<Location /{trap}>"));
                assert_logged_with_context(
                    &log,
                    "the guest trapped",
                    &format!("<Location /{trap}>"),
                    runtime,
                );
                if trap == "nest" {
                    assert_logged_with_context(
                        &log,
                        "call stack exhausted",
                        "<Location /nest>",
                        runtime,
                    );
                }
            }
            let log = apache.error_log();
            assert!(
                !log.contains("exit signal"),
                "{runtime} {mpm:?}: a child died:\n{log}"
            );
        });
    }
}

#[test]
fn a_deep_recursion_that_ends_is_answered() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/nest",
            runtime,
            "  WasmArg nest\n  WasmArg 2000",
        ))
        .start();
        let response = apache.get("/nest");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.text(), "nested 2000\n", "{runtime}");
    });
}

#[test]
fn a_non_zero_exit_is_a_500() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "{}{}",
            probe_location("/exit3", runtime, "  WasmArg exit\n  WasmArg 3"),
            probe_location("/exit0", runtime, "  WasmArg exit\n  WasmArg 0"),
        ))
        .start();
        let response = apache.get("/exit3");
        assert_eq!(response.status, 500, "{runtime}");
        let log = apache.wait_for_log("exited with code 3");
        assert_logged_with_context(
            &log,
            "the guest exited with code 3",
            "<Location /exit3>",
            runtime,
        );

        let response = apache.get("/exit0");
        assert_eq!(response.status, 200, "{runtime}: proc_exit(0) is success");
        assert_eq!(response.text(), "exiting\n");
    });
}

#[test]
fn a_missing_entry_point_is_a_500() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/none",
            runtime,
            "  WasmEntryPoint does_not_exist",
        ))
        .start();
        assert_eq!(apache.get("/none").status, 500, "{runtime}");
        let log = apache.wait_for_log("does_not_exist");
        assert_logged_with_context(
            &log,
            "exports no function 'does_not_exist'",
            "<Location /none>",
            runtime,
        );
    });
}

#[test]
fn guest_stderr_goes_to_the_error_log_line_by_line() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location("/stderr", runtime, "  WasmArg stderr")).start();
        let response = apache.get("/stderr");
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(
            response.text(),
            "ok\n",
            "{runtime}: stderr must not reach the client"
        );
        let log = apache.wait_for_log("third line without newline");
        for line in [
            "first line to stderr",
            "second line to stderr",
            "third line without newline",
        ] {
            assert_logged_with_context(
                &log,
                &format!("stderr: {line}"),
                "<Location /stderr>",
                runtime,
            );
        }
    });
}

#[test]
fn a_missing_script_is_a_404_and_the_module_does_not_run() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        config.scratch.file("htdocs/php/exists.probe", "here\n");
        let body = format!(
            "<Directory {}/php>\n  AddHandler wasm-handler .probe\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmArg stderr\n</Directory>\n",
            config.htdocs().display(),
            guest("probe").display()
        );
        let apache = config.with_body(&body).start();
        assert_eq!(apache.get("/php/missing.probe").status, 404, "{runtime}");
        assert!(
            !apache.error_log().contains("first line to stderr"),
            "{runtime}: the module ran for a missing script"
        );
        assert_eq!(apache.get("/php/exists.probe").status, 200, "{runtime}");
        let log = apache.wait_for_log("first line to stderr");
        assert!(
            log.contains("first line to stderr"),
            "{runtime}: the module did not run for an existing script"
        );
    });
}

#[test]
fn a_handler_without_a_module_is_a_500() {
    let apache =
        Config::new("<Location /nothing>\n  SetHandler wasm-handler\n</Location>\n").start();
    assert_eq!(apache.get("/nothing").status, 500);
    let log = apache.wait_for_log("no WasmModule applies");
    assert!(log.contains("no WasmModule applies"), "{log}");
}

#[test]
fn a_trailer_section_over_the_servers_limits_is_a_400() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "<Location /echo>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
            guest("echo").display()
        ))
        .start();
        let echoed = apache
            .request("POST", "/echo")
            .chunked_body(b"hello".to_vec(), 2)
            .trailer("X-Sum", "1")
            .send();
        assert_eq!(
            (echoed.status, echoed.text()),
            (200, "hello".to_owned()),
            "{runtime}"
        );
        // A field longer than LimitRequestFieldSize, as Apache refuses it in a header section.
        let refused = apache
            .request("POST", "/echo")
            .chunked_body(b"hello".to_vec(), 2)
            .trailer("X-Long", &"x".repeat(10_000))
            .send();
        assert_eq!(refused.status, 400, "{runtime}: {}", apache.error_log());
        assert_eq!(apache.get("/echo").status, 200, "{runtime}");
    });
}
