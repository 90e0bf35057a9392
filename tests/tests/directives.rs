//! Each directive's effect on the sandbox, and how nested sections merge.

use mod_wasm_tests::{for_each_runtime, guest, Apache, Config};

/// A `<Location>` running the probe guest with the behaviour `args` under `runtime`.
fn probe_location(path: &str, runtime: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{extra}\n</Location>\n",
        guest("probe").display()
    )
}

fn lines(apache: &Apache, path: &str) -> Vec<String> {
    let response = apache.get(path);
    assert_eq!(
        response.status,
        200,
        "GET {path}: {}\n{}",
        response.text(),
        apache.error_log()
    );
    response.text().lines().map(str::to_owned).collect()
}

#[test]
fn wasm_arg_builds_argv_after_the_module_name() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/args",
            runtime,
            "  WasmArg env\n  WasmArg \"two words\"\n  WasmArg --flag=1",
        ))
        .start();
        let out = lines(&apache, "/args");
        assert_eq!(
            &out[..4],
            [
                "argv[0]=probe.wasm",
                "argv[1]=env",
                "argv[2]=two words",
                "argv[3]=--flag=1"
            ],
            "{runtime}"
        );
    });
}

#[test]
fn wasm_env_sets_variables_and_nothing_else_leaks() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/env",
            runtime,
            "  WasmArg env\n  WasmEnv GREETING \"hello world\"\n  WasmEnv EMPTY",
        ))
        .start();
        let out = lines(&apache, "/env");
        let env: Vec<_> = out.iter().filter(|l| l.starts_with("env:")).collect();
        assert_eq!(
            env,
            ["env:GREETING=hello world", "env:EMPTY="],
            "{runtime}: {out:?}"
        );
        // Without WasmEnableCGI the request is not passed in.
        assert!(out.contains(&"stdin:0".to_owned()), "{runtime}");
    });
}

#[test]
fn without_cgi_stdout_is_the_body_and_the_request_is_not_passed() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/raw",
            runtime,
            "  WasmArg env\n  WasmEnableCGI Off",
        ))
        .start();
        let response = apache.request("POST", "/raw?q=1").body("ignored").send();
        assert_eq!(response.status, 200, "{runtime}");
        let text = response.text();
        assert!(
            text.starts_with("argv[0]=probe.wasm\n"),
            "{runtime}: {text}"
        );
        assert!(!text.contains("REQUEST_METHOD"), "{runtime}: {text}");
        assert!(text.contains("stdin:0"), "{runtime}: {text}");
    });
}

#[test]
fn wasm_dir_and_wasm_map_dir_grant_directories() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let shared = config.scratch.dir("shared");
        config.scratch.file("shared/note.txt", "same path\n");
        let mapped = config.scratch.dir("mapped");
        config.scratch.file("mapped/note.txt", "mapped path\n");
        let body = format!(
            "{}{}{}",
            probe_location(
                "/same",
                runtime,
                &format!(
                    "  WasmArg read\n  WasmArg {}/note.txt\n  WasmDir {}",
                    shared.display(),
                    shared.display()
                )
            ),
            probe_location(
                "/mapped",
                runtime,
                &format!(
                    "  WasmArg read\n  WasmArg /data/note.txt\n  WasmMapDir /data {}",
                    mapped.display()
                )
            ),
            probe_location(
                "/denied",
                runtime,
                &format!(
                    "  WasmArg read\n  WasmArg {}/note.txt\n  WasmMapDir /data {}",
                    mapped.display(),
                    mapped.display()
                )
            ),
        );
        let apache = config.with_body(&body).start();
        assert_eq!(lines(&apache, "/same"), ["same path"], "{runtime}");
        assert_eq!(lines(&apache, "/mapped"), ["mapped path"], "{runtime}");
        // The host path of a mapped directory means nothing inside the sandbox.
        let denied = lines(&apache, "/denied");
        assert!(denied[0].starts_with("error:"), "{runtime}: {denied:?}");
    });
}

