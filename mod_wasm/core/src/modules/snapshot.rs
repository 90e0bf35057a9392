//! The snapshot a module runs as under `WasmPreinit`: made by the build's
//! [`Preinitializer`] when the configuration is read, and kept in the on-disk cache.
//!
//! A snapshot depends on the module and on everything its init could see: its export, its
//! arguments and environment, and the directories granted to it, down to each file. So the
//! directories are walked, and every entry's path, size, time of modification and inode is part
//! of the snapshot's identity: a file changed, added or removed makes a new snapshot at the
//! next configuration read. A file changed in between (the server runs on) is not seen until
//! then, which is the point: its contents at the read are in the snapshot.

use crate::artifact_cache::ArtifactCache;
use runtime_api::{InitConfig, Preinitializer, RunAs};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What a module's init could see besides the module: its export, arguments, environment and
/// the state of every entry under its directories, as a digest. Not its limits: they bound
/// the making of a snapshot, and one that was made does not depend on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seen([u8; 32]);

/// The most entries the directories granted to an init may hold together: each is part of the
/// snapshot's identity, looked at every time the configuration is read.
const MOST_ENTRIES_SEEN: usize = 100_000;

impl Seen {
    pub(super) fn of(init: &InitConfig) -> Result<Self, String> {
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        part(init.export.to_string().as_bytes());
        for arg in &init.args {
            part(arg.as_bytes());
        }
        part(b"env");
        for (name, value) in &init.env {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        let mut entries = 0;
        for (guest, host) in &init.dirs {
            part(guest.as_str().as_bytes());
            part(host.as_os_str().as_encoded_bytes());
            entries += walk(host, &mut part, MOST_ENTRIES_SEEN - entries).ok_or_else(|| {
                format!(
                    "the directories granted to its init (WasmPreinit) hold more than {} \
                     entries, each part of what the snapshot depends on: grant it fewer",
                    MOST_ENTRIES_SEEN
                )
            })?;
        }
        Ok(Self(hash.finalize().into()))
    }
}

/// Feeds every entry under `dir` to `part`, in a stable order: its path relative to `dir` and
/// its metadata, or the error that hid it; returns how many there were, or `None` past `most`.
/// Symbolic links are not followed: the guest sees a link's target only when it stays inside a
/// granted directory, which is walked on its own.
fn walk(dir: &Path, part: &mut impl FnMut(&[u8]), most: usize) -> Option<usize> {
    let mut seen = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let mut entries: Vec<_> = match std::fs::read_dir(&current) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                part(current.as_os_str().as_encoded_bytes());
                part(e.to_string().as_bytes());
                continue;
            }
        };
        entries.sort();
        seen += entries.len();
        if seen > most {
            return None;
        }
        for path in entries {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            part(relative.as_os_str().as_encoded_bytes());
            match std::fs::symlink_metadata(&path) {
                Ok(metadata) => {
                    let modified = metadata.mtime() as i128 * 1_000_000_000
                        + i128::from(metadata.mtime_nsec());
                    part(&metadata.len().to_le_bytes());
                    part(&modified.to_le_bytes());
                    part(&metadata.ino().to_le_bytes());
                    part(&metadata.mode().to_le_bytes());
                    if metadata.is_dir() {
                        pending.push(path);
                    } else if metadata.is_symlink() {
                        if let Ok(target) = std::fs::read_link(&path) {
                            part(target.as_os_str().as_encoded_bytes());
                        }
                    }
                }
                Err(e) => part(e.to_string().as_bytes()),
            }
        }
    }
    Some(seen)
}

/// What makes a snapshot, and as whom its init runs: what it could read depends on it.
pub(super) struct MadeBy<'a> {
    pub(super) preinitializer: &'a dyn Preinitializer,
    pub(super) run_as: Option<RunAs>,
}

/// The snapshot of `wasm` after the init `init`, which could see `seen`: from `cache` when it
/// holds it, else made now (and kept there when this process writes the cache), which
/// `progress` is told first. Also returns a problem with the cache worth a warning.
pub(super) fn obtain(
    wasm: &[u8],
    init: &InitConfig,
    seen: Seen,
    made_by: &MadeBy,
    cache: Option<&ArtifactCache>,
    progress: &mut dyn FnMut(super::CompileStep),
) -> Result<(Vec<u8>, Option<String>), String> {
    let version = made_by.preinitializer.version();
    let run_as = format!("{:?}", made_by.run_as);
    let entry = cache.map(|cache| {
        let key: [&[u8]; 3] = [version.as_bytes(), run_as.as_bytes(), &seen.0];
        (cache.entry_of("snapshot", &key, wasm), cache.writable())
    });
    let mut problem = None;
    let mut held = None;
    if let Some((entry, writable)) = &entry {
        // Two servers starting at once snapshot once: the other waits, then reads it.
        if *writable {
            match entry.lock() {
                Ok(lock) => held = Some(lock),
                Err(e) => problem = Some(format!("cannot lock {}: {e}", entry.path().display())),
            }
        }
        match entry.load() {
            Ok(Some(snapshot)) => return Ok((snapshot.bytes().to_vec(), problem)),
            Ok(None) => {}
            Err(e) => {
                problem = Some(format!(
                    "cannot use the kept snapshot {}: {e}; making it again",
                    entry.path().display()
                ))
            }
        }
    }
    progress(super::CompileStep::Preinitializing {
        bytes: wasm.len() as u64,
    });
    let snapshot = made_by
        .preinitializer
        .preinitialize(wasm, init, made_by.run_as)
        .map_err(|e| format!("cannot pre-initialise it ({}): {e}", init.export))?;
    if let (Some((entry, true)), Some(_)) = (&entry, &held) {
        let made = runtime_api::Precompiled::new("snapshot", snapshot.as_slice());
        if let Err(e) = entry.store(&made) {
            problem = Some(format!(
                "cannot keep the snapshot in {}: {e}; it is made again at the next start",
                entry.path().display()
            ));
        }
    }
    Ok((snapshot, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_counts_every_entry_and_stops_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["a", "b", "sub/c", "sub/d"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let mut parts = 0;
        assert_eq!(walk(dir.path(), &mut |_| parts += 1, 5), Some(5));
        assert!(parts > 5, "each entry's path and metadata");
        assert_eq!(walk(dir.path(), &mut |_| {}, 4), None);
    }
}
