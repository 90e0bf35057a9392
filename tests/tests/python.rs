//! A real interpreter: CPython 3.12 for WASI (VMware Labs' build, fetched by scripts/setup)
//! serves Python scripts through Apache under every runtime, in interpreter mode
//! (`AddHandler`), and in the configuration of the first mod_wasm (one script per location
//! through `WasmArg`, with `WasmMapDir ./`). Next to it, the host's own python3 under mod_cgid
//! runs the same vulnerable script, to show what the sandbox is for.
//!
//! One server serves every runtime, so CPython is compiled once per runtime per run, and
//! WasmEdge's ahead-of-time code, the longest compile of the suite (minutes), is kept in the
//! test cache of the build directory.

use mod_wasm_tests::{
    for_each_runtime_at_once, load_module, python_wasm, runtimes, shared_cache_dir, workspace_root,
    Apache, Config,
};

/// The shipped example app and the vulnerable script, then scripts for what they do not show.
const SCRIPTS: [(&str, &str); 4] = [
    (
        "status.py",
        "print(\"Status: 418 I'm a teapot\")\nprint('Content-Type: text/plain')\n\
         print('Set-Cookie: a=1')\nprint('Set-Cookie: b=2')\nprint()\nprint('short and stout')\n",
    ),
    (
        "broken.py",
        "print('Content-Type: text/plain')\nprint()\nprint(1 / 0)\n",
    ),
    (
        // Deep recursion in Python and in CPython's C code (json's encoder), within CPython's
        // limits; past its limit, CPython's own RecursionError rather than a trap.
        "recursion.py",
        "import json\n\
         def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n\
         nested = []\n\
         for _ in range(200):\n    nested = [nested]\n\
         print('Content-Type: text/plain')\nprint()\n\
         print(depth(900), len(json.dumps(nested)))\n\
         try:\n    depth(10 ** 6)\nexcept RecursionError:\n    print('RecursionError')\n",
    ),
    (
        "classic.py",
        // A relative path: the working directory is what `WasmMapDir ./` granted.
        "import os\nprint('Content-Type: text/plain')\nprint()\n\
         print(open('data.txt').read().strip(), 'in', os.getcwd())\n",
    ),
];

fn example(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("examples/python").join(name)).unwrap()
}

/// A server with a site per runtime under `/<runtime>/`, `/classic-<runtime>` configured as
/// the first mod_wasm did, and `/cgi-bin/` run by the host's python3 through mod_cgid.
fn start(runtimes: &[&str]) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let python = python_wasm();
    let mut body = format!(
        "{}{}WasmCacheDir {}\n",
        load_module("cgid"),
        load_module("alias"),
        shared_cache_dir().display()
    );
    for runtime in runtimes {
        for name in ["hello.py", "show.py", "readme.txt"] {
            scratch.file(&format!("{runtime}/{name}"), example(name));
        }
        for (name, script) in SCRIPTS {
            scratch.file(&format!("{runtime}/{name}"), script);
        }
        let site = scratch.path().join(runtime);
        body += &format!(
            "Alias /{runtime} {site}\n\
             <Directory {site}>\n  AddHandler wasm-handler .py\n  WasmModule {python}\n  \
             WasmRuntime {runtime}\n  WasmEnableCGI On\n  WasmMapDir /site {site} ro\n  \
             WasmMapCGIFileNames On\n  WasmEnv MOD_WASM_RUNTIME {runtime}\n</Directory>\n\
             <Location /classic-{runtime}>\n  SetHandler wasm-handler\n  WasmModule {python}\n  \
             WasmRuntime {runtime}\n  WasmEnableCGI On\n  WasmMapDir ./ {classic} ro\n  \
             WasmArg classic.py\n</Location>\n",
            site = site.display(),
            python = python.display(),
            classic = scratch.path().join("classic").display(),
        );
    }
    let (_, classic) = SCRIPTS
        .iter()
        .find(|(name, _)| *name == "classic.py")
        .unwrap();
    scratch.file("classic/classic.py", classic);
    scratch.file(
        "classic/data.txt",
        "read relative to the working directory\n",
    );
    body += &scratch.host_cgi_script(
        "show.py",
        &example("show.py"),
        &[("readme.txt", example("readme.txt"))],
    );
    config.with_body(&body).start()
}

