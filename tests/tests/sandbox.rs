//! A guest reaches only its granted directories, under every runtime, and as a WASI 0.2
//! component too: a symbolic link inside a grant that points outside is refused for reading,
//! writing, listing and `stat`, and guests cannot create symbolic links at all. Links that stay
//! inside work, and a link renamed into place while guests run does not lead out either.

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

/// A concurrent change of the tree cannot lead a guest out of its grant: while guests read
/// `/data/sub/secret.txt` again and again, the host renames a link to a directory outside into
/// the place of `sub` and back, as a concurrent request in a read-write grant could. Every read
/// finds the file inside or fails; none reads the one outside.
#[test]
fn a_link_renamed_into_place_never_leads_out() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let scratch = &config.scratch;
        let data = scratch.writable_dir("data");
        scratch.file("data/sub/secret.txt", "inside\n");
        scratch.file("outside/secret.txt", "outside\n");
        symlink("../outside", data.join("away")).unwrap();
        let body = format!(
            "<Location /read>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmMapDir /data {}\n  WasmArg read\n  WasmArg /data/sub/secret.txt\n</Location>\n",
            guest("probe").display(),
            data.display()
        );
        let apache = config.with_body(&body).start();
        let data = apache.scratch().path().join("data");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::fs::rename(data.join("sub"), data.join("parked")).unwrap();
                    std::fs::rename(data.join("away"), data.join("sub")).unwrap();
                    std::fs::rename(data.join("sub"), data.join("away")).unwrap();
                    std::fs::rename(data.join("parked"), data.join("sub")).unwrap();
                    rounds += 1;
                }
                rounds
            })
        };
        let mut found = 0;
        for _ in 0..200 {
            let text = apache.get("/read").text();
            assert!(
                text == "inside\n" || text.starts_with("error: "),
                "{runtime}: {text}"
            );
            found += usize::from(text == "inside\n");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(
            swapper.join().unwrap() > 0,
            "{runtime}: nothing was swapped"
        );
        assert!(found > 0, "{runtime}: the file inside was never read");
    });
}
