//! `WasmCacheDir`: compiled modules kept on disk, so a server start does not compile again what
//! the previous one compiled. Only runtimes whose output can be cached use it (the build says
//! which); the others compile at every start and leave the cache alone. Runtimes that can map
//! compiled code from a file run the children's code from the cache's files, shared between
//! them.

use mod_wasm_tests::{for_each_runtime, guest, runtime, runtimes, Config};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

fn hello_location(runtime: &str, extra: &str) -> String {
    format!(
        "{extra}<Location /hello>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
        guest("hello").display()
    )
}

/// A runtime whose compiled code is cached, if one is built in; else any.
fn preferably_cached() -> &'static str {
    let all = runtimes();
    all.iter()
        .copied()
        .find(|name| runtime(name).caches_compiled_code)
        .unwrap_or(all[0])
}

/// The cache entries in `dir`, with their modification times.
fn entries(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<_> = read
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, modified)
        })
        .collect();
    entries.sort();
    entries
}

fn compile_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("mod_wasm: compiled "))
        .collect()
}

/// A module of 1.5 MiB that compiles at once: an empty one with a large custom section.
fn large_module() -> Vec<u8> {
    const PAYLOAD: usize = 3 << 19;
    let mut module = b"\0asm\x01\0\0\0\0".to_vec();
    let mut size = PAYLOAD + 2;
    while size >= 0x80 {
        module.push((size as u8 & 0x7f) | 0x80);
        size >>= 7;
    }
    module.push(size as u8);
    module.extend_from_slice(b"\x01x");
    module.resize(module.len() + PAYLOAD, 0);
    module
}

#[test]
fn a_large_compilation_is_announced_while_it_runs_and_a_cached_one_is_not_repeated() {
    for_each_runtime(|runtime| {
        let cached = mod_wasm_tests::runtime(runtime).caches_compiled_code;
        let cache = tempfile::tempdir().unwrap();
        let config = Config::new("");
        let large = config.scratch.file("large.wasm", large_module());
        let config = config.with_body(&format!(
            "WasmCacheDir {}\n{}<Location /large>\n  SetHandler wasm-handler\n  \
             WasmRuntime {runtime}\n  WasmModule {}\n</Location>\n",
            cache.path().display(),
            hello_location(runtime, ""),
            large.display()
        ));
        // `apachectl -t` waits for every compilation: what it prints says so as it happens,
        // at a level Apache shows whatever the LogLevel, for a module large enough to take
        // time (hello is not).
        let first = config.check();
        assert!(first.success, "{runtime}: {}", first.output);
        let module = format!("{} with runtime {runtime}", large.display());
        assert!(
            first.output.contains(&format!(
                "mod_wasm: compiling {module} (1.5 MiB), which can take minutes"
            )),
            "{runtime}: {}",
            first.output
        );
        let hello = guest("hello").display().to_string();
        assert!(
            !first.output.contains(&hello),
            "{runtime}: {}",
            first.output
        );
        let finished = first
            .output
            .lines()
            .find(|l| l.contains(&format!("mod_wasm: finished compiling {module} in ")))
            .unwrap_or_else(|| panic!("{runtime}: {}", first.output));
        if cached {
            assert!(
                finished.contains(&format!("cached in {}", cache.path().display())),
                "{runtime}: {finished}"
            );
        } else {
            assert!(finished.ends_with("not cached"), "{runtime}: {finished}");
        }
        let second = config.check();
        assert_eq!(
            second.output.contains("mod_wasm: compiling"),
            !cached,
            "{runtime}: only a runtime without a cache compiles again: {}",
            second.output
        );
    });
}