#[test]
fn nothing_outside_the_granted_directories_is_reachable() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let data = config.scratch.dir("data");
        let body = format!(
            "{}{}",
            probe_location(
                "/passwd",
                runtime,
                &format!(
                    "  WasmArg read\n  WasmArg /etc/passwd\n  WasmMapDir /data {}",
                    data.display()
                )
            ),
            probe_location(
                "/escape",
                runtime,
                &format!(
                    "  WasmArg read\n  WasmArg /data/../httpd.conf\n  WasmMapDir /data {}",
                    data.display()
                )
            ),
        );
        let apache = config.with_body(&body).start();
        for path in ["/passwd", "/escape"] {
            let out = lines(&apache, path);
            assert!(out[0].starts_with("error:"), "{runtime} {path}: {out:?}");
        }
    });
}

#[test]
fn read_only_directories_cannot_be_written() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let ro = config.scratch.writable_dir("ro");
        let rw = config.scratch.writable_dir("rw");
        let body = format!(
            "{}{}",
            probe_location(
                "/ro",
                runtime,
                &format!(
                    "  WasmArg write\n  WasmArg /d/new.txt\n  WasmMapDir /d {} ro",
                    ro.display()
                )
            ),
            probe_location(
                "/rw",
                runtime,
                &format!(
                    "  WasmArg write\n  WasmArg /d/new.txt\n  WasmMapDir /d {} rw",
                    rw.display()
                )
            ),
        );
        let apache = config.with_body(&body).start();
        let out = lines(&apache, "/ro");
        assert!(out[0].starts_with("error:"), "{runtime}: {out:?}");
        assert!(
            !ro.join("new.txt").exists(),
            "{runtime}: wrote into a read-only directory"
        );
        assert_eq!(lines(&apache, "/rw"), ["wrote"], "{runtime}");
        assert_eq!(
            std::fs::read_to_string(rw.join("new.txt")).unwrap(),
            "written by probe\n"
        );
    });
}

#[test]
fn read_only_directories_can_be_listed_read_and_inspected() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let ro = config.scratch.writable_dir("ro");
        config.scratch.file("ro/a.txt", "alpha\n");
        config.scratch.file("ro/sub/b.txt", "beta\n");
        let probes = [
            ("/ls-root", "ls /d"),
            ("/ls-sub", "ls /d/sub"),
            ("/read", "read /d/sub/b.txt"),
            ("/stat-file", "stat /d/a.txt"),
            ("/stat-dir", "stat /d/sub"),
            ("/write", "write /d/new.txt"),
            ("/mkdir", "mkdir /d/new"),
        ];
        let body: String = probes
            .iter()
            .map(|(path, args)| {
                let args: String = args
                    .split(' ')
                    .map(|a| format!("  WasmArg {a}\n"))
                    .collect();
                let grant = format!("  WasmMapDir /d {} ro", ro.display());
                probe_location(path, runtime, &format!("{args}{grant}"))
            })
            .collect();
        let apache = config.with_body(&body).start();
        assert_eq!(lines(&apache, "/ls-root"), ["a.txt", "sub"], "{runtime}");
        assert_eq!(lines(&apache, "/ls-sub"), ["b.txt"], "{runtime}");
        assert_eq!(lines(&apache, "/read"), ["beta"], "{runtime}");
        assert_eq!(
            lines(&apache, "/stat-file"),
            ["file of 6 bytes"],
            "{runtime}"
        );
        assert_eq!(lines(&apache, "/stat-dir"), ["directory"], "{runtime}");
        for refused in ["/write", "/mkdir"] {
            let out = lines(&apache, refused);
            assert!(out[0].starts_with("error:"), "{runtime} {refused}: {out:?}");
        }
        assert!(
            !ro.join("new.txt").exists() && !ro.join("new").exists(),
            "{runtime}"
        );
    });
}

#[test]
fn making_a_directory_fails_where_mkdir_fails() {
    // SQLite's locking under WASI (`unix-dotfile`) is a `mkdir`: a process holds the lock only
    // because making a directory that another one made fails.
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let rw = config.scratch.writable_dir("rw");
        std::fs::create_dir(rw.join("held")).unwrap();
        let probes = [
            ("/again", "mkdir /d/held"),
            ("/nested", "mkdir /d/missing/new"),
            ("/new", "mkdir /d/new"),
        ];
        let body: String = probes
            .iter()
            .map(|(path, args)| {
                let args: String = args
                    .split(' ')
                    .map(|a| format!("  WasmArg {a}\n"))
                    .collect();
                let grant = format!("  WasmMapDir /d {} rw", rw.display());
                probe_location(path, runtime, &format!("{args}{grant}"))
            })
            .collect();
        let apache = config.with_body(&body).start();
        let again = lines(&apache, "/again");
        assert!(
            again[0].starts_with("error: File exists"),
            "{runtime}: made a directory that exists: {again:?}"
        );
        let nested = lines(&apache, "/nested");
        assert!(
            nested[0].starts_with("error:") && !rw.join("missing").exists(),
            "{runtime}: made the missing parent too: {nested:?}"
        );
        assert_eq!(lines(&apache, "/new"), ["created"], "{runtime}");
        assert!(rw.join("new").is_dir(), "{runtime}");
    });
}

