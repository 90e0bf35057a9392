//! Compiled modules kept on disk, so a server start reuses the work of the previous one.
//!
//! An entry is keyed by everything that determines the compiled code: the runtime's name, its
//! [`Runtime::artifact_key`] (engine version and settings) and the module's bytes; runtimes
//! without an artifact key are not cached.
//!
//! An entry is two files: the artifact exactly as the runtime produced it (`.bin`), so that
//! children can map it and share its pages, and its SHA-256 (`.sha256`), so that a damaged
//! artifact is recompiled rather than handed to an engine. Each is written to a temporary file
//! and renamed into place, the checksum first: concurrent writers and readers never see a
//! partial file, and a reader that sees a checksum of another compilation recompiles.
//!
//! The artifact is native code that every child runs, and the checksum says only that it is
//! whole, not who wrote it. So the cache is written by one user, the one that reads the
//! configuration (root, for a server started as root), and an entry is read only when that
//! user owns its files and nobody else can write them. Children that run as another user only
//! read it: a module they compile themselves stays in their memory.

use runtime_api::{ArtifactFile, Precompiled, Runtime};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Part of every entry's key: entries of another layout are never read as this one.
const LAYOUT: &[u8] = b"mod_wasm compiled module v2: artifact and .sha256";

/// A directory of compiled modules, and the user that writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactCache {
    dir: PathBuf,
    writer: u32,
}

/// Where an entry lives, for one module under one runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    runtime: &'static str,
    path: PathBuf,
    writer: u32,
}

/// The user this process acts as.
pub fn effective_user() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl ArtifactCache {
    /// The cache in `dir`, written by this process's user: made while the configuration is
    /// read, and inherited by the children Apache forks, which may run as another user.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            writer: effective_user(),
        }
    }

    /// Whether this process may add entries: it acts as the user that writes the cache.
    pub fn writable(&self) -> bool {
        effective_user() == self.writer
    }

    /// The cache in `dir` as a process acting as another user than `writer` sees it: a child
    /// that serves as another user than the one that read the configuration.
    #[cfg(test)]
    pub(crate) fn written_by(dir: impl Into<PathBuf>, writer: u32) -> Self {
        Self {
            dir: dir.into(),
            writer,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many compiled modules the cache holds, and their size in bytes.
    pub fn usage(&self) -> io::Result<(u64, u64)> {
        let mut usage = (0, 0);
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.path().extension().is_some_and(|e| e == "bin") {
                usage.0 += 1;
                usage.1 += entry.metadata()?.len();
            }
        }
        Ok(usage)
    }

    /// The entry for `wasm` compiled by `runtime`, or `None` if the runtime's output must not
    /// be kept (it has no [`Runtime::artifact_key`]).
    pub fn entry(&self, runtime: &dyn Runtime, wasm: &[u8]) -> Option<CacheEntry> {
        let artifact_key = runtime.artifact_key()?;
        Some(self.entry_of(runtime.name(), &[artifact_key.as_bytes()], wasm))
    }

    /// The entry for what `producer` makes of `input`, given everything else it depends on,
    /// `key`: a module's snapshot, say.
    pub fn entry_of(&self, producer: &'static str, key: &[&[u8]], input: &[u8]) -> CacheEntry {
        let mut hash = Sha256::new();
        for part in [LAYOUT, producer.as_bytes()].iter().chain(key) {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        hash.update(input);
        let name = format!("{producer}-{}.bin", hex(&hash.finalize()));
        CacheEntry {
            runtime: producer,
            path: self.dir.join(name),
            writer: self.writer,
        }
    }
}

impl CacheEntry {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The compiled module stored here, with its file: `Ok(None)` when there is none, an error
    /// when the entry exists but cannot be read, is damaged, or was not written by the
    /// cache's user alone.
    pub fn load(&self) -> io::Result<Option<Precompiled>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        self.trust(&self.path, &file)?;
        let mut artifact = Vec::new();
        file.read_to_end(&mut artifact)?;
        let damaged = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let checksum_path = self.checksum_path();
        let checksum = match File::open(&checksum_path) {
            Ok(mut checksum_file) => {
                self.trust(&checksum_path, &checksum_file)?;
                let mut checksum = String::new();
                checksum_file.read_to_string(&mut checksum)?;
                checksum
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(damaged("damaged cache entry: its checksum file is missing"))
            }
            Err(e) => return Err(e),
        };
        if checksum.trim_end() != hex(&Sha256::digest(&artifact)) {
            return Err(damaged("damaged cache entry: its checksum does not match"));
        }
        let stored = ArtifactFile::recorded(&self.path, &file)?;
        Ok(Some(
            Precompiled::new(self.runtime, artifact).stored_in(stored),
        ))
    }

    /// Holds the entry's lock for as long as the returned file is open: of the processes that
    /// need the same module compiled at once (children compiling at their first request, two
    /// servers starting), one compiles and stores it while the others wait, then load it.
    ///
    /// The lock file stays. Whoever creates it makes it readable to all, so that the children,
    /// which run as another user than the parent, can open it: a read-only descriptor can be
    /// locked.
    pub fn lock(&self) -> io::Result<File> {
        let file = self.lock_file()?;
        file.lock()?;
        Ok(file)
    }

    /// [`lock`](Self::lock) if no other process holds the lock; `None` if one does.
    pub fn try_lock(&self) -> io::Result<Option<File>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn lock_file(&self) -> io::Result<File> {
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
        Ok(file)
    }

    /// Stores `precompiled`, creating the cache directory if needed, and returns it with the
    /// file it is now stored in. The entry is readable by everyone who can enter the directory:
    /// Apache's children read what its parent wrote.
    pub fn store(&self, precompiled: &Precompiled) -> io::Result<Precompiled> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let artifact = precompiled.bytes();
        let checksum = format!("{}\n", hex(&Sha256::digest(artifact)));
        write_in_place(&self.checksum_path(), checksum.as_bytes())?;
        let file = write_in_place(&self.path, artifact)?;
        let stored = ArtifactFile::recorded(&self.path, &file)?;
        Ok(precompiled.in_memory_only().stored_in(stored))
    }

    /// Whether a process holds the entry's lock now (compiling it), without waiting for it.
    pub fn is_locked(&self) -> bool {
        let Ok(file) = File::open(self.path.with_extension("lock")) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }

    /// Records why the module could not be compiled, for the processes waiting for it.
    pub fn record_failure(&self, reason: &str) -> io::Result<()> {
        write_in_place(&self.failure_path(), reason.as_bytes()).map(drop)
    }

    /// Why the module could not be compiled, as recorded by the cache's user.
    pub fn failure(&self) -> Option<String> {
        let mut file = File::open(self.failure_path()).ok()?;
        self.trust(&self.failure_path(), &file).ok()?;
        let mut reason = String::new();
        file.read_to_string(&mut reason).ok()?;
        Some(reason)
    }

    /// Forgets an earlier failure, before trying again.
    pub fn clear_failure(&self) {
        let _ = std::fs::remove_file(self.failure_path());
    }

    fn failure_path(&self) -> PathBuf {
        self.path.with_extension("failed")
    }

    /// Refuses a file of the entry that the cache's user does not own, or that others can
    /// write: someone else could have put it there.
    fn trust(&self, path: &Path, file: &File) -> io::Result<()> {
        let metadata = file.metadata()?;
        if metadata.uid() == self.writer && metadata.mode() & 0o022 == 0 {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refused {}: it belongs to uid {} with mode {:o}, and only files of the user that \
                 writes the cache (uid {}), writable by it alone, are loaded",
                path.display(),
                metadata.uid(),
                metadata.mode() & 0o7777,
                self.writer
            ),
        ))
    }

    fn checksum_path(&self) -> PathBuf {
        self.path.with_extension("sha256")
    }
}

