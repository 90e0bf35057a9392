//! Compiled and loaded modules, shared between every location that names the same file.
//!
//! Two tiers, because Apache configures in a parent process and serves from forked children:
//! - compiled: artifacts produced while the configuration is checked, in the parent. Plain
//!   bytes; kept across configuration reloads and reused while the file is unchanged, and kept
//!   on disk (`WasmCacheDir`) across server starts for runtimes whose output can be cached.
//! - loaded: modules made runnable in this process, created on first use after the fork.
//!
//! Under `WasmCompile background`, what the cache lacks is compiled by a process of its own
//! ([`background`]) while the server serves; such a module is pending, and each process
//! loads it from the cache once it is there.

mod background;
mod snapshot;

use crate::artifact_cache::{ArtifactCache, CacheEntry};
use runtime_api::sync::lock;
use runtime_api::{InitConfig, LoadedModule, Precompiled, Preinitializer, RunAs, Runtime};
use snapshot::Seen;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One module file under one runtime, as it is or as its init leaves it (`WasmPreinit`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModuleKey {
    pub runtime: &'static str,
    pub path: PathBuf,
    /// The init whose snapshot runs instead of the file's module.
    pub init: Option<Init>,
}

/// The init of a module under `WasmPreinit`, as part of what identifies the module that runs:
/// two inits that see the same things make the same snapshot, whatever limits bound them. So
/// sections that differ only in `WasmTimeout` or `WasmMemoryLimit` share one snapshot, made
/// under the limits of the first that needs it, and a request whose merged configuration
/// changes only its limits does not make a snapshot of its own.
#[derive(Clone, Debug)]
pub struct Init(pub InitConfig);

impl Init {
    /// What the init sees: everything it is configured with but its limits.
    fn sees(&self) -> impl PartialEq + std::hash::Hash + '_ {
        // Destructured so that a field added to `InitConfig` is a decision here.
        let InitConfig {
            export,
            args,
            env,
            dirs,
            limits: _,
        } = &self.0;
        (export, args, env, dirs)
    }
}

impl PartialEq for Init {
    fn eq(&self, other: &Self) -> bool {
        self.sees() == other.sees()
    }
}

impl Eq for Init {}

impl std::hash::Hash for Init {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sees().hash(state)
    }
}

impl fmt::Display for ModuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let preinit = if self.init.is_some() {
            " (pre-initialised)"
        } else {
            ""
        };
        write!(
            f,
            "{}{preinit} with runtime {}",
            self.path.display(),
            self.runtime
        )
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

/// What a module's code is made from, as far as it can be told without reading it: the file,
/// and for a snapshot what its init could see.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SourceStamp {
    file: FileStamp,
    seen: Option<Seen>,
}

impl SourceStamp {
    fn of(key: &ModuleKey) -> Result<Self, String> {
        Ok(Self {
            file: FileStamp::of(&key.path)
                .map_err(|e| format!("cannot read {}: {e}", key.path.display()))?,
            seen: key
                .init
                .as_ref()
                .map(|init| Seen::of(&init.0))
                .transpose()?,
        })
    }
}

struct Artifact {
    stamp: SourceStamp,
    precompiled: Precompiled,
}

/// The modules of this process: compiled in it (the parent) or inherited from it, and loaded.
#[derive(Default)]
pub struct ModuleStore {
    compiled: Mutex<HashMap<ModuleKey, Artifact>>,
    disk: Mutex<Option<ArtifactCache>>,
    loaded: Mutex<HashMap<ModuleKey, Arc<dyn LoadedModule>>>,
    /// Modules that could not be compiled when a running server restarted and have no earlier
    /// code to run instead, with the reason: they are not used until the next configuration
    /// read.
    unavailable: Mutex<HashMap<ModuleKey, String>>,
    /// Modules compiled in the background, with the cache entry their code will be in.
    pending: Mutex<HashMap<ModuleKey, CacheEntry>>,
    /// What makes the snapshots of modules under `WasmPreinit`, if this build can.
    preinitializer: Option<Arc<dyn Preinitializer>>,
    /// Whom inits run as: the user that serves requests, when it is not this process's.
    inits_run_as: Mutex<Option<RunAs>>,
}

