//! `WasmPreinit`: a module's init runs once, when the configuration is read, with the
//! location's grants read-only, and every request under every runtime starts from the state it
//! left. The snapshot is kept in `WasmCacheDir`, and made again when what the init could see
//! changed. An init that fails, loops or is missing stops the start with a message that says
//! why.

use mod_wasm_tests::{for_each_runtime, guest, Config};
use std::path::Path;

/// A location that runs the preinit example with `/data` granted read-write (the init still
/// gets it read-only), `MODE` set, and `directives` added.
fn location(path: &str, runtime: &str, data: &Path, directives: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  \
         WasmEnableCGI On\n  WasmMapDir /data {} rw\n  WasmEnv MODE site\n{directives}\n</Location>\n",
        guest("preinit").display(),
        data.display()
    )
}

/// The value of `field: value` in a response body.
fn field<'a>(body: &'a str, name: &str) -> &'a str {
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
}

#[test]
fn every_runtime_starts_each_request_from_the_snapshot_its_init_left() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let data = config.scratch.writable_dir("data");
        config
            .scratch
            .file("data/greeting.txt", "hello from the init\n");
        let cache = config.scratch.dir("cache");
        let body = format!("WasmCacheDir {}\n", cache.display())
            + &location("/snapshot", runtime, &data, "  WasmPreinit On")
            + &location("/plain", runtime, &data, "");
        let mut apache = config.with_body(&body).start();

        let response = apache.get("/snapshot/x?y=1");
        assert_eq!(response.status, 200, "{runtime}: {}", response.text());
        let text = response.text();
        assert_eq!(field(&text, "initialised"), "yes", "{runtime}");
        assert_eq!(field(&text, "greeting"), "hello from the init", "{runtime}");
        assert_eq!(field(&text, "mode at init"), "site", "{runtime}");
        assert!(
            field(&text, "write at init").starts_with("refused"),
            "{runtime}: the init wrote into a granted directory:\n{text}"
        );
        assert!(!data.join("init-was-here").exists(), "{runtime}");
        assert_eq!(field(&text, "init runs"), "1", "{runtime}");
        // The run has its own environment and directories, not the init's.
        assert_eq!(field(&text, "request"), "/snapshot/x?y=1", "{runtime}");
        assert_eq!(
            field(&text, "greeting now"),
            "hello from the init",
            "{runtime}"
        );
        assert_eq!(field(&apache.get("/snapshot").text(), "init runs"), "1");

        let plain = apache.get("/plain").text();
        assert_eq!(field(&plain, "initialised"), "no", "{runtime}");
        assert_eq!(field(&plain, "init runs"), "0", "{runtime}");

        let snapshots = || {
            std::fs::read_dir(&cache)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("snapshot-") && name.ends_with(".bin"))
                .count()
        };
        assert_eq!(
            snapshots(),
            1,
            "{runtime}: the snapshot is kept in the cache"
        );

        // The greeting changes while the server runs: requests keep the snapshot's until the
        // configuration is read again, which makes a new one.
        std::fs::write(data.join("greeting.txt"), "a new greeting\n").unwrap();
        let text = apache.get("/snapshot").text();
        assert_eq!(field(&text, "greeting"), "hello from the init", "{runtime}");
        assert_eq!(field(&text, "greeting now"), "a new greeting", "{runtime}");
        apache.signal("graceful");
        let text = apache.get("/snapshot").text();
        assert_eq!(field(&text, "greeting"), "a new greeting", "{runtime}");
        assert_eq!(snapshots(), 2, "{runtime}");
        apache.rewrite_config(&body);
    });
}

#[test]
fn an_init_reads_only_what_the_servers_children_may_read() {
    if !mod_wasm_tests::running_as_root() {
        return;
    }
    // Apache reads its configuration as root and serves as www-data: the init, run while the
    // configuration is read, must not put into its snapshot what no request could read.
    use std::os::unix::fs::PermissionsExt;
    let runtime = mod_wasm_tests::runtimes()[0];
    let config = Config::new("");
    let data = config.scratch.dir("data");
    let greeting = config
        .scratch
        .file("data/greeting.txt", "for root's eyes only\n");
    std::fs::set_permissions(&greeting, std::fs::Permissions::from_mode(0o600)).unwrap();
    let apache = config
        .with_body(&location("/app", runtime, &data, "  WasmPreinit On"))
        .start();
    let text = apache.get("/app").text();
    assert_eq!(field(&text, "initialised"), "yes", "{runtime}");
    assert!(
        field(&text, "greeting").contains("ermission denied"),
        "{runtime}: the init read a file only root may read:\n{text}"
    );
}

