//! Server-wide settings: `WasmCacheDir`, where compiled modules are kept between server starts,
//! `WasmCompile`, whether the server waits for what that cache lacks, and `WasmStatistics`,
//! whether requests are counted for the status page.
//!
//! They are written in the main server config only. Apache creates a server configuration per
//! configuration read, so a directive removed from the configuration stops applying at the
//! next restart.

use crate::artifact_cache::ArtifactCache;
use crate::config_error::DirectiveError;
use crate::directive::{Applies, Args, Directive};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerConfig {
    pub cache_dir: CacheDir,
    pub compile: Compile,
    pub statistics: Counting,
}

/// `WasmCompile`: when a module missing from the cache is compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compile {
    /// Before the server starts, which waits for it: a module that cannot be compiled stops
    /// the start, where the admin sees it.
    #[default]
    Start,
    /// In a process of its own while the server starts and serves: each location answers 503
    /// with `Retry-After` until its code is in the cache. Needs a cache the configuration's
    /// reader can write; without one, modules are compiled at the start.
    Background,
}

pub const WASM_COMPILE: Directive = Directive {
    name: c"WasmCompile",
    help: c"start (default): compile what the cache lacks before the server starts; background: start at once, locations answering 503 until their code is compiled",
    applies: Applies::ToServer(Args::One(|config, _, word| {
        config.compile = if word.eq_ignore_ascii_case("start") {
            Compile::Start
        } else if word.eq_ignore_ascii_case("background") {
            Compile::Background
        } else {
            return Err(DirectiveError::invalid(
                word,
                "a time to compile: use 'start' or 'background'",
            ));
        };
        Ok(())
    })),
};

/// `WasmStatistics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Counting {
    /// Requests are counted for the status page (`SetHandler wasm-status`).
    #[default]
    On,
    /// They are not, which spares each request a few atomic additions to shared memory.
    Off,
}

pub const WASM_STATISTICS: Directive = Directive {
    name: c"WasmStatistics",
    help: c"On (default) or Off: whether requests are counted for the status page",
    applies: Applies::ToServer(Args::Flag(|config, _, on| {
        config.statistics = if on { Counting::On } else { Counting::Off };
        Ok(())
    })),
};

/// `WasmCacheDir`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// No directive: `mod_wasm-cache` under Apache's runtime directory.
    #[default]
    Default,
    /// `WasmCacheDir /path` (resolved against ServerRoot).
    Dir(PathBuf),
    /// `WasmCacheDir off`: compile at every start.
    Off,
}

pub const WASM_CACHE_DIR: Directive = Directive {
    name: c"WasmCacheDir",
    help: c"Directory for compiled modules reused across starts (default: under DefaultRuntimeDir), or off",
    applies: Applies::ToServer(Args::One(|config, site, word| {
        config.cache_dir = if word.eq_ignore_ascii_case("off") {
            CacheDir::Off
        } else if word.is_empty() {
            return Err(DirectiveError::invalid(word, "a directory or 'off'"));
        } else {
            CacheDir::Dir(site.server_root_relative(word)?)
        };
        Ok(())
    })),
};

/// The name of the default cache directory, under Apache's runtime directory
/// (`DefaultRuntimeDir`).
pub const DEFAULT_CACHE_DIR_NAME: &std::ffi::CStr = c"mod_wasm-cache";

impl ServerConfig {
    /// A virtual host's settings over the main server's. Server-wide settings are the main
    /// server's only, so the main server's apply.
    pub fn merge(main: &Self, _virtual_host: &Self) -> Self {
        main.clone()
    }
}

impl CacheDir {
    /// The cache this setting asks for, its directory created if needed: `default_dir` is the
    /// default's path, `children_group` the group Apache's children run as when it starts as
    /// root. The cache is written only by this process's user (the one that reads the
    /// configuration) and read by the children: native code from it runs in every child, so
    /// nobody else may be able to put a file there. A directory that cannot be prepared, or
    /// that others could write to, is a problem to report as a warning: modules are then
    /// compiled without a cache.
    pub fn prepare(
        &self,
        default_dir: impl FnOnce() -> Option<PathBuf>,
        children_group: Option<u32>,
    ) -> Result<Option<ArtifactCache>, String> {
        let dir = match self {
            CacheDir::Off => return Ok(None),
            CacheDir::Dir(dir) => dir.clone(),
            CacheDir::Default => default_dir().ok_or(
                "mod_wasm: no runtime directory for WasmCacheDir's default; compiled modules are \
                 not cached",
            )?,
        };
        create_or_trust(&dir, children_group)
            .map(|()| Some(ArtifactCache::new(&dir)))
            .map_err(|e| {
                format!(
                    "mod_wasm: WasmCacheDir {}: {e}; compiled modules are not cached",
                    dir.display()
                )
            })
    }
}