#[test]
fn cpython_serves_scripts_under_every_runtime() {
    let runtimes = runtimes();
    let apache = start(&runtimes);
    // CPython starts slowly in WasmEdge's interpreter: the runtimes are exercised side by side.
    for_each_runtime_at_once(&runtimes, |runtime| serves_scripts(&apache, runtime));

    // The same script, run by the host's python3 as a CGI script, shows any file the server
    // can read: what the sandbox prevents.
    let leaked = apache.get("/cgi-bin/show.py?file=/etc/passwd");
    assert_eq!(leaked.status, 200, "{}", leaked.text());
    assert!(leaked.text().contains("root:"), "{}", leaked.text());
}

fn serves_scripts(apache: &Apache, runtime: &str) {
    let json = apache.get(&format!("/{runtime}/hello.py?format=json&name=Ada"));
    assert_eq!(json.status, 200, "{runtime}: {}", json.text());
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    for expected in [
        r#""greeting": "Hello, Ada!""#,
        r#""python": "3.12.0""#,
        &format!(r#""runtime": "{runtime}""#),
        // hashlib: SHA-256 of "Ada".
        r#""name_sha256": "99a563ab2f6e21e96998f9fddd2a2bab82b70ac019579502b8d7fc0032ff62bb""#,
    ] {
        assert!(json.text().contains(expected), "{runtime}: {}", json.text());
    }

    let posted = apache
        .request("POST", &format!("/{runtime}/hello.py"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=Grace+Hopper&lang=py")
        .send();
    assert_eq!(posted.status, 200, "{runtime}: {}", posted.text());
    assert!(
        posted
            .text()
            .contains("<h1 id=\"greeting\">Hello, Grace Hopper!</h1>"),
        "{runtime}: {}",
        posted.text()
    );

    let teapot = apache.get(&format!("/{runtime}/status.py"));
    assert_eq!(teapot.status, 418, "{runtime}: {}", teapot.text());
    assert_eq!(
        teapot.headers_named("Set-Cookie"),
        ["a=1", "b=2"],
        "{runtime}"
    );
    assert_eq!(teapot.text(), "short and stout\n", "{runtime}");

    let broken = apache.get(&format!("/{runtime}/broken.py"));
    assert_eq!(broken.status, 500, "{runtime}");
    let stderr = format!("with runtime {runtime}: stderr: ");
    let log = apache.wait_for_log(&format!("{stderr}ZeroDivisionError: division by zero"));
    let traceback: Vec<_> = log.lines().filter(|line| line.contains(&stderr)).collect();
    assert!(
        traceback
            .iter()
            .any(|l| l.contains("Traceback (most recent call last):"))
            && traceback
                .iter()
                .any(|l| l.contains("ZeroDivisionError: division by zero")),
        "{runtime}: the traceback is not in the error log:\n{log}"
    );

    let recursion = apache.get(&format!("/{runtime}/recursion.py"));
    assert_eq!(recursion.status, 200, "{runtime}: {}", recursion.text());
    assert_eq!(recursion.text(), "900 402\nRecursionError\n", "{runtime}");

    assert_eq!(
        apache.get(&format!("/{runtime}/missing.py")).status,
        404,
        "{runtime}"
    );

    // A file of the site, through the granted directory; nothing outside it exists.
    let readme = apache.get(&format!("/{runtime}/show.py"));
    assert_eq!(readme.text(), example("readme.txt") + "\n", "{runtime}");
    let passwd = apache.get(&format!("/{runtime}/show.py?file=/etc/passwd"));
    assert_eq!(passwd.status, 200, "{runtime}");
    assert!(
        passwd.text().starts_with("cannot read /etc/passwd") && !passwd.text().contains("root:"),
        "{runtime}: {}",
        passwd.text()
    );

    let classic = apache.get(&format!("/classic-{runtime}"));
    assert_eq!(classic.status, 200, "{runtime}: {}", classic.text());
    assert_eq!(
        classic.text(),
        "read relative to the working directory in /\n",
        "{runtime}"
    );
}
