//! Compiled and loaded modules, shared between every location that names the same file.
//!
//! Two tiers, because Apache configures in a parent process and serves from forked children:
//! - [`Compiled`]: artifacts produced while the configuration is checked, in the parent. Plain
//!   bytes; kept across configuration reloads and reused while the file is unchanged, and kept
//!   on disk (`WasmCacheDir`) across server starts for runtimes whose output can be cached.
//! - [`loaded`]: modules made runnable in this process, created on first use after the fork.

use runtime_api::{ArtifactCache, LoadedModule, Precompiled, Runtime};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

/// One module file under one runtime.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModuleKey {
    pub runtime: &'static str,
    pub path: PathBuf,
}

impl fmt::Display for ModuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with runtime {}", self.path.display(), self.runtime)
    }
}

/// What identifies a file's contents without reading it: a changed file gets recompiled.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path)?;
        Ok(Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode: metadata.ino(),
        })
    }
}

struct Artifact {
    stamp: FileStamp,
    precompiled: Precompiled,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Artifacts compiled in this process (the parent) or inherited from it.
#[derive(Default)]
pub struct Compiled {
    artifacts: Mutex<HashMap<ModuleKey, Artifact>>,
    disk: Mutex<Option<ArtifactCache>>,
}

/// How [`Compiled::compile`] obtained an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Compiled now.
    Compiled,
    /// Compiled earlier by this process or its parent.
    Reused,
    /// Read from the on-disk cache.
    Cached,
}

/// An artifact, how it was obtained, and a problem with the on-disk cache worth a warning
/// (the artifact is good regardless).
pub struct Obtained {
    pub precompiled: Precompiled,
    pub provenance: Provenance,
    pub cache_problem: Option<String>,
}

impl Compiled {
    pub fn global() -> &'static Compiled {
        static COMPILED: OnceLock<Compiled> = OnceLock::new();
        COMPILED.get_or_init(Compiled::default)
    }

    /// Sets the on-disk cache for the configuration being checked (`None`: no cache).
    pub fn use_disk_cache(&self, cache: Option<ArtifactCache>) {
        *lock(&self.disk) = cache;
    }

    /// Compiles `key.path` with `runtime` unless an artifact for the unchanged file exists, in
    /// memory or in the on-disk cache.
    pub fn compile(&self, key: &ModuleKey, runtime: &dyn Runtime) -> Result<Obtained, String> {
        let stamp = FileStamp::of(&key.path)
            .map_err(|e| format!("cannot read {}: {e}", key.path.display()))?;
        if let Some(artifact) = lock(&self.artifacts).get(key) {
            if artifact.stamp == stamp {
                return Ok(Obtained {
                    precompiled: artifact.precompiled.clone(),
                    provenance: Provenance::Reused,
                    cache_problem: None,
                });
            }
        }
        let wasm = std::fs::read(&key.path)
            .map_err(|e| format!("cannot read {}: {e}", key.path.display()))?;
        let entry = lock(&self.disk)
            .as_ref()
            .and_then(|cache| cache.entry(runtime, &wasm));
        let mut cache_problem = None;
        let mut obtained = None;
        if let Some(entry) = &entry {
            match entry.load() {
                Ok(Some(precompiled)) => obtained = Some((precompiled, Provenance::Cached)),
                Ok(None) => {}
                Err(e) => {
                    cache_problem = Some(format!(
                        "cannot use the cached {}: {e}; compiling it again",
                        entry.path().display()
                    ))
                }
            }
        }
        let (precompiled, provenance) = match obtained {
            Some(cached) => cached,
            None => {
                let precompiled = runtime.compile(&wasm).map_err(|e| e.to_string())?;
                if let Some(entry) = &entry {
                    if let Err(e) = entry.store(&precompiled) {
                        cache_problem = Some(format!(
                            "cannot write {}: {e}; the module will be compiled again at the next start",
                            entry.path().display()
                        ));
                    }
                }
                (precompiled, Provenance::Compiled)
            }
        };
        lock(&self.artifacts).insert(
            key.clone(),
            Artifact {
                stamp,
                precompiled: precompiled.clone(),
            },
        );
        Ok(Obtained {
            precompiled,
            provenance,
            cache_problem,
        })
    }

    /// The artifact for `key`, if one was compiled.
    pub fn get(&self, key: &ModuleKey) -> Option<Precompiled> {
        lock(&self.artifacts)
            .get(key)
            .map(|a| a.precompiled.clone())
    }

    /// Drops artifacts the current configuration no longer uses.
    pub fn retain(&self, in_use: &[ModuleKey]) {
        lock(&self.artifacts).retain(|key, _| in_use.contains(key));
    }
}

/// A module made runnable in this process, and how it got there.
pub struct Loaded {
    pub module: Arc<dyn LoadedModule>,
    /// `Some` when this call loaded it (the first use in this process).
    pub first_use: Option<Provenance>,
    /// A problem with the on-disk cache on first use, worth a warning.
    pub cache_problem: Option<String>,
}

/// The module for `key`, loaded into this process on first use (compiled first if the
/// configuration check could not foresee this module/runtime pair).
pub fn loaded(key: &ModuleKey, runtime: &dyn Runtime) -> Result<Loaded, String> {
    static LOADED: OnceLock<Mutex<HashMap<ModuleKey, Arc<dyn LoadedModule>>>> = OnceLock::new();
    let mut loaded = lock(LOADED.get_or_init(Default::default));
    if let Some(module) = loaded.get(key) {
        return Ok(Loaded {
            module: module.clone(),
            first_use: None,
            cache_problem: None,
        });
    }
    let compiled = Compiled::global();
    let obtained = match compiled.get(key) {
        Some(precompiled) => Obtained {
            precompiled,
            provenance: Provenance::Reused,
            cache_problem: None,
        },
        None => compiled.compile(key, runtime)?,
    };
    let module = runtime
        .load(&obtained.precompiled)
        .map_err(|e| e.to_string())?;
    loaded.insert(key.clone(), module.clone());
    Ok(Loaded {
        module,
        first_use: Some(obtained.provenance),
        cache_problem: obtained.cache_problem,
    })
}