/// What [`ModuleStore::compile_in_background`] did.
pub enum Background {
    /// Nothing to wait for: the code was in memory or in the cache.
    Ready(Obtained),
    /// A process of its own compiles the module (started now, or earlier and still at it),
    /// of `bytes` bytes, into the cache entry at `cached_at`; what was wrong with the entry
    /// there, if anything.
    Compiling {
        bytes: u64,
        cached_at: PathBuf,
        cache_problem: Option<String>,
    },
}

/// Why [`ModuleStore::load`] has no module to run.
#[derive(Debug, PartialEq, Eq)]
pub enum NotLoaded {
    /// It is being compiled in the background.
    Compiling,
    /// It cannot be compiled or loaded, for this reason.
    Failed(String),
}

impl fmt::Display for NotLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotLoaded::Compiling => f.write_str("it is still being compiled in the background"),
            NotLoaded::Failed(reason) => f.write_str(reason),
        }
    }
}

/// How an artifact was obtained.
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

/// A compilation as it happens, for whoever waits for it: compiling a large module (an
/// interpreter) takes minutes with some runtimes, and nobody should wait without knowing why.
/// Not reported for an artifact that is reused or read from the on-disk cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileStep<'a> {
    /// About to run the init of a module of `bytes` bytes, and snapshot it (`WasmPreinit`).
    Preinitializing { bytes: u64 },
    /// About to compile a module of `bytes` bytes, whose code will be kept at `cached_at`
    /// (`None`: not kept across starts).
    Started {
        bytes: u64,
        cached_at: Option<&'a Path>,
    },
    /// Compiled a module of `bytes` bytes in `took`; its code was kept at `cached_at`, when
    /// the on-disk cache took it.
    Finished {
        bytes: u64,
        took: Duration,
        cached_at: Option<&'a Path>,
    },
}