#[test]
fn a_lock_passes_from_one_request_to_the_next() {
    // Two requests take the same lock at once: the second waits until the first removed it,
    // and then takes it. A lock made of a directory (SQLite's under WASI) and one made of a
    // file created with O_EXCL (`open(path, "x")`).
    for_each_runtime(|runtime| {
        for kind in ["directory", "file"] {
            let config = Config::new("");
            let rw = config.scratch.writable_dir("rw");
            let body = probe_location(
                "/lock",
                runtime,
                &format!(
                    "  WasmEnableCGI On\n  WasmArg lock\n  WasmArg /d/held\n  WasmArg 500\n  \
                     WasmArg {}\n  WasmMapDir /d {} rw",
                    if kind == "file" { "file" } else { "dir" },
                    rw.display()
                ),
            );
            let apache = config.with_body(&body).start();
            let port = apache.port();
            let first = std::thread::spawn(move || {
                mod_wasm_tests::http::Request::new(port, "GET", "/lock").send()
            });
            // The first has the lock by now (mod_wasm's start of a run takes milliseconds).
            std::thread::sleep(std::time::Duration::from_millis(200));
            let second = apache.get("/lock");
            let first = first.join().unwrap();
            for (which, response) in [("first", first), ("second", second)] {
                assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
                assert!(
                    response.text().starts_with("acquired after"),
                    "{runtime}, a {kind}: the {which} request: {}",
                    response.text()
                );
            }
            assert!(!rw.join("held").exists(), "{runtime}, a {kind}: released");
        }
    });
}

#[test]
fn wasm_entry_point_calls_another_export() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&probe_location(
            "/alt",
            runtime,
            "  WasmEntryPoint alt_entry",
        ))
        .start();
        assert_eq!(
            lines(&apache, "/alt"),
            ["alternative entry point"],
            "{runtime}"
        );
    });
}

#[test]
fn wasm_map_cgi_file_names_gives_guest_paths_to_an_interpreter() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let htdocs = config.htdocs();
        config
            .scratch
            .file("htdocs/app/page.probe", "script contents\n");
        let body = format!(
            "<Directory {htdocs}/app>\n  AddHandler wasm-handler .probe\n  WasmRuntime {runtime}\n  WasmModule {probe}\n  WasmArg script\n  WasmEnableCGI On\n  WasmMapDir /www {htdocs}\n</Directory>\n\
             <Location /app/unmapped>\n  WasmMapCGIFileNames Off\n</Location>\n\
             <Location /app/page.probe>\n  WasmMapCGIFileNames On\n</Location>\n",
            htdocs = htdocs.display(),
            probe = guest("probe").display()
        );
        config
            .scratch
            .file("htdocs/app/unmapped/page.probe", "unmapped contents\n");
        let apache = config.with_body(&body).start();

        let response = apache.get("/app/page.probe");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(
            response.text(),
            "SCRIPT_FILENAME=/www/app/page.probe\nscript contents\n",
            "{runtime}"
        );

        // Off: the host path is passed as is, which the sandbox cannot open.
        let response = apache.get("/app/unmapped/page.probe");
        assert_eq!(response.status, 200, "{runtime}");
        let text = response.text();
        let host_path = format!(
            "SCRIPT_FILENAME={}/app/unmapped/page.probe\nerror:",
            htdocs.display()
        );
        assert!(text.starts_with(&host_path), "{runtime}: {text}");
    });
}

