//! A guest reaches only its granted directories, under every runtime, and as a WASI 0.2
//! component too: a symbolic link inside a grant that points outside is refused for reading,
//! writing, listing and `stat`, and guests cannot create symbolic links at all. Links that stay
//! inside work.

use mod_wasm_tests::{component, for_each_runtime, guest, runtime, runtimes, Config};
use std::os::unix::fs::symlink;
use std::path::Path;

#[test]
fn symbolic_links_do_not_lead_out_of_a_grant() {
    for_each_runtime(|runtime| check_confinement(runtime, &guest("probe")));
}

#[test]
fn a_component_is_confined_the_same_way() {
    for name in runtimes().into_iter().filter(|r| runtime(r).components) {
        check_confinement(name, &component("probe"));
    }
}

/// Runs the probe `module` under `runtime` against links in and out of a granted directory.
fn check_confinement(runtime: &str, module: &Path) {
    let config = Config::new("");
    let scratch = &config.scratch;
    let data = scratch.writable_dir("data");
    scratch.file("data/inside.txt", "inside\n");
    let secret = scratch.file("secret/secret.txt", "the secret\n");
    symlink(&secret, data.join("escape")).unwrap();
    symlink("../secret", data.join("away")).unwrap();
    symlink("inside.txt", data.join("alias")).unwrap();
    symlink(scratch.path().join("secret/created"), data.join("dangling")).unwrap();

    let probes = [
        ("/read-escape", "read /data/escape"),
        ("/read-away", "read /data/away/secret.txt"),
        ("/ls-away", "ls /data/away"),
        ("/stat-escape", "stat /data/escape"),
        ("/write-away", "write /data/away/written"),
        ("/write-dangling", "write /data/dangling"),
        ("/symlink", "symlink /data/inside.txt /data/made"),
        (
            "/symlink-out",
            "symlink ../secret/secret.txt /data/made-out",
        ),
        ("/read-alias", "read /data/alias"),
    ];
    let mut body = String::new();
    for (path, args) in probes {
        body += &format!(
            "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmMapDir /data {}\n",
            module.display(),
            data.display()
        );
        for arg in args.split(' ') {
            body += &format!("  WasmArg {arg}\n");
        }
        body += "</Location>\n";
    }
    let apache = config.with_body(&body).start();
    let answer = |path: &str| {
        let response = apache.get(path);
        assert_eq!(
            response.status,
            200,
            "{runtime} {path}: {}",
            apache.error_log()
        );
        response.text()
    };

    for path in ["/read-escape", "/read-away", "/ls-away", "/stat-escape"] {
        let text = answer(path);
        assert!(text.starts_with("error: "), "{runtime} {path}: {text}");
        assert!(!text.contains("secret"), "{runtime} {path}: {text}");
    }
    for path in ["/write-away", "/write-dangling", "/symlink", "/symlink-out"] {
        let text = answer(path);
        assert!(text.starts_with("error: "), "{runtime} {path}: {text}");
    }
    let secret_dir = apache.scratch().path().join("secret");
    assert!(!secret_dir.join("written").exists(), "{runtime}");
    assert!(!secret_dir.join("created").exists(), "{runtime}");
    let data = apache.scratch().path().join("data");
    assert!(data.join("made").symlink_metadata().is_err(), "{runtime}");
    assert!(
        data.join("made-out").symlink_metadata().is_err(),
        "{runtime}"
    );

    assert_eq!(answer("/read-alias"), "inside\n", "{runtime}");
}