impl CompileStep<'_> {
    /// The size of the module being compiled.
    pub fn bytes(&self) -> u64 {
        match self {
            CompileStep::Preinitializing { bytes }
            | CompileStep::Started { bytes, .. }
            | CompileStep::Finished { bytes, .. } => *bytes,
        }
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

impl ModuleStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The on-disk cache of the configuration, if it has one.
    pub fn disk_cache(&self) -> Option<ArtifactCache> {
        lock(&self.disk).clone()
    }

    /// The modules of the configuration, each with whether this process has loaded it.
    pub fn modules(&self) -> Vec<(ModuleKey, bool)> {
        let loaded = lock(&self.loaded);
        let mut modules: Vec<(ModuleKey, bool)> = lock(&self.compiled)
            .keys()
            .map(|key| (key.clone(), loaded.contains_key(key)))
            .collect();
        // Those the check could not foresee, loaded here only.
        for key in loaded.keys() {
            if !modules.iter().any(|(known, _)| known == key) {
                modules.push((key.clone(), true));
            }
        }
        modules.sort_by(|a, b| (&a.0.path, a.0.runtime).cmp(&(&b.0.path, b.0.runtime)));
        modules
    }

    /// Sets the on-disk cache for the configuration being checked (`None`: no cache).
    pub fn use_disk_cache(&self, cache: Option<ArtifactCache>) {
        *lock(&self.disk) = cache;
    }

    /// The store that makes the snapshots of modules under `WasmPreinit` with
    /// `preinitializer`, when there is one.
    pub fn with_preinitializer(self, preinitializer: Option<Arc<dyn Preinitializer>>) -> Self {
        Self {
            preinitializer,
            ..self
        }
    }

    /// Runs the inits of `WasmPreinit` as `run_as`: the user that serves requests, when the
    /// configuration is read by another (root). `None`: as this process.
    pub fn run_inits_as(&self, run_as: Option<RunAs>) {
        *lock(&self.inits_run_as) = run_as;
    }

    /// The WebAssembly `key` compiles, read now: the file's module, or its snapshot. Also
    /// returns a problem with the on-disk cache worth a warning.
    fn source(
        &self,
        key: &ModuleKey,
        stamp: &SourceStamp,
        progress: &mut dyn FnMut(CompileStep),
    ) -> Result<(Vec<u8>, Option<String>), String> {
        let wasm = std::fs::read(&key.path)
            .map_err(|e| format!("cannot read {}: {e}", key.path.display()))?;
        let (Some(init), Some(seen)) = (&key.init, stamp.seen) else {
            return Ok((wasm, None));
        };
        let preinitializer = self
            .preinitializer
            .as_deref()
            .ok_or("this mod_wasm cannot pre-initialise modules")?;
        let cache = lock(&self.disk).clone();
        let run_as = *lock(&self.inits_run_as);
        let made_by = snapshot::MadeBy {
            preinitializer,
            run_as,
        };
        snapshot::obtain(&wasm, &init.0, seen, &made_by, cache.as_ref(), progress)
    }

    /// Compiles `key.path` with `runtime` unless an artifact for the unchanged file exists, in
    /// memory or in the on-disk cache.
    pub fn compile(&self, key: &ModuleKey, runtime: &dyn Runtime) -> Result<Obtained, String> {
        self.compile_reporting(key, runtime, &mut |_| {})
    }

    /// [`compile`](Self::compile), telling `progress` when a compilation starts and ends.
    pub fn compile_reporting(
        &self,
        key: &ModuleKey,
        runtime: &dyn Runtime,
        progress: &mut dyn FnMut(CompileStep),
    ) -> Result<Obtained, String> {
        let stamp = SourceStamp::of(key)?;
        if let Some(artifact) = lock(&self.compiled).get(key) {
            if artifact.stamp == stamp {
                return Ok(Obtained {
                    precompiled: artifact.precompiled.clone(),
                    provenance: Provenance::Reused,
                    cache_problem: None,
                });
            }
        }
        let (wasm, mut cache_problem) = self.source(key, &stamp, progress)?;
        let (entry, writable) = match lock(&self.disk).as_ref() {
            Some(cache) => (cache.entry(runtime, &wasm), cache.writable()),
            None => (None, false),
        };
        let mut cached = None;
        if let Some(entry) = &entry {
            match entry.load() {
                Ok(found) => cached = found,
                Err(e) => {
                    cache_problem = Some(format!(
                        "cannot use the cached {}: {e}; compiling it again",
                        entry.path().display()
                    ))
                }
            }
        }
        // Compiling for the cache: whoever else needs this entry waits, and then loads it. A
        // process that may not write the cache (a child serving as another user) compiles
        // for itself.
        let mut compiling = None;
        if let (Some(entry), None, true) = (&entry, &cached, writable) {
            match entry.lock() {
                Ok(lock) => {
                    compiling = Some(lock);
                    cached = entry.load().ok().flatten();
                }
                Err(e) => {
                    cache_problem = Some(format!(
                        "cannot lock {}: {e}; compiling it without waiting for others",
                        entry.path().display()
                    ))
                }
            }
        }
        let (precompiled, provenance) = match cached {
            Some(precompiled) => (precompiled, Provenance::Cached),
            None => {
                let started = Instant::now();
                progress(CompileStep::Started {
                    bytes: wasm.len() as u64,
                    cached_at: entry
                        .as_ref()
                        .filter(|_| writable)
                        .map(|entry| entry.path()),
                });
                let mut precompiled = runtime.compile(&wasm).map_err(|e| e.to_string())?;
                let mut cached_at = None;
                if let Some(entry) = entry.as_ref().filter(|_| writable) {
                    match entry.store(&precompiled) {
                        Ok(stored) => {
                            precompiled = stored;
                            cached_at = Some(entry.path());
                        }
                        Err(e) => {
                            cache_problem = Some(format!(
                                "cannot write {}: {e}; the module will be compiled again at the next start",
                                entry.path().display()
                            ))
                        }
                    }
                }
                progress(CompileStep::Finished {
                    bytes: wasm.len() as u64,
                    took: started.elapsed(),
                    cached_at,
                });
                (precompiled, Provenance::Compiled)
            }
        };
        drop(compiling);
        lock(&self.compiled).insert(
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

    /// Whether [`compile_in_background`](Self::compile_in_background) can hand code over:
    /// there is an on-disk cache, and this process writes it.
    pub fn can_compile_in_background(&self) -> bool {
        lock(&self.disk)
            .as_ref()
            .is_some_and(ArtifactCache::writable)
    }

    /// Obtains the code for `key` like [`compile`](Self::compile) when it is in memory or in
    /// the cache, and otherwise has a process of its own compile it into the cache while this
    /// one goes on: the module is pending until then. Needs a cache this process writes.
    pub fn compile_in_background(
        &self,
        key: &ModuleKey,
        runtime: &dyn Runtime,
    ) -> Result<Background, String> {
        let stamp = SourceStamp::of(key)?;
        let reused = lock(&self.compiled)
            .get(key)
            .filter(|artifact| artifact.stamp == stamp)
            .map(|artifact| artifact.precompiled.clone());
        if let Some(precompiled) = reused {
            return Ok(Background::Ready(Obtained {
                precompiled,
                provenance: Provenance::Reused,
                cache_problem: None,
            }));
        }
        let (wasm, mut cache_problem) = self.source(key, &stamp, &mut |_| {})?;
        let entry = lock(&self.disk)
            .as_ref()
            .filter(|cache| cache.writable())
            .and_then(|cache| cache.entry(runtime, &wasm))
            .ok_or("its runtime's code cannot be cached, or the cache cannot be written")?;
        match entry.load() {
            Ok(Some(precompiled)) => {
                lock(&self.compiled).insert(
                    key.clone(),
                    Artifact {
                        stamp,
                        precompiled: precompiled.clone(),
                    },
                );
                return Ok(Background::Ready(Obtained {
                    precompiled,
                    provenance: Provenance::Cached,
                    cache_problem: None,
                }));
            }
            Ok(None) => {}
            Err(e) => {
                cache_problem = Some(format!(
                    "cannot use the cached {}: {e}; compiling it again",
                    entry.path().display()
                ))
            }
        }
        lock(&self.compiled).remove(key);
        background::compile(&entry, runtime, wasm.clone(), key.to_string())?;
        let cached_at = entry.path().to_owned();
        lock(&self.pending).insert(key.clone(), entry);
        Ok(Background::Compiling {
            bytes: wasm.len() as u64,
            cached_at,
            cache_problem,
        })
    }

    /// Drops artifacts the current configuration no longer uses.
    pub fn retain(&self, in_use: &[ModuleKey]) {
        lock(&self.compiled).retain(|key, _| in_use.contains(key));
        lock(&self.pending).retain(|key, _| in_use.contains(key));
    }

    /// Whether code compiled earlier is kept for `key`, whatever the file holds now.
    pub fn has_artifact(&self, key: &ModuleKey) -> bool {
        lock(&self.compiled).contains_key(key)
    }

    /// Takes `key` out of service until the next configuration read, for `reason`.
    pub fn set_unavailable(&self, key: &ModuleKey, reason: String) {
        lock(&self.unavailable).insert(key.clone(), reason);
    }

    /// Why `key` is out of service, if it is.
    pub fn unavailable(&self, key: &ModuleKey) -> Option<String> {
        lock(&self.unavailable).get(key).cloned()
    }

    /// Puts every module back in service, before a configuration read decides again.
    pub fn clear_unavailable(&self) {
        lock(&self.unavailable).clear();
    }

    /// The module for `key`, loaded into this process on first use (compiled first if the
    /// configuration check could not foresee this module/runtime pair).
    pub fn load(&self, key: &ModuleKey, runtime: &dyn Runtime) -> Result<Loaded, NotLoaded> {
        let mut loaded = lock(&self.loaded);
        if let Some(module) = loaded.get(key) {
            return Ok(Loaded {
                module: module.clone(),
                first_use: None,
                cache_problem: None,
            });
        }
        let inherited = lock(&self.compiled)
            .get(key)
            .map(|artifact| artifact.precompiled.clone());
        let pending = lock(&self.pending).get(key).cloned();
        let obtained = match (inherited, pending) {
            (Some(precompiled), _) => Obtained {
                precompiled,
                provenance: Provenance::Reused,
                cache_problem: None,
            },
            (None, Some(entry)) => Obtained {
                precompiled: background::outcome(&entry)?,
                provenance: Provenance::Cached,
                cache_problem: None,
            },
            (None, None) => self.compile(key, runtime).map_err(NotLoaded::Failed)?,
        };
        let mut cache_problem = obtained.cache_problem;
        let mut precompiled = obtained.precompiled;
        // Code mapped from the cache is shared with the other children; a file changed since
        // it was checked is not mapped, and this child keeps a copy of its own.
        if let Some(Err(e)) = precompiled.file().map(|file| file.open()) {
            cache_problem = Some(format!(
                "cannot share the compiled code of the cache: {e}; this process keeps its own copy"
            ));
            precompiled = precompiled.in_memory_only();
        }
        let module = runtime
            .load(&precompiled)
            .map_err(|e| NotLoaded::Failed(e.to_string()))?;
        loaded.insert(key.clone(), module.clone());
        Ok(Loaded {
            module,
            first_use: Some(obtained.provenance),
            cache_problem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{write_file, FakeRuntime, LoadedFrom, EMPTY_MODULE};

    fn module(dir: &Path, name: &str) -> ModuleKey {
        ModuleKey {
            runtime: "fake",
            path: write_file(dir, name, EMPTY_MODULE),
            init: None,
        }
    }

    #[test]
    fn an_unchanged_file_is_compiled_once_and_a_changed_one_again() {
        let dir = tempfile::tempdir().unwrap();
        let key = module(dir.path(), "app.wasm");
        let runtime = FakeRuntime::new("fake");
        let store = ModuleStore::new();
        assert_eq!(
            store.compile(&key, &runtime).unwrap().provenance,
            Provenance::Compiled
        );
        assert_eq!(
            store.compile(&key, &runtime).unwrap().provenance,
            Provenance::Reused
        );
        std::fs::write(&key.path, [EMPTY_MODULE, b"more"].concat()).unwrap();
        assert_eq!(
            store.compile(&key, &runtime).unwrap().provenance,
            Provenance::Compiled
        );
        assert_eq!(runtime.compiles(), 2);
    }

    #[test]
    fn the_disk_cache_serves_a_second_store() {
        let dir = tempfile::tempdir().unwrap();
        let key = module(dir.path(), "app.wasm");
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        for expected in [Provenance::Compiled, Provenance::Cached] {
            let store = ModuleStore::new();
            store.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
            let obtained = store.compile(&key, &runtime).unwrap();
            assert_eq!(obtained.provenance, expected);
            assert!(obtained.cache_problem.is_none());
        }
        assert_eq!(runtime.compiles(), 1);
    }

    /// Loads `key` again and again while it is being compiled, for up to a minute.
    fn load_once_compiled(
        store: &ModuleStore,
        key: &ModuleKey,
        runtime: &FakeRuntime,
    ) -> Result<Loaded, NotLoaded> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match store.load(key, runtime) {
                Err(NotLoaded::Compiling) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                outcome => return outcome,
            }
        }
    }

    #[test]
    fn a_module_compiled_in_the_background_is_loaded_from_the_cache_once_there() {
        let dir = tempfile::tempdir().unwrap();
        let key = module(dir.path(), "app.wasm");
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        let store = ModuleStore::new();
        store.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
        assert!(store.can_compile_in_background());
        let Background::Compiling { cached_at, .. } =
            store.compile_in_background(&key, &runtime).unwrap()
        else {
            panic!("nothing to compile")
        };
        assert_eq!(runtime.compiles(), 0, "compiled by another process");
        let loaded = load_once_compiled(&store, &key, &runtime).unwrap();
        assert_eq!(loaded.first_use, Some(Provenance::Cached));
        assert!(cached_at.exists());
        // The next configuration read finds it in the cache.
        let again = ModuleStore::new();
        again.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
        assert!(matches!(
            again.compile_in_background(&key, &runtime),
            Ok(Background::Ready(Obtained {
                provenance: Provenance::Cached,
                ..
            }))
        ));
    }

    #[test]
    fn a_module_that_cannot_be_compiled_in_the_background_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let key = ModuleKey {
            runtime: "fake",
            path: write_file(dir.path(), "broken.wasm", b"not wasm"),
            init: None,
        };
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        let store = ModuleStore::new();
        store.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
        store.compile_in_background(&key, &runtime).unwrap();
        let Err(NotLoaded::Failed(reason)) = load_once_compiled(&store, &key, &runtime) else {
            panic!("loaded a module that cannot be compiled")
        };
        assert!(reason.contains("no \\0asm header"), "{reason}");
    }

    #[test]
    fn a_process_that_may_not_write_the_cache_compiles_for_itself() {
        let dir = tempfile::tempdir().unwrap();
        let key = module(dir.path(), "app.wasm");
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        let cache_dir = dir.path().join("cache");
        std::fs::create_dir(&cache_dir).unwrap();
        let store = ModuleStore::new();
        // A child serving as another user than the one that writes the cache.
        let writer = crate::artifact_cache::effective_user().wrapping_add(1);
        store.use_disk_cache(Some(ArtifactCache::written_by(&cache_dir, writer)));
        let obtained = store.compile(&key, &runtime).unwrap();
        assert_eq!(obtained.provenance, Provenance::Compiled);
        assert!(obtained.precompiled.file().is_none(), "kept in memory");
        let written: Vec<_> = std::fs::read_dir(&cache_dir).unwrap().collect();
        assert!(written.is_empty(), "{written:?}");
    }

    #[test]
    fn children_load_the_cache_file_while_it_is_the_one_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (module(dir.path(), "a.wasm"), module(dir.path(), "b.wasm"));
        std::fs::write(&second.path, [EMPTY_MODULE, b"b"].concat()).unwrap();
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        let store = ModuleStore::new();
        store.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
        store.compile(&first, &runtime).unwrap();
        let obtained = store.compile(&second, &runtime).unwrap();
        let entry = obtained.precompiled.file().unwrap().path().to_owned();

        assert!(store
            .load(&first, &runtime)
            .unwrap()
            .cache_problem
            .is_none());
        // The second entry is replaced after the check: this process keeps its own copy.
        let replacement = dir.path().join("replacement");
        std::fs::copy(&entry, &replacement).unwrap();
        std::fs::rename(&replacement, &entry).unwrap();
        let loaded = store.load(&second, &runtime).unwrap();
        let problem = loaded.cache_problem.unwrap();
        assert!(problem.contains("keeps its own copy"), "{problem}");
        assert_eq!(runtime.loaded_from(), [LoadedFrom::File, LoadedFrom::Bytes]);
    }

    #[test]
    fn loading_reuses_what_the_check_compiled_and_compiles_what_it_did_not() {
        let dir = tempfile::tempdir().unwrap();
        let checked = module(dir.path(), "checked.wasm");
        let unforeseen = module(dir.path(), "unforeseen.wasm");
        let runtime = FakeRuntime::new("fake");
        let store = ModuleStore::new();
        store.compile(&checked, &runtime).unwrap();
        let first = store.load(&checked, &runtime).unwrap();
        assert_eq!(first.first_use, Some(Provenance::Reused));
        assert_eq!(store.load(&checked, &runtime).unwrap().first_use, None);
        let lazy = store.load(&unforeseen, &runtime).unwrap();
        assert_eq!(lazy.first_use, Some(Provenance::Compiled));
        assert_eq!(runtime.compiles(), 2);
    }

    #[test]
    fn retain_forgets_what_the_configuration_no_longer_uses() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, dropped) = (module(dir.path(), "a.wasm"), module(dir.path(), "b.wasm"));
        let runtime = FakeRuntime::new("fake");
        let store = ModuleStore::new();
        store.compile(&kept, &runtime).unwrap();
        store.compile(&dropped, &runtime).unwrap();
        store.retain(std::slice::from_ref(&kept));
        assert_eq!(
            store.compile(&kept, &runtime).unwrap().provenance,
            Provenance::Reused
        );
        assert_eq!(
            store.compile(&dropped, &runtime).unwrap().provenance,
            Provenance::Compiled
        );
    }

    /// Snapshots a module by appending a mark, and counts how often it did.
    #[derive(Default)]
    struct FakePreinitializer(std::sync::atomic::AtomicUsize);

    impl Preinitializer for FakePreinitializer {
        fn version(&self) -> String {
            "fake 1".into()
        }
        fn preinitialize(
            &self,
            wasm: &[u8],
            _: &InitConfig,
            _: Option<RunAs>,
        ) -> Result<Vec<u8>, runtime_api::PreinitError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok([wasm, b"snapshot"].concat())
        }
    }

    fn preinit_key(dir: &Path, data: &Path) -> ModuleKey {
        let run = runtime_api::ExecutionConfig {
            preopens: vec![crate::testing::preopen(
                "/data",
                data,
                runtime_api::Access::ReadWrite,
            )],
            ..Default::default()
        };
        ModuleKey {
            init: Some(Init(InitConfig::for_runs(
                runtime_api::InitExport::Conventional,
                &run,
            ))),
            ..module(dir, "app.wasm")
        }
    }

    #[test]
    fn a_snapshot_is_kept_and_made_again_when_what_its_init_saw_changed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        let file = write_file(&data.join("sub"), "greeting.txt", b"hello");
        let key = preinit_key(dir.path(), &data);
        let runtime = FakeRuntime::new("fake").with_artifact_key("v1");
        let preinitializer = Arc::new(FakePreinitializer::default());
        let snapshots = || preinitializer.0.load(std::sync::atomic::Ordering::Relaxed);
        let store = |expected: Provenance| {
            let store = ModuleStore::new().with_preinitializer(Some(preinitializer.clone()));
            store.use_disk_cache(Some(ArtifactCache::new(dir.path().join("cache"))));
            assert_eq!(store.compile(&key, &runtime).unwrap().provenance, expected);
            store
        };
        let first = store(Provenance::Compiled);
        assert_eq!(snapshots(), 1);
        // The code compiled is the snapshot's.
        let loaded = first.load(&key, &runtime).unwrap();
        assert!(loaded.first_use.is_some());
        // Another server start: the snapshot and its code come from the cache.
        store(Provenance::Cached);
        assert_eq!(snapshots(), 1);
        // A file deep in a granted directory changed: a new snapshot (the fake's is the same
        // module again, whose code is in the cache).
        std::fs::write(&file, b"hello again").unwrap();
        store(Provenance::Cached);
        assert_eq!(snapshots(), 2);
        // The same module without WasmPreinit is not snapshotted.
        let plain = ModuleKey {
            init: None,
            ..key.clone()
        };
        ModuleStore::new()
            .with_preinitializer(Some(preinitializer.clone()))
            .compile(&plain, &runtime)
            .unwrap();
        assert_eq!(snapshots(), 2);
    }

    #[test]
    fn inits_that_differ_only_in_their_limits_share_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let key = preinit_key(dir.path(), dir.path());
        let mut bounded = key.clone();
        let limits = &mut bounded.init.as_mut().unwrap().0.limits;
        limits.timeout = Duration::from_secs(600);
        limits.memory = runtime_api::MemorySize::from_mib(1024);
        assert_eq!(bounded, key);
        let preinitializer = Arc::new(FakePreinitializer::default());
        let store = ModuleStore::new().with_preinitializer(Some(preinitializer.clone()));
        let runtime = FakeRuntime::new("fake");
        assert_eq!(
            store.compile(&key, &runtime).unwrap().provenance,
            Provenance::Compiled
        );
        assert_eq!(
            store.compile(&bounded, &runtime).unwrap().provenance,
            Provenance::Reused
        );
        assert_eq!(
            preinitializer.0.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // What the init sees is another snapshot's.
        let mut other = key.clone();
        other.init.as_mut().unwrap().0.env = vec![("MODE".into(), "other".into())];
        assert_ne!(other, key);
        store.compile(&other, &runtime).unwrap();
        assert_eq!(
            preinitializer.0.load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }

    #[test]
    fn a_store_without_a_preinitializer_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let key = preinit_key(dir.path(), dir.path());
        let err = ModuleStore::new()
            .compile(&key, &FakeRuntime::new("fake"))
            .err()
            .unwrap();
        assert_eq!(err, "this mod_wasm cannot pre-initialise modules");
    }
}