#[test]
fn a_second_start_loads_the_compiled_module_from_the_cache() {
    for_each_runtime(|runtime| {
        let cached = mod_wasm_tests::runtime(runtime).caches_compiled_code;
        let cache = tempfile::tempdir().unwrap();
        let directive = format!("WasmCacheDir {}\n", cache.path().display());

        let first = Config::new(&hello_location(runtime, &directive)).start();
        assert_eq!(first.get("/hello").text(), "Hello from WebAssembly!\n");
        let log = first.error_log();
        assert_eq!(
            compile_lines(&log).len(),
            1,
            "{runtime}: compiled once:\n{log}"
        );
        let stored = entries(cache.path());
        if !cached {
            assert!(stored.is_empty(), "{runtime} is not cached: {stored:?}");
        } else {
            assert_eq!(stored.len(), 1, "{runtime}: one entry: {stored:?}");
            let name = stored[0]
                .0
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(name.starts_with(&format!("{runtime}-")), "{name}");
        }
        drop(first);

        let second = Config::new(&hello_location(runtime, &directive)).start();
        let response = second.get("/hello");
        let log = second.error_log();
        assert_eq!(response.status, 200, "{runtime}: {log}");
        assert_eq!(response.text(), "Hello from WebAssembly!\n");
        if !cached {
            assert_eq!(
                compile_lines(&log).len(),
                1,
                "{runtime}: compiled again:\n{log}"
            );
            assert!(entries(cache.path()).is_empty(), "{runtime}");
            return;
        }
        assert!(
            compile_lines(&log).is_empty(),
            "{runtime}: the second start compiled again:\n{log}"
        );
        assert!(
            log.contains("loaded from the cache the compiled"),
            "{runtime}: no cache hit logged:\n{log}"
        );
        assert_eq!(
            entries(cache.path()),
            stored,
            "{runtime}: the entry was rewritten"
        );
    });
}

#[test]
fn the_default_cache_is_under_the_runtime_dir_and_written_by_the_server_alone() {
    use std::os::unix::fs::MetadataExt;
    let runtime = preferably_cached();
    let config = Config::new(&hello_location(runtime, ""));
    // The harness sets DefaultRuntimeDir to ServerRoot/run.
    let dir = config.scratch.path().join("run/mod_wasm-cache");
    let apache = config.start();
    assert_eq!(apache.get("/hello").status, 200, "{}", apache.error_log());
    let expected = usize::from(mod_wasm_tests::runtime(runtime).caches_compiled_code);
    assert_eq!(
        entries(&dir).len(),
        expected,
        "{runtime}: {}",
        apache.error_log()
    );
    let metadata = std::fs::metadata(&dir).unwrap();
    assert_eq!(metadata.mode() & 0o777, 0o750);
    let test_uid = std::fs::metadata("/proc/self").unwrap().uid();
    // The user that started Apache writes it; the children only read it.
    assert_eq!(metadata.uid(), test_uid);
    if test_uid == 0 {
        // Started as root, Apache serves as www-data (see the harness): they read it as its
        // group.
        assert_eq!(metadata.gid(), id_of("-g", "www-data"));
    }
}