#[test]
fn an_init_merged_in_at_a_request_runs_in_the_child_as_its_user() {
    // WasmPreinit in a section of its own, merged with the one that names the module only when
    // a request comes: the child that serves it makes the snapshot, as the user it serves as.
    let runtime = mod_wasm_tests::runtimes()[0];
    let config = Config::new("");
    let data = config.scratch.writable_dir("data");
    config
        .scratch
        .file("data/greeting.txt", "hello from a child\n");
    let body = location("/app", runtime, &data, "")
        + "<Location /app/started>\n  WasmPreinit On\n</Location>\n";
    let apache = config.with_body(&body).start();
    let text = apache.get("/app/started/x").text();
    assert_eq!(field(&text, "initialised"), "yes", "{runtime}: {text}");
    assert_eq!(field(&text, "greeting"), "hello from a child", "{runtime}");
    assert_eq!(field(&text, "init runs"), "1", "{runtime}");
    assert!(
        field(&text, "write at init").starts_with("refused"),
        "{runtime}: {text}"
    );
    let plain = apache.get("/app/x").text();
    assert_eq!(field(&plain, "initialised"), "no", "{runtime}: {plain}");
}

#[test]
fn a_section_that_changes_only_the_limits_runs_the_snapshot_made_at_the_start() {
    // A `<Location>` inside the module's location that only gives its requests more time and
    // memory: the init sees the same things, so its snapshot is the one the configuration
    // check made, and no child makes one of its own.
    let runtime = mod_wasm_tests::runtimes()[0];
    let config = Config::new("");
    let data = config.scratch.writable_dir("data");
    config.scratch.file("data/greeting.txt", "hello\n");
    let body = location("/app", runtime, &data, "  WasmPreinit On")
        + "<Location /app/slow>\n  WasmTimeout 120\n  WasmMemoryLimit 512M\n</Location>\n";
    let apache = config.with_body(&body).start();
    let text = apache.get("/app/slow/x").text();
    assert_eq!(field(&text, "initialised"), "yes", "{runtime}: {text}");
    assert_eq!(field(&text, "init runs"), "1", "{runtime}");
    let log = apache.wait_for_log("into this process");
    let inherited = format!(
        "mod_wasm: loaded {} (pre-initialised) with runtime {runtime} into this process",
        guest("preinit").display()
    );
    assert!(
        log.contains(&inherited),
        "{runtime}: a child made a snapshot of its own:\n{log}"
    );
}

#[test]
fn an_init_that_fails_loops_or_is_missing_stops_the_start_saying_why() {
    let runtime = mod_wasm_tests::runtimes()[0];
    let cases = [
        (
            "  WasmPreinit setup",
            "the module exports no function setup; it exports: ",
        ),
        (
            "  WasmPreinit On\n  WasmEnv INIT trap",
            "the init was told to fail",
        ),
        (
            "  WasmPreinit On\n  WasmEnv INIT exit",
            "wizer-initialize exited with status 3",
        ),
        (
            "  WasmPreinit On\n  WasmEnv INIT spin\n  WasmTimeout 1",
            "wizer-initialize did not finish within 1 s",
        ),
    ];
    for (directives, expected) in cases {
        let config = Config::new("");
        let data = config.scratch.dir("data");
        let config = config.with_body(&location("/app", runtime, &data, directives));
        let check = config.check();
        assert!(!check.success, "{directives}: accepted");
        assert!(
            check.output.contains(expected) && check.output.contains("WasmModule"),
            "{directives}: {}",
            check.output
        );
    }
}

#[test]
fn preinit_refuses_a_component_and_a_bad_value() {
    let runtime = mod_wasm_tests::runtimes()[0];
    let config = Config::new("");
    let data = config.scratch.dir("data");
    let config = config.with_body(&location(
        "/app",
        runtime,
        &data,
        "  WasmPreinit \"my init\"",
    ));
    let check = config.check();
    assert!(!check.success);
    assert!(
        check
            .output
            .contains("'my init' is not On, Off or the name of an exported function"),
        "{}",
        check.output
    );

    let Some(runtime) = mod_wasm_tests::runtimes()
        .into_iter()
        .find(|name| mod_wasm_tests::runtime(name).components)
    else {
        return;
    };
    let config = Config::new(&format!(
        "<Location /app>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  \
         WasmPreinit On\n</Location>\n",
        mod_wasm_tests::component("hello").display()
    ));
    let check = config.check();
    assert!(!check.success);
    assert!(
        check.output.contains(
            "WasmPreinit in <Location /app>"
        ) && check.output.contains("only core modules are pre-initialised, and the module is a WASI 0.2 command component"),
        "{}",
        check.output
    );
}
