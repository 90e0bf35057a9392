//! Configuration errors: `apachectl -t` fails (non-zero) with a message naming the directive, the
//! file and the line, and Apache never starts half-configured.

use mod_wasm_tests::{for_each_runtime, guest, CheckResult, Config};

/// The 1-based line of the configuration file that contains `needle`.
fn line_of(config: &Config, needle: &str) -> usize {
    let text = std::fs::read_to_string(config.conf_path()).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the configuration"))
}

/// Asserts a failed check whose message names `directive`, the file and the line of `needle`,
/// and contains `reason`.
fn assert_rejected(
    config: &Config,
    result: &CheckResult,
    directive: &str,
    needle: &str,
    reason: &str,
) {
    assert!(
        !result.success,
        "expected the check to fail:\n{}",
        result.output
    );
    let line = line_of(config, needle);
    let location = format!("line {line} of {}", config.conf_path().display());
    assert!(
        result.output.contains(&location),
        "no {location:?} in:\n{}",
        result.output
    );
    assert!(
        result.output.contains(directive),
        "no {directive:?} in:\n{}",
        result.output
    );
    assert!(
        result.output.contains(reason),
        "no {reason:?} in:\n{}",
        result.output
    );
}

/// Checks a configuration whose `<Location /app>` holds `directives` (built with the scratch
/// directory at hand), and asserts it is rejected as [`assert_rejected`] describes.
fn assert_section_rejected(
    directives: impl FnOnce(&mod_wasm_tests::Scratch) -> String,
    directive: &str,
    needle: &str,
    reason: &str,
) {
    let config = Config::new("");
    let body = directives(&config.scratch);
    let config = config.with_body(&format!(
        "<Location /app>\n  SetHandler wasm-handler\n{body}\n</Location>\n"
    ));
    let result = config.check();
    assert_rejected(&config, &result, directive, needle, reason);
}

fn location(runtime: &str, body: &str) -> String {
    format!("<Location /app>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n{body}\n</Location>\n")
}

#[test]
fn a_valid_configuration_passes() {
    for_each_runtime(|runtime| {
        let config = Config::new(&location(
            runtime,
            &format!("  WasmModule {}", guest("hello").display()),
        ));
        let result = config.check();
        assert!(result.success, "{runtime}: {}", result.output);
        assert!(result.output.contains("Syntax OK"));
    });
}

#[test]
fn a_missing_module_file_is_rejected() {
    assert_section_rejected(
        |_| "  WasmModule /nonexistent/app.wasm".into(),
        "WasmModule",
        "WasmModule /nonexistent",
        "/nonexistent/app.wasm",
    );
}

#[test]
fn a_file_that_is_not_webassembly_is_rejected() {
    assert_section_rejected(
        |scratch| {
            let text = scratch.file("not.wasm", "#!/bin/sh\necho hi\n");
            format!("  WasmModule {}", text.display())
        },
        "WasmModule",
        "WasmModule",
        "is not a WebAssembly module",
    );
}

#[test]
fn a_module_that_does_not_compile_is_rejected_with_the_runtime_named() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        // A valid header followed by a section that claims more bytes than there are.
        let broken = config
            .scratch
            .file("broken.wasm", b"\0asm\x01\0\0\0\x01\x7f\x01");
        let config = config.with_body(&location(
            runtime,
            &format!("  WasmModule {}", broken.display()),
        ));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        for needle in [
            "WasmModule",
            &broken.display().to_string(),
            "<Location /app>",
            runtime,
        ] {
            assert!(
                result.output.contains(needle),
                "{runtime}: no {needle:?} in:\n{}",
                result.output
            );
        }
        let line = line_of(&config, "WasmModule");
        assert!(
            result
                .output
                .contains(&format!("{}:{line}", config.conf_path().display())),
            "{runtime}: file and line missing:\n{}",
            result.output
        );
    });
}

#[test]
fn a_module_with_imports_the_runtime_lacks_is_rejected() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        // (module (import "env" "host_only" (func)))
        let needs_env = config.scratch.file(
            "needs-env.wasm",
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x11\x01\x03env\x09host_only\0\0",
        );
        let config = config.with_body(&location(
            runtime,
            &format!("  WasmModule {}", needs_env.display()),
        ));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        assert!(
            result.output.contains("env::host_only"),
            "{runtime}: {}",
            result.output
        );
    });
}

#[test]
fn a_module_that_starts_threads_is_rejected_even_where_the_runtime_could_start_them() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        // (module (import "wasix_32v1" "thread_spawn_v2" (func (param i32 i32) (result i32))))
        let threaded = config.scratch.file(
            "threaded.wasm",
            b"\0asm\x01\0\0\0\x01\x07\x01\x60\x02\x7f\x7f\x01\x7f\
              \x02\x1e\x01\x0awasix_32v1\x0fthread_spawn_v2\x00\x00",
        );
        let config = config.with_body(&location(
            runtime,
            &format!("  WasmModule {}", threaded.display()),
        ));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        assert!(
            result.output.contains("wasix_32v1::thread_spawn_v2"),
            "{runtime}: {}",
            result.output
        );
        // WASIX could start the thread, outside the run's limits: mod_wasm does not let it.
        if mod_wasm_tests::runtime(runtime)
            .extensions
            .iter()
            .any(|e| e == "wasix")
        {
            assert!(
                result.output.contains("which mod_wasm refuses"),
                "{runtime}: {}",
                result.output
            );
        }
    });
}