/// Writes `contents` to a new file and renames it to `path`, so that `path` is always either
/// absent or complete. Returns the file now at `path`.
fn write_in_place(path: &Path, contents: &[u8]) -> io::Result<File> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".incomplete-")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)
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
        let stored = entry.store(&compiled).unwrap();
        let loaded = entry.load().unwrap().unwrap();
        assert_eq!(loaded, compiled);
        // The file holds the artifact as it is, for engines to map.
        assert_eq!(std::fs::read(entry.path()).unwrap(), compiled.bytes());
        for precompiled in [&stored, &loaded] {
            let file = precompiled.file().expect("stored in the entry's file");
            assert_eq!(file.path(), entry.path());
            file.open().unwrap();
        }
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
    fn an_entry_someone_else_could_have_written_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path());
        let runtime = cached("v1");
        let entry = cache.entry(&runtime, b"module").unwrap();
        entry
            .store(&runtime.compile(b"\0asm native code").unwrap())
            .unwrap();
        assert!(entry.load().unwrap().is_some());
        let mode = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for file in [entry.path().to_owned(), entry.checksum_path()] {
            for open in [0o666, 0o664] {
                mode(&file, open);
                let error = entry.load().unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
                assert!(error.to_string().starts_with("refused "), "{error}");
            }
            mode(&file, 0o644);
        }
        assert!(entry.load().unwrap().is_some());
        // Files of another user than the one that writes the cache.
        let theirs = ArtifactCache::written_by(dir.path(), effective_user().wrapping_add(1));
        assert!(!theirs.writable());
        let error = theirs
            .entry(&runtime, b"module")
            .unwrap()
            .load()
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
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
        std::fs::remove_file(entry.path().with_extension("sha256")).unwrap();
        let error = entry.load().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("checksum file is missing"),
            "{error}"
        );
    }
}