#[test]
fn nested_sections_merge_as_documented() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let outer_dir = config.scratch.dir("outer");
        let inner_dir = config.scratch.dir("inner");
        let tmp = config.scratch.dir("tmp");
        config.scratch.file("outer/who", "outer\n");
        config.scratch.file("inner/who", "inner\n");
        let body = format!(
            "WasmRuntime {runtime}\n\
             WasmEnv FROM_SERVER server\n\
             WasmEnv OVERRIDDEN server\n\
             WasmMapDir /tmp {tmp}\n\
             <Location /m>\n  SetHandler wasm-handler\n  WasmModule {probe}\n  WasmArg env\n  WasmArg outer-arg\n  WasmEnv OVERRIDDEN outer\n  WasmEnv FROM_OUTER outer\n  WasmMapDir /who {outer}\n</Location>\n\
             <Location /m/inner>\n  WasmArg env\n  WasmArg inner-arg\n  WasmEnv FROM_INNER inner\n  WasmEnv OVERRIDDEN inner\n  WasmMapDir /who {inner}\n</Location>\n\
             <Location /m/read>\n  WasmArg read\n  WasmArg /who/who\n</Location>\n\
             <Location /m/inner/read>\n  WasmArg read\n  WasmArg /who/who\n</Location>\n",
            tmp = tmp.display(),
            probe = guest("probe").display(),
            outer = outer_dir.display(),
            inner = inner_dir.display(),
        );
        let apache = config.with_body(&body).start();

        let outer = lines(&apache, "/m");
        assert_eq!(
            &outer[..3],
            ["argv[0]=probe.wasm", "argv[1]=env", "argv[2]=outer-arg"],
            "{runtime}"
        );
        let env = |out: &[String]| -> Vec<String> {
            out.iter()
                .filter(|l| l.starts_with("env:"))
                .cloned()
                .collect()
        };
        assert_eq!(
            env(&outer),
            [
                "env:FROM_SERVER=server",
                "env:OVERRIDDEN=outer",
                "env:FROM_OUTER=outer"
            ],
            "{runtime}"
        );

        // Args are replaced as a whole; env accumulates with inner values winning.
        let inner = lines(&apache, "/m/inner");
        assert_eq!(
            &inner[..3],
            ["argv[0]=probe.wasm", "argv[1]=env", "argv[2]=inner-arg"],
            "{runtime}"
        );
        assert_eq!(
            inner.iter().filter(|l| l.starts_with("argv[")).count(),
            3,
            "{runtime}: {inner:?}"
        );
        assert_eq!(
            env(&inner),
            [
                "env:FROM_SERVER=server",
                "env:OVERRIDDEN=inner",
                "env:FROM_OUTER=outer",
                "env:FROM_INNER=inner"
            ],
            "{runtime}"
        );

        // Directories accumulate by guest path, inner mappings winning.
        assert_eq!(lines(&apache, "/m/read"), ["outer"], "{runtime}");
        assert_eq!(lines(&apache, "/m/inner/read"), ["inner"], "{runtime}");
    });
}

#[test]
fn each_location_can_pick_its_runtime() {
    let body: String = mod_wasm_tests::runtimes()
        .iter()
        .map(|runtime| {
            format!(
                "<Location /{runtime}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
                guest("hello").display()
            )
        })
        .collect();
    let apache = Config::new(&body).start();
    for runtime in mod_wasm_tests::runtimes() {
        let response = apache.get(&format!("/{runtime}"));
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(response.text(), "Hello from WebAssembly!\n");
    }
    let log = apache.error_log();
    for runtime in mod_wasm_tests::runtimes() {
        assert!(
            log.contains(&format!(
                "loaded {} with runtime {runtime} into this process",
                guest("hello").display()
            )),
            "{runtime} not used:\n{log}"
        );
    }
}

#[test]
fn the_configuration_check_compiles_with_the_runtime_an_enclosing_location_chose() {
    for_each_runtime(|runtime| {
        // `/app/hello` sets only the module; its runtime comes from `/app`, as at request time.
        let apache = Config::new(&format!(
            "<Location /app>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmEnableCGI On\n</Location>\n\
             <Location /app/hello>\n  WasmModule {}\n</Location>\n",
            guest("hello").display()
        ))
        .start();
        assert_eq!(
            apache.get("/app/hello").text(),
            "Hello from WebAssembly!\n",
            "{runtime}"
        );
        let log = apache.error_log();
        let checked = format!("hello.wasm with runtime {runtime} (");
        assert!(log.contains(&checked), "{runtime}: {log}");
        let default = mod_wasm_tests::Build::under_test()
            .default_runtime()
            .unwrap();
        if runtime != default.name {
            let with_default = format!("with runtime {} ", default.name);
            assert!(!log.contains(&with_default), "{runtime}: {log}");
        }
    });
}