#[test]
fn an_unknown_runtime_is_rejected_listing_the_built_in_ones() {
    assert_section_rejected(
        |_| "  WasmRuntime nonesuch".into(),
        "WasmRuntime",
        "WasmRuntime nonesuch",
        &format!(
            "unknown runtime 'nonesuch'; this mod_wasm was built with: {}",
            mod_wasm_tests::runtimes().join(", ")
        ),
    );
}

#[test]
fn a_missing_wasm_dir_is_rejected() {
    assert_section_rejected(
        |_| "  WasmDir /nonexistent/data".into(),
        "WasmDir",
        "WasmDir /nonexistent",
        "/nonexistent/data",
    );
}

#[test]
fn a_missing_wasm_map_dir_host_is_rejected() {
    assert_section_rejected(
        |_| "  WasmMapDir /data /nonexistent/data".into(),
        "WasmMapDir",
        "WasmMapDir /data",
        "/nonexistent/data",
    );
}

#[test]
fn a_relative_guest_path_is_rejected() {
    assert_section_rejected(
        |scratch| format!("  WasmMapDir data {}", scratch.dir("data").display()),
        "WasmMapDir",
        "WasmMapDir data",
        "relative",
    );
}

#[test]
fn an_unknown_access_mode_is_rejected() {
    assert_section_rejected(
        |scratch| {
            format!(
                "  WasmMapDir /data {} writeonly",
                scratch.dir("data").display()
            )
        },
        "WasmMapDir",
        "WasmMapDir /data",
        "'writeonly' is not an access",
    );
}

#[test]
fn a_unix_socket_cannot_be_granted() {
    assert_section_rejected(
        |_| "  WasmAllowConnect 127.0.0.1:3306 unix:/run/mysqld/mysqld.sock".into(),
        "WasmAllowConnect",
        "WasmAllowConnect",
        "'unix:/run/mysqld/mysqld.sock' is a Unix domain socket; mod_wasm grants TCP \
         connections only",
    );
}

#[test]
fn apache_does_not_start_with_a_broken_configuration() {
    for_each_runtime(|runtime| {
        let scratch_config = Config::new("");
        let broken = scratch_config
            .scratch
            .file("broken.wasm", b"\0asm\x01\0\0\0\x01\x7f\x01");
        // One mistake caught while reading the directives, one while compiling.
        for mistake in [
            "  WasmModule /nonexistent/app.wasm".to_owned(),
            format!("  WasmModule {}", broken.display()),
        ] {
            let config = Config::new(&format!(
                "<Location /ok>\n  SetHandler wasm-handler\n  WasmModule {}\n</Location>\n{}",
                guest("hello").display(),
                location(runtime, &mistake)
            ));
            let port = config.port;
            let (result, apache) = config.try_start();
            assert!(
                !result.success && apache.is_none(),
                "{runtime}: started anyway:\n{}",
                result.output
            );
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "{runtime}: something listens on the port of a server that must not have started"
            );
        }
    });
}

#[test]
fn directives_are_refused_in_htaccess() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let htdocs = config.htdocs();
        config.scratch.file(
            "htdocs/site/.htaccess",
            format!(
                "SetHandler wasm-handler\nWasmRuntime {runtime}\nWasmModule {}\n",
                guest("hello").display()
            ),
        );
        config.scratch.file("htdocs/site/index.html", "static\n");
        let config = config.with_body(&format!(
            "AccessFileName .htaccess\n<Directory {}>\n  AllowOverride All\n</Directory>\n",
            htdocs.display()
        ));
        let apache = config.start();
        let response = apache.get("/site/index.html");
        assert_eq!(
            response.status, 500,
            "{runtime}: .htaccess must not configure mod_wasm"
        );
        let log = apache.wait_for_log("not allowed here");
        assert!(log.contains("not allowed here"), "{runtime}: {log}");
    });
}

#[test]
fn modules_in_virtual_hosts_and_nested_sections_are_checked() {
    for_each_runtime(|runtime| {
        let scratch_config = Config::new("");
        let broken = scratch_config
            .scratch
            .file("broken.wasm", b"\0asm\x01\0\0\0\x01\x7f\x01");
        let htdocs = scratch_config.htdocs();
        let port = scratch_config.port;
        for (section, body) in [
            (
                "<Location /v>",
                format!(
                    "<VirtualHost 127.0.0.1:{port}>\n  ServerName vhost.test\n  WasmRuntime {runtime}\n  <Location /v>\n    WasmModule {}\n  </Location>\n</VirtualHost>\n",
                    broken.display()
                ),
            ),
            (
                "<Files app.bin>",
                format!(
                    "<Directory {}>\n  WasmRuntime {runtime}\n  <Files app.bin>\n    WasmModule {}\n  </Files>\n</Directory>\n",
                    htdocs.display(),
                    broken.display()
                ),
            ),
        ] {
            let config = Config::new(&body);
            let result = config.check();
            assert!(!result.success, "{runtime} {section}: {}", result.output);
            assert!(result.output.contains(section), "{runtime}: {section} not named:\n{}", result.output);
            assert!(result.output.contains(runtime), "{runtime}: runtime not named:\n{}", result.output);
        }
    });
}