/// Creates `dir` if needed, or makes sure an existing one is safe to load code from. A
/// directory created here belongs to this process's user, with `children_group` (when given)
/// as its group so that the children can read it: mode 0750. An existing directory keeps the
/// owner and mode the admin gave it, but must belong to this process's user and be writable by
/// nobody else. Either way it must be writable now: failing here names the reason once,
/// instead of at every entry.
fn create_or_trust(dir: &Path, children_group: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.is_dir() {
        // Parents as any directory, the cache itself closed to other users.
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::DirBuilder::new().mode(0o750).create(dir)?;
        if let Some(group) = children_group {
            std::os::unix::fs::chown(dir, None, Some(group))?;
        }
    }
    let metadata = std::fs::metadata(dir)?;
    let user = crate::artifact_cache::effective_user();
    if metadata.uid() != user || metadata.mode() & 0o022 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "the directory belongs to uid {} with mode {:o}; the compiled code children run \
                 must come from a directory that only the user reading the configuration (uid \
                 {user}) can write to",
                metadata.uid(),
                metadata.mode() & 0o7777
            ),
        ));
    }
    let probe = dir.join(".writable");
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::TestSite;
    use crate::directive::{find, Applies, Args};
    use crate::testing::fake_registry;

    fn apply(config: &mut ServerConfig, word: &str) -> Result<(), DirectiveError> {
        let site = TestSite::new(fake_registry(&[]));
        let Applies::ToServer(Args::One(f)) = &find("WasmCacheDir").unwrap().applies else {
            panic!("WasmCacheDir takes one argument for the server")
        };
        f(config, &site, word)
    }

    #[test]
    fn wasm_cache_dir_takes_a_directory_or_off() {
        let mut config = ServerConfig::default();
        assert_eq!(config.cache_dir, CacheDir::Default);
        apply(&mut config, "Off").unwrap();
        assert_eq!(config.cache_dir, CacheDir::Off);
        apply(&mut config, "cache").unwrap();
        assert_eq!(config.cache_dir, CacheDir::Dir("/srv/cache".into()));
        let refused = apply(&mut config, "").unwrap_err();
        assert!(
            matches!(&refused, DirectiveError::Invalid { value, .. } if value.is_empty()),
            "{refused}"
        );
    }

    #[test]
    fn wasm_compile_is_start_or_background() {
        let site = TestSite::new(fake_registry(&[]));
        let Applies::ToServer(Args::One(f)) = &find("WasmCompile").unwrap().applies else {
            panic!("WasmCompile takes one argument for the server")
        };
        let mut config = ServerConfig::default();
        assert_eq!(config.compile, Compile::Start);
        f(&mut config, &site, "Background").unwrap();
        assert_eq!(config.compile, Compile::Background);
        f(&mut config, &site, "start").unwrap();
        assert_eq!(config.compile, Compile::Start);
        let refused = f(&mut config, &site, "later").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "'later' is not a time to compile: use 'start' or 'background'"
        );
    }

    #[test]
    fn requests_are_counted_unless_wasm_statistics_is_off() {
        let site = TestSite::new(fake_registry(&[]));
        let Applies::ToServer(Args::Flag(f)) = &find("WasmStatistics").unwrap().applies else {
            panic!("WasmStatistics is a flag of the server")
        };
        let mut config = ServerConfig::default();
        assert_eq!(config.statistics, Counting::On);
        f(&mut config, &site, false).unwrap();
        assert_eq!(config.statistics, Counting::Off);
        f(&mut config, &site, true).unwrap();
        assert_eq!(config.statistics, Counting::On);
    }

    #[test]
    fn a_new_cache_dir_is_closed_to_others_and_an_existing_one_must_be_too() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("a/cache");
        let cache = CacheDir::Dir(new.clone()).prepare(|| None, None).unwrap();
        assert_eq!(cache.unwrap().dir(), new);
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750);

        // The admin's own mode stays, as long as nobody else can write.
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        CacheDir::Dir(new.clone()).prepare(|| None, None).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);

        // A directory others can write to could be given code for every child.
        for open in [0o775, 0o777, 0o1777] {
            std::fs::set_permissions(&new, std::fs::Permissions::from_mode(open)).unwrap();
            let err = CacheDir::Dir(new.clone())
                .prepare(|| None, None)
                .unwrap_err();
            assert!(
                err.contains("only the user reading the configuration")
                    && err.ends_with("compiled modules are not cached"),
                "{open:o}: {err}"
            );
        }
    }

    #[test]
    fn the_default_needs_a_runtime_dir_and_off_needs_nothing() {
        let root = tempfile::tempdir().unwrap();
        let default = root.path().join("mod_wasm-cache");
        let cache = CacheDir::Default
            .prepare(|| Some(default.clone()), None)
            .unwrap();
        assert_eq!(cache.unwrap().dir(), default);
        let err = CacheDir::Default.prepare(|| None, None).unwrap_err();
        assert!(err.contains("no runtime directory"), "{err}");
        assert_eq!(CacheDir::Off.prepare(|| unreachable!(), None), Ok(None));
    }

    #[test]
    fn a_cache_that_cannot_be_created_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let err = CacheDir::Dir(file.join("cache"))
            .prepare(|| None, None)
            .unwrap_err();
        assert!(
            err.starts_with("mod_wasm: WasmCacheDir ")
                && err.ends_with("compiled modules are not cached"),
            "{err}"
        );
    }
}
