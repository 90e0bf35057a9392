//! The per-section configuration that mod_wasm's directives build, how nested sections merge,
//! and how a merged configuration becomes an [`ExecutionConfig`].
//!
//! Nothing here touches Apache: directive handlers convert their arguments and call the setters
//! below, which validate and return a message Apache shows as a syntax error.
//!
//! Merge rules (an inner section over an outer one, server config < virtual host < sections):
//! - single values (`WasmModule`, `WasmRuntime`, `WasmEnableCGI`, `WasmMapCGIFileNames`,
//!   `WasmEntryPoint`): the inner section's value if it sets one, else the outer one's;
//! - `WasmArg`: arguments are positional, so an inner section that sets any replaces the whole
//!   list;
//! - `WasmEnv`: accumulates by name, an inner value replacing an outer one of the same name;
//! - `WasmDir` / `WasmMapDir`: accumulate by guest path, an inner mapping replacing an outer one
//!   for the same guest path;
//! - `WasmAllowConnect`: accumulates; a section cannot take away what an outer one grants
//!   (as with `WasmDir`, grant in the narrowest section that needs it).

use runtime_api::{
    Access, Capability, ConnectGrant, EntryPoint, ExecutionConfig, GuestPath, Outbound, Preopen,
    Registry, Runtime,
};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The runtime used where no `WasmRuntime` applies.
pub const DEFAULT_RUNTIME: &str = "wasmtime";

/// Where a directive was written: enough for an admin to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    /// The enclosing section as written, e.g. `<Location /app>`, or `server config`.
    pub section: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.section, self.file, self.line)
    }
}

/// A value together with the directive that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared<T> {
    pub value: T,
    pub origin: Origin,
}

/// What mod_wasm's directives set in one configuration section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionConfig {
    pub module: Option<Declared<PathBuf>>,
    /// The runtime's canonical name, as registered.
    pub runtime: Option<Declared<&'static str>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub dirs: Vec<Preopen>,
    /// `WasmAllowConnect` grants, each with the directive that made it.
    pub connect: Vec<Declared<ConnectGrant>>,
    pub enable_cgi: Option<bool>,
    pub map_cgi_filenames: Option<bool>,
    pub entry_point: Option<EntryPoint>,
}

/// Parses the optional access keyword of `WasmDir` and `WasmMapDir`.
pub fn parse_access(word: Option<&str>) -> Result<Access, String> {
    match word.map(str::to_ascii_lowercase).as_deref() {
        None | Some("rw") | Some("readwrite") => Ok(Access::ReadWrite),
        Some("ro") | Some("readonly") => Ok(Access::ReadOnly),
        Some(other) => Err(format!(
            "unknown access '{other}'; use 'ro' (read-only) or 'rw' (read-write, the default)"
        )),
    }
}

/// The server-wide `WasmCacheDir`: where compiled modules are kept between starts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, allow(dead_code))]
pub enum CacheDirSetting {
    /// No directive: a directory under Apache's runtime directory.
    Default,
    /// `WasmCacheDir /path` (resolved against ServerRoot by the directive).
    Dir(PathBuf),
    /// `WasmCacheDir off`: compile at every start.
    Off,
}

impl CacheDirSetting {
    /// Parses `WasmCacheDir`'s argument; `resolve` turns a relative path into an absolute one.
    pub fn parse(
        word: &str,
        resolve: impl FnOnce(&str) -> Result<PathBuf, String>,
    ) -> Result<Self, String> {
        if word.eq_ignore_ascii_case("off") {
            Ok(Self::Off)
        } else if word.is_empty() {
            Err("expects a directory or 'off'".to_owned())
        } else {
            resolve(word).map(Self::Dir)
        }
    }
}

/// Checks that `path` is a readable file holding a WebAssembly core module.
///
/// This is the cheap check done when the directive is read; compiling happens once the whole
/// configuration is known (the runtime may be chosen by a later directive or an outer section).
pub fn check_module_file(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut header = [0u8; 8];
    let read = file
        .read(&mut header)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    match header {
        _ if read < 8 || header[..4] != *b"\0asm" => Err(format!(
            "{shown} is not a WebAssembly module (it does not start with the \\0asm header)"
        )),
        [_, _, _, _, 1, 0, 0, 0] => Ok(()),
        [_, _, _, _, _, _, 1, 0] => Err(format!(
            "{shown} is a WebAssembly component; mod_wasm runs core modules (WASI preview1)"
        )),
        _ => Err(format!(
            "{shown} has an unsupported WebAssembly binary version"
        )),
    }
}

