//! Compiled modules kept on disk, so a server start reuses the work of the previous one.
//!
//! An entry is keyed by everything that determines the compiled code: the runtime's name, its
//! [`Runtime::artifact_key`] (engine version and settings) and the module's bytes; runtimes
//! without an artifact key are not cached. Entries are written to a temporary file and renamed
//! into place, so concurrent writers and readers never see a partial entry, and carry a
//! checksum, so a damaged file is recompiled rather than handed to an engine.

use runtime_api::{Precompiled, Runtime};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What every entry starts with, followed by the SHA-256 of the rest.
const MAGIC: &[u8] = b"mod_wasm compiled module v1\n";

/// A directory of compiled modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactCache {
    dir: PathBuf,
}

/// Where an entry lives, for one module under one runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    runtime: &'static str,
    path: PathBuf,
}

impl ArtifactCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for `wasm` compiled by `runtime`, or `None` if the runtime's output must not
    /// be kept (it has no [`Runtime::artifact_key`]).
    pub fn entry(&self, runtime: &dyn Runtime, wasm: &[u8]) -> Option<CacheEntry> {
        let artifact_key = runtime.artifact_key()?;
        let mut hash = Sha256::new();
        for part in [runtime.name().as_bytes(), artifact_key.as_bytes()] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        hash.update(wasm);
        let name = format!("{}-{}.bin", runtime.name(), hex(&hash.finalize()));
        Some(CacheEntry {
            runtime: runtime.name(),
            path: self.dir.join(name),
        })
    }
}

impl CacheEntry {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The compiled module stored here: `Ok(None)` when there is none, an error when the entry
    /// exists but cannot be read or is damaged.
    pub fn load(&self) -> io::Result<Option<Precompiled>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let damaged = || io::Error::new(io::ErrorKind::InvalidData, "damaged cache entry");
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(damaged)?;
        let (checksum, artifact) = rest.split_at_checked(32).ok_or_else(damaged)?;
        if Sha256::digest(artifact).as_slice() != checksum {
            return Err(damaged());
        }
        Ok(Some(Precompiled::new(self.runtime, artifact)))
    }

    /// Holds the entry's lock for as long as the returned file is open: of the processes that
    /// need the same module compiled at once (children compiling at their first request, two
    /// servers starting), one compiles and stores it while the others wait, then load it.
    ///
    /// The lock file stays. Whoever creates it makes it readable to all, so that the children,
    /// which run as another user than the parent, can open it: a read-only descriptor can be
    /// locked.
    pub fn lock(&self) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path.with_extension("lock");
        let file = match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new(".")))?;
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o644)
                    .open(&path)?
            }
            opened => opened?,
        };
        file.lock()?;
        Ok(file)
    }

    /// Stores `precompiled`, creating the cache directory if needed. The entry is readable by
    /// everyone who can enter the directory: Apache's children read what its parent wrote.
    pub fn store(&self, precompiled: &Precompiled) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::Builder::new()
            .prefix(".incomplete-")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)?;
        let artifact = precompiled.bytes();
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(artifact))?;
        file.write_all(artifact)?;
        file.as_file().sync_all()?;
        file.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeRuntime;

    fn cached(key: &'static str) -> FakeRuntime {
        FakeRuntime::new("fake").with_artifact_key(key)
    }

    #[test]
    fn a_stored_artifact_is_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().join("cache"));
        let runtime = cached("v1");
        let entry = cache.entry(&runtime, b"module").unwrap();
        assert_eq!(entry.load().unwrap(), None);
        let compiled = runtime.compile(b"\0asm native code").unwrap();
        entry.store(&compiled).unwrap();
        assert_eq!(entry.load().unwrap(), Some(compiled));
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().starts_with(".incomplete"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn entries_differ_by_module_and_engine_version() {
        let cache = ArtifactCache::new("/cache");
        let (v1, v2) = (cached("v1"), cached("v2"));
        let a = cache.entry(&v1, b"module a").unwrap();
        assert_eq!(a, cache.entry(&v1, b"module a").unwrap());
        assert_ne!(a, cache.entry(&v1, b"module b").unwrap());
        assert_ne!(a, cache.entry(&v2, b"module a").unwrap());
        assert_eq!(a.path().parent(), Some(Path::new("/cache")));
        let name = a.path().file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("fake-") && name.ends_with(".bin"),
            "{name}"
        );
    }

    #[test]
    fn one_process_at_a_time_holds_an_entrys_lock() {
        let dir = tempfile::tempdir().unwrap();
        let entry = ArtifactCache::new(dir.path().join("cache"))
            .entry(&cached("v1"), b"module")
            .unwrap();
        let held = entry.lock().unwrap();
        let acquired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (entry, acquired) = (entry.clone(), acquired.clone());
            std::thread::spawn(move || {
                // A second open of the lock file conflicts as another process's would.
                let _lock = entry.lock().unwrap();
                acquired.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!acquired.load(std::sync::atomic::Ordering::SeqCst));
        drop(held);
        waiter.join().unwrap();
        assert!(acquired.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn runtimes_without_an_artifact_key_are_not_cached() {
        let cache = ArtifactCache::new("/cache");
        assert_eq!(cache.entry(&FakeRuntime::new("fake"), b"module"), None);
    }

    #[test]
    fn a_damaged_entry_is_an_error_not_an_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path());
        let runtime = cached("v1");
        let entry = cache.entry(&runtime, b"module").unwrap();
        entry
            .store(&runtime.compile(b"\0asm native code").unwrap())
            .unwrap();
        let mut bytes = std::fs::read(entry.path()).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(entry.path(), &bytes).unwrap();
        let error = entry.load().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        std::fs::write(entry.path(), b"short").unwrap();
        assert!(entry.load().is_err());
    }
}
