//! The Debian package as an admin uses it: `scripts/package` makes the `.deb` from the module
//! under test, `apt-get install ./….deb` installs it on this machine and enables the module,
//! `a2enmod wasm` finds it enabled, a site gets a location per runtime, and Debian's own Apache
//! configuration (a copy of `/etc/apache2` as a second instance, Debian's way of running more
//! than one, on a free loopback port) serves it through `apache2ctl`. Then `apt-get remove`
//! leaves only the configuration files and an Apache that starts, and `apt-get purge` leaves
//! nothing. Lintian has nothing to say about the package that is not explained.
//!
//! Installing a package needs root: as another user, the test says so and passes.

use mod_wasm_tests::{free_port, guest, running_as_root, workspace_root, Build, Request, Scratch};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PACKAGE: &str = "libapache2-mod-wasm";
const CACHE: &str = "/var/cache/apache2/mod_wasm";

/// Runs `command`, asserts that it succeeds, and returns its stdout and stderr together.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{command:?}: {}\n{text}",
        output.status
    );
    text
}

fn apt_get(args: &[&str]) -> String {
    run(Command::new("apt-get")
        .args(["-y", "-q", "--no-install-recommends"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// dpkg's state of the package: "install ok installed", "deinstall ok config-files", or
/// `None` when dpkg knows nothing of it.
fn package_status() -> Option<String> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .expect("dpkg-query");
    let status = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success() && !status.contains("not-installed")).then_some(status)
}

/// The package on this machine for the test's duration: purged when dropped, also when the
/// test fails.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("apt-get")
            .args(["purge", "-y", "-q", PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
    }
}

/// A second instance of Debian's Apache (`/etc/apache2-<name>`, see Debian's
/// README.multiple-instances): a copy of `/etc/apache2` as it is now, listening on a free
/// loopback port only. Stopped and removed, with its run and log directories, when dropped.
struct Instance {
    name: String,
    port: u16,
}

impl Instance {
    fn copy_of_etc_apache2() -> Instance {
        let instance = Instance {
            name: format!("modwasmtest{}x{}", std::process::id(), free_port()),
            port: free_port(),
        };
        run(Command::new("cp")
            .args(["-a", "/etc/apache2"])
            .arg(instance.confdir()));
        std::fs::write(
            instance.confdir().join("ports.conf"),
            format!("Listen 127.0.0.1:{}\n", instance.port),
        )
        .unwrap();
        std::fs::create_dir_all(instance.log_dir()).unwrap();
        // The default site is the machine's, for port 80: this instance has its own.
        instance.tool("a2dissite", &["000-default"]);
        instance
    }

    fn confdir(&self) -> PathBuf {
        PathBuf::from(format!("/etc/apache2-{}", self.name))
    }

    fn log_dir(&self) -> PathBuf {
        PathBuf::from(format!("/var/log/apache2-{}", self.name))
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.log_dir().join("error.log")).unwrap_or_default()
    }

    /// Runs one of Debian's Apache tools (`apache2ctl`, `a2enmod`, …) on this instance.
    fn tool(&self, tool: &str, args: &[&str]) -> String {
        run(Command::new(tool)
            .args(args)
            .env("APACHE_CONFDIR", self.confdir()))
    }

    fn add_site(&self, name: &str, conf: &str) {
        std::fs::write(
            self.confdir().join(format!("sites-available/{name}.conf")),
            conf,
        )
        .unwrap();
        self.tool("a2ensite", &[name]);
    }

    fn start(&self) {
        self.tool("apache2ctl", &["-k", "start"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Apache did not listen on {}:\n{}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid_file(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/apache2-{}/apache2.pid", self.name))
    }

    fn stop(&self) {
        let pid = std::fs::read_to_string(self.pid_file()).unwrap_or_default();
        let _ = Command::new("apache2ctl")
            .args(["-k", "stop"])
            .env("APACHE_CONFDIR", self.confdir())
            .output();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pid_file().exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.pid_file().exists() && !pid.trim().is_empty() {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).output();
        }
    }

    fn get(&self, path: &str) -> mod_wasm_tests::Response {
        Request::new(self.port, "GET", path).send()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(self.confdir());
        let _ = std::fs::remove_dir_all(self.log_dir());
        let _ = std::fs::remove_dir_all(format!("/var/run/apache2-{}", self.name));
        let _ = std::fs::remove_dir_all(format!("/var/lock/apache2-{}", self.name));
    }
}

fn mode_and_group(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (metadata.mode() & 0o7777, metadata.gid())
}

fn www_data_gid() -> u32 {
    let group = run(Command::new("getent").args(["group", "www-data"]));
    group.split(':').nth(2).unwrap().trim().parse().unwrap()
}

#[test]
fn the_package_installs_serves_every_runtime_and_removes_cleanly() {
    if !running_as_root() {
        eprintln!("skipped: installing a Debian package needs root");
        return;
    }
    assert_eq!(
        package_status(),
        None,
        "{PACKAGE} is already on this machine: the test installs and purges its own, so remove it first"
    );
    let build = Build::under_test();
    let scratch = Scratch::new();

    // The package, from the module under test.
    let printed = run(Command::new(workspace_root().join("scripts/package"))
        .arg("--module")
        .arg(mod_wasm_tests::module_so()));
    let deb = printed
        .lines()
        .find_map(|line| line.strip_prefix("MOD_WASM_DEB="))
        .unwrap_or_else(|| panic!("scripts/package printed no MOD_WASM_DEB:\n{printed}"))
        .to_owned();

    // Its dependencies are computed from what the module links: the C library always, and
    // WasmEdge's library exactly when WasmEdge is built in.
    let depends = run(Command::new("dpkg-deb").args(["-f", &deb, "Depends"]));
    for needed in ["libc6", "apache2-api-20120211", "apache2-bin"] {
        assert!(depends.contains(needed), "Depends: {depends}");
    }
    assert_eq!(
        depends.contains("libwasmedge0"),
        build.names().contains(&"wasmedge"),
        "Depends: {depends}"
    );

    // Lintian: no error and no warning that debian/*.lintian-overrides does not explain.
    let lintian = run(Command::new("lintian").args(["--fail-on", "error,warning", &deb]));
    assert!(
        !lintian
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "{lintian}"
    );

    let _installed = Installed;
    apt_get(&["install", &deb]);
    assert_eq!(package_status().as_deref(), Some("install ok installed"));
    assert!(Path::new("/usr/lib/apache2/modules/mod_wasm.so").is_file());
    // Enabled on install, the Debian way (dh_apache2's maintainer scripts).
    assert!(
        Path::new("/etc/apache2/mods-enabled/wasm.load").exists(),
        "installing did not enable the module"
    );
    // The cache of compiled code: root's, read by the children's group, written by nobody else.
    assert_eq!(mode_and_group(Path::new(CACHE)), (0o750, www_data_gid()));

    // A site with a location per runtime, served by Debian's configuration.
    let instance = Instance::copy_of_etc_apache2();
    let enabled = instance.tool("a2enmod", &["wasm"]);
    assert!(enabled.contains("already enabled"), "{enabled}");
    let module = scratch.file("hello.wasm", std::fs::read(guest("hello")).unwrap());
    let mut site = format!("<VirtualHost 127.0.0.1:{}>\n", instance.port);
    for runtime in build.names() {
        site += &format!(
            "  <Location /hello/{runtime}>\n    SetHandler wasm-handler\n    WasmRuntime {runtime}\n    WasmModule {}\n    WasmEnableCGI On\n  </Location>\n",
            module.display()
        );
    }
    site += "</VirtualHost>\n";
    instance.add_site("wasm-hello", &site);
    instance.start();
    for runtime in build.names() {
        let response = instance.get(&format!("/hello/{runtime}"));
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "Hello from WebAssembly!\n"),
            "{runtime}\n{}",
            instance.error_log()
        );
    }
    // Runtimes that keep compiled code kept it where the package's wasm.conf says.
    if build.built_in.iter().any(|r| r.caches_compiled_code) {
        let entries = std::fs::read_dir(CACHE).unwrap().count();
        assert!(entries > 0, "nothing compiled was kept in {CACHE}");
    }
    instance.stop();
    drop(instance);

    // Removed: the configuration files stay, nothing else; Apache still starts.
    apt_get(&["remove", PACKAGE]);
    assert_eq!(
        package_status().as_deref(),
        Some("deinstall ok config-files")
    );
    assert!(!Path::new("/usr/lib/apache2/modules/mod_wasm.so").exists());
    assert!(!Path::new("/etc/apache2/mods-enabled/wasm.load").exists());
    assert!(!Path::new("/etc/apache2/mods-enabled/wasm.conf").exists());
    assert!(Path::new("/etc/apache2/mods-available/wasm.load").exists());
    assert!(Path::new("/etc/apache2/mods-available/wasm.conf").exists());
    assert!(!Path::new(CACHE).exists(), "{CACHE} outlived the module");
    let after = Instance::copy_of_etc_apache2();
    after.tool("apache2ctl", &["-t"]);
    after.start();
    assert_eq!(
        after.get("/hello/wasmtime").status,
        404,
        "{}",
        after.error_log()
    );
    drop(after);

    // Purged: nothing left.
    apt_get(&["purge", PACKAGE]);
    assert_eq!(package_status(), None);
    for file in ["wasm.load", "wasm.conf"] {
        assert!(!Path::new("/etc/apache2/mods-available").join(file).exists());
    }
    assert!(!Path::new(CACHE).exists());
}