fn check_host_dir(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", path.display())),
        Err(e) => Err(format!("cannot use directory {}: {e}", path.display())),
    }
}

impl SectionConfig {
    /// `WasmModule path` (the path already resolved against ServerRoot).
    pub fn set_module(&mut self, path: PathBuf, origin: Origin) -> Result<(), String> {
        check_module_file(&path)?;
        self.module = Some(Declared {
            value: path,
            origin,
        });
        Ok(())
    }

    /// `WasmRuntime name`.
    pub fn set_runtime(
        &mut self,
        name: &str,
        registry: &Registry,
        origin: Origin,
    ) -> Result<(), String> {
        let runtime = registry.get(name).map_err(|e| e.to_string())?;
        self.runtime = Some(Declared {
            value: runtime.name(),
            origin,
        });
        Ok(())
    }

    /// `WasmArg arg`: appends to this section's argument list.
    pub fn add_arg(&mut self, arg: &str) {
        self.args.get_or_insert_with(Vec::new).push(arg.to_owned());
    }

    /// `WasmEnv name value`.
    pub fn set_env(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(format!(
                "invalid environment variable name '{name}' (it must be non-empty and contain no '=')"
            ));
        }
        set_by_key(&mut self.env, (name.to_owned(), value.to_owned()), |e| &e.0);
        Ok(())
    }

    /// `WasmDir dir [ro|rw]`: the host directory under the same path in the guest.
    pub fn add_dir(&mut self, dir: &str, access: Access) -> Result<(), String> {
        let guest = GuestPath::new(dir).map_err(|_| {
            format!(
                "'{dir}' must be an absolute path (it is the directory's path in the guest too)"
            )
        })?;
        self.add_preopen(guest, PathBuf::from(dir), access)
    }

    /// `WasmMapDir guest host [ro|rw]` (`host` already resolved against ServerRoot).
    pub fn map_dir(&mut self, guest: &str, host: PathBuf, access: Access) -> Result<(), String> {
        let guest = GuestPath::new(guest).map_err(|e| e.to_string())?;
        self.add_preopen(guest, host, access)
    }

    fn add_preopen(
        &mut self,
        guest: GuestPath,
        host: PathBuf,
        access: Access,
    ) -> Result<(), String> {
        check_host_dir(&host)?;
        set_by_key(
            &mut self.dirs,
            Preopen {
                guest,
                host,
                access,
            },
            |p| &p.guest,
        );
        Ok(())
    }

    /// `WasmAllowConnect host:port`.
    pub fn allow_connect(&mut self, grant: &str, origin: Origin) -> Result<(), String> {
        let grant = ConnectGrant::parse(grant).map_err(|e| e.to_string())?;
        add_grant(
            &mut self.connect,
            Declared {
                value: grant,
                origin,
            },
        );
        Ok(())
    }

    /// Checks that `runtime` can honour what this configuration grants; the error names the
    /// directive and the runtimes that could.
    pub fn check_capabilities(
        &self,
        runtime: &dyn Runtime,
        registry: &Registry,
    ) -> Result<(), String> {
        let Some(grant) = self.connect.first() else {
            return Ok(());
        };
        let capability = Capability::OutboundSockets;
        if runtime.capabilities().has(capability) {
            return Ok(());
        }
        let capable: Vec<&str> = registry
            .iter()
            .filter(|r| r.capabilities().has(capability))
            .map(|r| r.name())
            .collect();
        let alternatives = if capable.is_empty() {
            "no runtime built into this mod_wasm can".to_owned()
        } else {
            format!("use WasmRuntime {}", capable.join(" or "))
        };
        Err(format!(
            "WasmAllowConnect {} in {}: runtime {} cannot open connections ({capability}); {alternatives}",
            grant.value,
            grant.origin,
            runtime.name()
        ))
    }

    /// `WasmEntryPoint name`.
    pub fn set_entry_point(&mut self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("the entry point name must not be empty".to_owned());
        }
        self.entry_point = Some(EntryPoint::new(name));
        Ok(())
    }

    /// `inner` nested in (or applied after) `outer`; see the module documentation.
    pub fn merge(outer: &Self, inner: &Self) -> Self {
        let mut env = outer.env.clone();
        for entry in &inner.env {
            set_by_key(&mut env, entry.clone(), |e| &e.0);
        }
        let mut dirs = outer.dirs.clone();
        for preopen in &inner.dirs {
            set_by_key(&mut dirs, preopen.clone(), |p| &p.guest);
        }
        let mut connect = outer.connect.clone();
        for grant in &inner.connect {
            add_grant(&mut connect, grant.clone());
        }
        Self {
            module: inner.module.clone().or_else(|| outer.module.clone()),
            runtime: inner.runtime.clone().or_else(|| outer.runtime.clone()),
            args: inner.args.clone().or_else(|| outer.args.clone()),
            env,
            dirs,
            connect,
            enable_cgi: inner.enable_cgi.or(outer.enable_cgi),
            map_cgi_filenames: inner.map_cgi_filenames.or(outer.map_cgi_filenames),
            entry_point: inner
                .entry_point
                .clone()
                .or_else(|| outer.entry_point.clone()),
        }
    }

    pub fn runtime_name(&self) -> &'static str {
        self.runtime.as_ref().map_or(DEFAULT_RUNTIME, |r| r.value)
    }

    pub fn cgi_enabled(&self) -> bool {
        self.enable_cgi.unwrap_or(false)
    }

    pub fn maps_cgi_filenames(&self) -> bool {
        self.map_cgi_filenames.unwrap_or(false)
    }

    /// The sandbox this configuration grants, before any per-request variables: argv\[0\] is the
    /// module's file name, followed by the `WasmArg`s.
    pub fn execution_config(&self) -> ExecutionConfig {
        let argv0 = self
            .module
            .as_ref()
            .and_then(|m| m.value.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        ExecutionConfig {
            args: std::iter::once(argv0)
                .chain(self.args.iter().flatten().cloned())
                .collect(),
            env: self.env.clone(),
            preopens: self.dirs.clone(),
            entry_point: self.entry_point.clone().unwrap_or_default(),
            outbound: Outbound::new(
                self.connect
                    .iter()
                    .map(|grant| grant.value.clone())
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

/// Adds `grant` unless the same grant is already there (where it was first written is kept).
fn add_grant(grants: &mut Vec<Declared<ConnectGrant>>, grant: Declared<ConnectGrant>) {
    if !grants.iter().any(|existing| existing.value == grant.value) {
        grants.push(grant);
    }
}

/// Replaces the element with the same key as `item`, or appends it.
fn set_by_key<T, K: PartialEq + ?Sized>(list: &mut Vec<T>, item: T, key: impl Fn(&T) -> &K) {
    match list.iter_mut().find(|existing| key(existing) == key(&item)) {
        Some(existing) => *existing = item,
        None => list.push(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn wasm_cache_dir_takes_a_directory_or_off() {
        let resolve = |p: &str| Ok(Path::new("/srv").join(p));
        assert_eq!(
            CacheDirSetting::parse("Off", resolve),
            Ok(CacheDirSetting::Off)
        );
        assert_eq!(
            CacheDirSetting::parse("cache", resolve),
            Ok(CacheDirSetting::Dir("/srv/cache".into()))
        );
        assert!(CacheDirSetting::parse("", resolve).is_err());
    }

    fn origin(line: u32) -> Origin {
        Origin {
            file: "test.conf".into(),
            line,
            section: "<Location /t>".into(),
        }
    }

    fn wasm_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn module_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = wasm_file(dir.path(), "good.wasm", EMPTY_MODULE);
        let text = wasm_file(dir.path(), "text.wasm", b"hello, not wasm");
        let component = wasm_file(dir.path(), "c.wasm", b"\0asm\x0d\0\x01\0");
        let short = wasm_file(dir.path(), "short.wasm", b"\0as");

        let mut config = SectionConfig::default();
        assert!(config.set_module(good.clone(), origin(1)).is_ok());
        assert_eq!(config.module.as_ref().unwrap().value, good);

        let err = config.set_module(text, origin(2)).unwrap_err();
        assert!(err.contains("not a WebAssembly module"), "{err}");
        let err = config.set_module(component, origin(3)).unwrap_err();
        assert!(err.contains("component"), "{err}");
        let err = config.set_module(short, origin(4)).unwrap_err();
        assert!(err.contains("not a WebAssembly module"), "{err}");
        let err = config
            .set_module(dir.path().join("missing.wasm"), origin(5))
            .unwrap_err();
        assert!(
            err.contains("cannot open") && err.contains("missing.wasm"),
            "{err}"
        );
        let err = config
            .set_module(dir.path().to_owned(), origin(6))
            .unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        // A failed directive leaves the earlier value alone.
        assert_eq!(config.module.unwrap().origin.line, 1);
    }

    #[test]
    fn dirs_must_exist_and_be_absolute_in_the_guest() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().to_str().unwrap();
        let mut config = SectionConfig::default();
        assert!(config.add_dir(host, Access::ReadWrite).is_ok());
        let err = config
            .add_dir("relative/dir", Access::ReadWrite)
            .unwrap_err();
        assert!(err.contains("absolute"), "{err}");
        let err = config
            .add_dir(&format!("{host}/missing"), Access::ReadWrite)
            .unwrap_err();
        assert!(err.contains("missing"), "{err}");

        let err = config
            .map_dir("data", dir.path().into(), Access::ReadOnly)
            .unwrap_err();
        assert!(err.contains("relative"), "{err}");
        let err = config
            .map_dir("/data", dir.path().join("missing"), Access::ReadOnly)
            .unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let file = wasm_file(dir.path(), "f", b"");
        let err = config.map_dir("/f", file, Access::ReadOnly).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn access_keywords() {
        assert_eq!(parse_access(None), Ok(Access::ReadWrite));
        assert_eq!(parse_access(Some("RO")), Ok(Access::ReadOnly));
        assert_eq!(parse_access(Some("readonly")), Ok(Access::ReadOnly));
        assert_eq!(parse_access(Some("rw")), Ok(Access::ReadWrite));
        assert!(parse_access(Some("wo")).is_err());
    }

    #[test]
    fn env_names_are_validated_and_unique() {
        let mut config = SectionConfig::default();
        config.set_env("A", "1").unwrap();
        config.set_env("B", "2").unwrap();
        config.set_env("A", "3").unwrap();
        assert_eq!(
            config.env,
            vec![("A".into(), "3".into()), ("B".into(), "2".into())]
        );
        assert!(config.set_env("", "x").is_err());
        assert!(config.set_env("A=B", "x").is_err());
    }

    #[test]
    fn runtimes_are_looked_up() {
        let registry = builtin_runtimes::registry();
        let mut config = SectionConfig::default();
        let err = config
            .set_runtime("nonesuch", &registry, origin(1))
            .unwrap_err();
        assert!(err.contains("unknown runtime 'nonesuch'"), "{err}");
        assert_eq!(config.runtime_name(), DEFAULT_RUNTIME);
        #[cfg(feature = "wasmtime")]
        {
            config
                .set_runtime("WASMTIME", &registry, origin(2))
                .unwrap();
            assert_eq!(config.runtime_name(), "wasmtime");
        }
    }

    #[test]
    fn entry_point_must_be_named() {
        let mut config = SectionConfig::default();
        assert!(config.set_entry_point("").is_err());
        config.set_entry_point("run").unwrap();
        assert_eq!(config.execution_config().entry_point.as_str(), "run");
        assert_eq!(
            SectionConfig::default()
                .execution_config()
                .entry_point
                .as_str(),
            "_start"
        );
    }

    fn preopen(guest: &str, host: &Path, access: Access) -> Preopen {
        Preopen {
            guest: GuestPath::new(guest).unwrap(),
            host: host.to_owned(),
            access,
        }
    }

    #[test]
    fn single_values_inner_wins_else_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let outer_wasm = wasm_file(dir.path(), "outer.wasm", EMPTY_MODULE);
        let inner_wasm = wasm_file(dir.path(), "inner.wasm", EMPTY_MODULE);
        let mut outer = SectionConfig::default();
        outer.set_module(outer_wasm.clone(), origin(1)).unwrap();
        outer.enable_cgi = Some(true);
        outer.set_entry_point("outer").unwrap();
        let mut inner = SectionConfig {
            map_cgi_filenames: Some(true),
            enable_cgi: Some(false),
            ..Default::default()
        };

        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(merged.module.as_ref().unwrap().value, outer_wasm);
        assert!(!merged.cgi_enabled());
        assert!(merged.maps_cgi_filenames());
        assert_eq!(merged.entry_point.as_ref().unwrap().as_str(), "outer");

        inner.set_module(inner_wasm.clone(), origin(9)).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(merged.module.unwrap().value, inner_wasm);
    }

    #[test]
    fn args_are_replaced_as_a_whole() {
        let mut outer = SectionConfig::default();
        outer.add_arg("--outer");
        outer.add_arg("1");
        let mut inner = SectionConfig::default();
        assert_eq!(
            SectionConfig::merge(&outer, &inner).args,
            Some(vec!["--outer".into(), "1".into()])
        );
        inner.add_arg("--inner");
        assert_eq!(
            SectionConfig::merge(&outer, &inner).args,
            Some(vec!["--inner".into()])
        );
    }

    #[test]
    fn env_accumulates_by_name() {
        let mut outer = SectionConfig::default();
        outer.set_env("A", "outer").unwrap();
        outer.set_env("B", "outer").unwrap();
        let mut inner = SectionConfig::default();
        inner.set_env("B", "inner").unwrap();
        inner.set_env("C", "inner").unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(
            merged.env,
            vec![
                ("A".into(), "outer".into()),
                ("B".into(), "inner".into()),
                ("C".into(), "inner".into())
            ]
        );
    }

    #[test]
    fn dirs_accumulate_by_guest_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut outer = SectionConfig::default();
        outer
            .map_dir("/data", a.path().into(), Access::ReadWrite)
            .unwrap();
        outer
            .map_dir("/tmp", a.path().into(), Access::ReadWrite)
            .unwrap();
        let mut inner = SectionConfig::default();
        inner
            .map_dir("/data", b.path().into(), Access::ReadOnly)
            .unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(
            merged.dirs,
            vec![
                preopen("/data", b.path(), Access::ReadOnly),
                preopen("/tmp", a.path(), Access::ReadWrite)
            ]
        );
    }

    #[test]
    fn merging_nothing_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SectionConfig::default();
        config
            .set_module(wasm_file(dir.path(), "m.wasm", EMPTY_MODULE), origin(1))
            .unwrap();
        config.add_arg("x");
        config.set_env("K", "V").unwrap();
        let empty = SectionConfig::default();
        assert_eq!(SectionConfig::merge(&config, &empty), config);
        assert_eq!(SectionConfig::merge(&empty, &config), config);
    }

    #[test]
    fn execution_config_starts_argv_with_the_module_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SectionConfig::default();
        config
            .set_module(wasm_file(dir.path(), "app.wasm", EMPTY_MODULE), origin(1))
            .unwrap();
        config.add_arg("--flag");
        config.set_env("K", "V").unwrap();
        let exec = config.execution_config();
        assert_eq!(exec.args, vec!["app.wasm".to_owned(), "--flag".to_owned()]);
        assert_eq!(exec.env, vec![("K".to_owned(), "V".to_owned())]);
    }

    #[test]
    fn connect_grants_are_parsed_when_read() {
        let mut config = SectionConfig::default();
        let err = config.allow_connect("db", origin(1)).unwrap_err();
        assert!(err.contains("no port"), "{err}");
        assert!(config.allow_connect("db:99999", origin(1)).is_err());
        config.allow_connect("DB.local:3306", origin(2)).unwrap();
        config.allow_connect("db.local:3306", origin(3)).unwrap();
        assert_eq!(config.connect.len(), 1, "the same grant twice is one grant");
        assert_eq!(config.connect[0].origin.line, 2);
        assert_eq!(
            config.execution_config().outbound.grants(),
            [ConnectGrant::parse("db.local:3306").unwrap()]
        );
        assert!(SectionConfig::default()
            .execution_config()
            .outbound
            .is_empty());
    }

    #[test]
    fn connect_grants_accumulate() {
        let mut outer = SectionConfig::default();
        outer.allow_connect("127.0.0.1:3306", origin(1)).unwrap();
        let mut inner = SectionConfig::default();
        inner.allow_connect("127.0.0.1:6379", origin(2)).unwrap();
        inner.allow_connect("127.0.0.1:3306", origin(3)).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        let grants: Vec<String> = merged.connect.iter().map(|g| g.value.to_string()).collect();
        assert_eq!(grants, ["127.0.0.1:3306", "127.0.0.1:6379"]);
    }

    #[cfg(all(feature = "wasmtime", feature = "wasmer"))]
    #[test]
    fn connect_grants_need_a_runtime_with_sockets() {
        let registry = builtin_runtimes::registry();
        let mut config = SectionConfig::default();
        let wasmtime = registry.get("wasmtime").unwrap();
        let wasmer = registry.get("wasmer").unwrap();
        config.check_capabilities(wasmtime, &registry).unwrap();
        config.allow_connect("127.0.0.1:3306", origin(7)).unwrap();
        config.check_capabilities(wasmer, &registry).unwrap();
        let err = config.check_capabilities(wasmtime, &registry).unwrap_err();
        assert!(
            err.starts_with("WasmAllowConnect 127.0.0.1:3306 in <Location /t> (test.conf:7): runtime wasmtime cannot open connections"),
            "{err}"
        );
        assert!(err.contains("use WasmRuntime "), "{err}");
        assert!(err.contains("wasmer"), "{err}");
    }
}