fn id_of(which: &str, user: &str) -> u32 {
    let output = std::process::Command::new("id")
        .args([which, user])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn an_entry_that_someone_else_could_have_written_is_refused_and_compiled_again() {
    use std::os::unix::fs::PermissionsExt;
    let runtime = preferably_cached();
    if !mod_wasm_tests::runtime(runtime).caches_compiled_code {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let directive = format!("WasmCacheDir {}\n", cache.path().display());
    let first = Config::new(&hello_location(runtime, &directive)).start();
    assert_eq!(first.get("/hello").status, 200);
    drop(first);
    let stored = entries(cache.path());
    assert_eq!(stored.len(), 1, "{stored:?}");
    // Native code every child would run: made writable by anyone, as if planted.
    std::fs::set_permissions(&stored[0].0, std::fs::Permissions::from_mode(0o666)).unwrap();

    let second = Config::new(&hello_location(runtime, &directive)).start();
    let response = second.get("/hello");
    let log = second.error_log();
    assert_eq!(response.status, 200, "{log}");
    assert_eq!(response.text(), "Hello from WebAssembly!\n");
    let refused = log
        .lines()
        .find(|l| l.contains("refused ") && l.contains(&*stored[0].0.to_string_lossy()))
        .unwrap_or_else(|| panic!("{runtime}: no refusal:\n{log}"));
    assert!(refused.contains(":warn]"), "{refused}");
    assert_eq!(compile_lines(&log).len(), 1, "compiled again:\n{log}");
}

#[test]
fn a_cache_directory_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let runtime = preferably_cached();
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let apache = Config::new(&hello_location(
        runtime,
        &format!("WasmCacheDir {}\n", cache.path().display()),
    ))
    .start();
    assert_eq!(apache.get("/hello").status, 200);
    let log = apache.error_log();
    let warning = log
        .lines()
        .find(|l| l.contains("WasmCacheDir"))
        .unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(
        warning.contains("only the user reading the configuration")
            && warning.contains("compiled modules are not cached"),
        "{warning}"
    );
    assert!(entries(cache.path()).is_empty());
}

#[test]
fn wasm_cache_dir_off_compiles_at_every_start() {
    let config = Config::new(&hello_location(preferably_cached(), "WasmCacheDir off\n"));
    let default_dir = config.scratch.path().join("run/mod_wasm-cache");
    let apache = config.start();
    assert_eq!(apache.get("/hello").status, 200, "{}", apache.error_log());
    assert!(!default_dir.exists());
    assert_eq!(compile_lines(&apache.error_log()).len(), 1);
}

#[test]
fn a_cache_that_cannot_be_written_is_a_warning_not_a_failure() {
    let config = Config::new("");
    let not_a_dir = config.scratch.file("plain-file", "");
    let body = hello_location(
        preferably_cached(),
        &format!("WasmCacheDir {}\n", not_a_dir.join("cache").display()),
    );
    let apache = config.with_body(&body).start();
    let response = apache.get("/hello");
    let log = apache.error_log();
    assert_eq!(response.status, 200, "{log}");
    let warning = log
        .lines()
        .find(|l| l.contains("WasmCacheDir"))
        .unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(warning.contains(":warn]"), "{warning}");
    assert!(
        warning.contains("compiled modules are not cached"),
        "{warning}"
    );
}

#[test]
fn wasm_cache_dir_belongs_to_the_main_server_config() {
    for (section, expected) in [
        (
            "<Location /x>",
            "WasmCacheDir not allowed in <Location> context",
        ),
        (
            "<VirtualHost 127.0.0.1:80>",
            "cannot occur within <VirtualHost> section",
        ),
    ] {
        let close = if section.starts_with("<Location") {
            "</Location>"
        } else {
            "</VirtualHost>"
        };
        let result = Config::new(&format!("{section}\n  WasmCacheDir /tmp\n{close}\n")).check();
        assert!(!result.success, "{section}: {}", result.output);
        assert!(
            result.output.contains(expected),
            "{section}: {}",
            result.output
        );
    }
}

/// Whether process `pid` has `file` mapped into its memory.
fn maps_file(pid: i32, file: &Path) -> bool {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let file = file.to_string_lossy();
    maps.lines().any(|line| line.ends_with(&*file))
}

#[test]
fn children_map_the_cached_code_instead_of_copying_it() {
    for_each_runtime(|runtime| {
        if !mod_wasm_tests::runtime(runtime).maps_cached_code {
            return;
        }
        // The default cache: the children, which serve as another user, can read it. Two
        // modules, each of which must run its own code.
        let bytes = format!(
            "<Location /bytes>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
             WasmModule {}\n  WasmArg bytes\n</Location>\n",
            guest("probe").display()
        );
        let config = Config::new(&hello_location(runtime, &bytes));
        let dir = config.scratch.path().join("run/mod_wasm-cache");
        let apache = config.start();
        let all_bytes: Vec<u8> = (0..=255).collect();
        for _ in 0..4 {
            assert_eq!(apache.get("/hello").text(), "Hello from WebAssembly!\n");
            assert_eq!(apache.get("/bytes").body, all_bytes, "{runtime}");
        }
        let stored = entries(&dir);
        assert_eq!(stored.len(), 2, "{runtime}: {stored:?}");
        let children = apache.children();
        for (entry, _) in &stored {
            assert!(
                children.iter().any(|&pid| maps_file(pid, entry)),
                "{runtime}: no child of {children:?} maps {}",
                entry.display()
            );
        }
        let log = apache.error_log();
        assert!(!log.contains("cannot share"), "{runtime}:\n{log}");
    });
}

/// Asks `path` every second while it answers 503 (with `Retry-After`, as a module compiled in
/// the background does), for up to ten minutes; the first other answer.
fn once_ready(apache: &mod_wasm_tests::Apache, path: &str) -> mod_wasm_tests::Response {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let response = apache.get(path);
        if response.status != 503 || std::time::Instant::now() > deadline {
            return response;
        }
        assert_eq!(response.header("Retry-After"), Some("10"));
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// `WasmCompile background`: the configuration test compiles nothing, the server answers at
/// once, a module that takes time to compile (CPython) answers 503 with `Retry-After` until
/// its code is in the cache and then runs, and the next start finds it there.
#[test]
fn a_module_compiled_in_the_background_answers_503_until_it_is_ready() {
    // The mechanism is the runtimes' common one; CPython takes seconds to compile under a
    // compiling runtime, minutes under WasmEdge's LLVM: the first other one that caches.
    let Some(runtime) = runtimes()
        .into_iter()
        .filter(|name| runtime(name).caches_compiled_code)
        .find(|name| *name != "wasmedge")
        .or_else(|| {
            runtimes()
                .into_iter()
                .find(|name| runtime(name).caches_compiled_code)
        })
    else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let body = format!(
        "WasmCacheDir {}\nWasmCompile background\n{}<Location /python>\n  SetHandler wasm-handler\n  \
         WasmRuntime {runtime}\n  WasmModule {}\n  WasmArg -c\n  WasmArg \"print('ready')\"\n\
         </Location>\n",
        cache.path().display(),
        hello_location(runtime, ""),
        mod_wasm_tests::python_wasm().display()
    );
    let config = Config::new(&body);
    let test = config.check();
    assert!(test.success, "{}", test.output);
    assert!(!test.output.contains("compiling"), "{}", test.output);
    assert!(entries(cache.path()).is_empty(), "the test compiled");

    let apache = config.start();
    let first = apache.get("/python");
    let log = apache.error_log();
    assert_eq!(first.status, 503, "{log}");
    assert_eq!(first.header("Retry-After"), Some("10"));
    let python = format!(
        "mod_wasm: compiling {} with runtime {runtime}",
        mod_wasm_tests::python_wasm().display()
    );
    assert!(
        log.contains(&python) && log.contains("in the background"),
        "{log}"
    );
    assert!(
        log.contains("still being compiled in the background"),
        "{log}"
    );
    let ready = once_ready(&apache, "/python");
    assert_eq!(ready.status, 200, "{}", apache.error_log());
    assert_eq!(ready.text(), "ready\n");
    assert_eq!(once_ready(&apache, "/hello").status, 200);
    assert_eq!(entries(cache.path()).len(), 2);
    drop(apache);

    let again = Config::new(&body).start();
    let response = again.get("/python");
    assert_eq!(response.status, 200, "{}", again.error_log());
    assert!(!again.error_log().contains("in the background"));
}

/// A module that cannot be compiled does not stop a start under `WasmCompile background`: its
/// location answers 500, and the error log says why, under every runtime that caches.
#[test]
fn a_module_that_cannot_be_compiled_in_the_background_answers_500_with_the_reason() {
    for_each_runtime(|runtime| {
        if !mod_wasm_tests::runtime(runtime).caches_compiled_code {
            return;
        }
        let cache = tempfile::tempdir().unwrap();
        let config = Config::new("");
        // A header, then a section that claims more bytes than there are.
        let broken = config
            .scratch
            .file("broken.wasm", b"\0asm\x01\0\0\0\x01\x7f\x00");
        let config = config.with_body(&format!(
            "WasmCacheDir {}\nWasmCompile background\n<Location /broken>\n  SetHandler wasm-handler\n  \
             WasmRuntime {runtime}\n  WasmModule {}\n</Location>\n",
            cache.path().display(),
            broken.display()
        ));
        let apache = config.start();
        let response = once_ready(&apache, "/broken");
        let log = apache.error_log();
        assert_eq!(response.status, 500, "{runtime}: {log}");
        assert!(log.contains("cannot load the module"), "{runtime}: {log}");
    });
}

/// A compilation in the background ends with the server: stopping it mid-compilation (CPython
/// under WasmEdge's ahead-of-time compiler, minutes long) leaves no process compiling, the
/// cache entry's lock free and nothing stored.
#[test]
fn a_background_compilation_stops_with_the_server() {
    if !runtimes().contains(&"wasmedge") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let apache = Config::new(&format!(
        "WasmCacheDir {}\nWasmCompile background\n<Location /python>\n  SetHandler wasm-handler\n  \
         WasmRuntime wasmedge\n  WasmModule {}\n</Location>\n",
        cache.path().display(),
        mod_wasm_tests::python_wasm().display()
    ))
    .start();
    assert_eq!(apache.get("/python").status, 503, "{}", apache.error_log());
    let lock = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "lock"))
        .expect("the compilation's lock");
    let lock = std::fs::File::open(lock).unwrap();
    assert!(lock.try_lock().is_err(), "nobody is compiling");
    assert!(apache.stop(std::time::Duration::from_secs(10)));
    // The kernel ends the compiler processes as their parents exit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while lock.try_lock().is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        lock.try_lock().is_ok(),
        "a compiler process outlived the server"
    );
    assert!(entries(cache.path()).is_empty());
}
