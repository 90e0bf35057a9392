//! The demo as a person gets it and sees it: `scripts/demo` itself starts the demo (its own
//! configuration, its own MariaDB, on free ports), and headless Chromium (Debian's, driven by
//! playwright-core) opens the page, follows every link, submits every form and signs every
//! guestbook, under every runtime the module has (`tests/browser/demo.mjs` says what a person
//! must see). Screenshots of every page it checks are kept in `<target>/demo-screenshots`.

use mod_wasm_tests::{
    browser_test, components_dir, free_port, guests_dir, module_so, php_cgi_wasm, shared_cache_dir,
    workspace_root, Scratch,
};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `scripts/demo`, running in a process group of its own (the script, Apache and MariaDB),
/// stopped when dropped as Ctrl-C would stop it, and killed if that does not end it.
struct Demo {
    child: Child,
    port: u16,
    output: PathBuf,
    _dir: Scratch,
}

impl Demo {
    /// Runs `scripts/demo --no-build` on the build under test, and waits until its page
    /// answers.
    fn start() -> Demo {
        let dir = Scratch::new();
        let output = dir.path().join("output.log");
        let log = std::fs::File::create(&output).unwrap();
        let port = free_port();
        let child = Command::new(workspace_root().join("scripts/demo"))
            .arg("--no-build")
            .env("MOD_WASM_SO", module_so())
            .env("MOD_WASM_GUESTS", guests_dir())
            .env("MOD_WASM_COMPONENTS", components_dir())
            .env("MOD_WASM_DEMO_SITE", env!("CARGO_BIN_EXE_demo-site"))
            // PHP for WASI, as examples/php/build prints it.
            .env("MOD_WASM_PHP", php_cgi_wasm().parent().unwrap())
            .env("MOD_WASM_DEMO_PORT", port.to_string())
            .env("MOD_WASM_DEMO_DB_PORT", free_port().to_string())
            .env("MOD_WASM_DEMO_DIR", dir.path().join("demo"))
            // CPython's compiled code comes from the cache the Python tests use too.
            .env("MOD_WASM_DEMO_CACHE", shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("running scripts/demo");
        let mut demo = Demo {
            child,
            port,
            output,
            _dir: dir,
        };
        demo.wait_for_page();
        demo
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// What the script and the servers it started printed.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    fn wait_for_page(&mut self) {
        // The page answers as soon as the server starts: modules are compiled in the
        // background. The time allowed is for a busy machine.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "scripts/demo ended ({status}) before serving:\n{}",
                    self.output()
                );
            }
            let page = mod_wasm_tests::Request::new(self.port, "GET", "/").try_send();
            if let Ok(page) = page {
                assert_eq!(page.status, 200, "the demo page:\n{}", self.output());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "scripts/demo did not serve its page in time:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends the demo's process group `signal`.
    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([
                &format!("-{signal}"),
                "--",
                &format!("-{}", self.child.id()),
            ])
            .status();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.signal("INT");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

#[test]
fn a_person_can_use_every_link_and_form_of_the_demo_as_scripts_demo_serves_it() {
    let demo = Demo::start();
    let report = browser_test("demo", &demo.url(), [] as [&str; 0], || {
        format!("scripts/demo and its servers:\n{}", demo.output())
    });
    // Every runtime's column was clicked through, and every guestbook signed.
    for runtime in mod_wasm_tests::runtimes() {
        assert!(
            report.contains(&format!("ok   {runtime}: hello")),
            "{runtime}:\n{report}"
        );
        let contained = format!("ok   {runtime}: sandbox");
        assert!(report.contains(&contained), "{runtime}:\n{report}");
        for greeted in ["Python", "PHP"] {
            let greeted = format!("ok   {runtime}: greeted by the {greeted} app's form");
            assert!(report.contains(&greeted), "{runtime}:\n{report}");
        }
        let contained = format!("ok   {runtime}: php-sandbox");
        assert!(report.contains(&contained), "{runtime}:\n{report}");
        // Sockets through the runtime's ABI, or through wasi:sockets in a component.
        let info = mod_wasm_tests::runtime(runtime);
        if info.socket_abi.is_some() || info.components {
            let signed = format!("ok   {runtime}: sign the guestbook and see the entry");
            assert!(report.contains(&signed), "{runtime}:\n{report}");
        }
        // PHP on MariaDB, in the flavour built for the runtime's sockets.
        if mod_wasm_tests::php_with_sockets(runtime).is_some() {
            let noted = format!("ok   {runtime}: add a note through PHP and see it");
            assert!(report.contains(&noted), "{runtime}:\n{report}");
        }
    }
    for host in ["python3", "php-cgi"] {
        let shown = format!("ok   {host} under mod_cgid shows /etc/passwd");
        assert!(report.contains(&shown), "{report}");
    }
    eprintln!("{report}");
}

#[test]
fn scripts_demo_stops_its_servers_when_it_is_interrupted() {
    let demo = Demo::start();
    let url = demo.url();
    let port = demo.port;
    drop(demo);
    // Ctrl-C stopped Apache (and MariaDB with it): nothing answers any more.
    assert!(
        mod_wasm_tests::Request::new(port, "GET", "/")
            .try_send()
            .is_err(),
        "{url} still answers after the demo was interrupted"
    );
}
