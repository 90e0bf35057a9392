//! Compiled code as it crosses from the process that compiles to the processes that run it.
//!
//! A [`Precompiled`] is always plain bytes, safe to keep across a fork. When the same bytes are
//! also in a file (the on-disk cache), it names that file too: a backend that can map compiled
//! code from a file then shares its pages with every other child that maps it, through the page
//! cache, instead of each child holding a private copy.

use crate::LoadError;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// The output of [`Runtime::compile`](crate::Runtime::compile): bytes only the runtime that
/// produced them understands, safe to keep across a fork and to share between processes.
#[derive(Clone)]
pub struct Precompiled {
    runtime: &'static str,
    bytes: Arc<[u8]>,
    file: Option<ArtifactFile>,
}

impl Precompiled {
    pub fn new(runtime: &'static str, bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            runtime,
            bytes: bytes.into(),
            file: None,
        }
    }

    /// The same artifact, known to be stored in `file` as well.
    pub fn stored_in(self, file: ArtifactFile) -> Self {
        Self {
            file: Some(file),
            ..self
        }
    }

    /// The same artifact, without the file it was stored in.
    pub fn in_memory_only(&self) -> Self {
        Self {
            file: None,
            ..self.clone()
        }
    }

    /// The name of the runtime that produced these bytes.
    pub fn runtime(&self) -> &'static str {
        self.runtime
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file that holds these bytes too, if there is one.
    pub fn file(&self) -> Option<&ArtifactFile> {
        self.file.as_ref()
    }

    /// Checks that these bytes were produced by `runtime`, so a backend never interprets another
    /// backend's artifact.
    pub fn expect_runtime(&self, runtime: &'static str) -> Result<&[u8], LoadError> {
        if self.runtime == runtime {
            Ok(&self.bytes)
        } else {
            Err(LoadError::ForeignArtifact {
                runtime,
                produced_by: self.runtime,
            })
        }
    }

    /// The code for `runtime` to load: its file when that can still be opened as recorded,
    /// its bytes otherwise.
    pub fn code(&self, runtime: &'static str) -> Result<Code<'_>, LoadError> {
        let bytes = self.expect_runtime(runtime)?;
        Ok(match self.file.as_ref().map(ArtifactFile::open) {
            Some(Ok(file)) => Code::File(file),
            _ => Code::Bytes(bytes),
        })
    }
}

impl PartialEq for Precompiled {
    /// The same code from the same runtime, wherever else it is stored.
    fn eq(&self, other: &Self) -> bool {
        self.runtime == other.runtime && self.bytes == other.bytes
    }
}

impl Eq for Precompiled {}

impl std::fmt::Debug for Precompiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Precompiled")
            .field("runtime", &self.runtime)
            .field("len", &self.bytes.len())
            .field("file", &self.file.as_ref().map(ArtifactFile::path))
            .finish()
    }
}

/// Where a backend takes compiled code from.
#[derive(Debug)]
pub enum Code<'a> {
    /// The artifact's file, open and checked to be the one recorded. Mapping it shares the
    /// code's pages with every process that maps the same file.
    File(File),
    /// The artifact's bytes, for a copy of this process's own.
    Bytes(&'a [u8]),
}

/// A path that names exactly the open `file`, for engines that take a path rather than a file:
/// whatever happens to the file's own path meanwhile, they open the file that was checked.
pub fn descriptor_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// A file that holds exactly the bytes of a [`Precompiled`], as it was when they were checked
/// against it. A file replaced or modified since is not used: engines map compiled code
/// unchecked, so it must be the very file whose bytes were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactFile {
    path: PathBuf,
    identity: FileIdentity,
}

/// What tells one version of a file from another without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileIdentity {
    fn of(file: &File) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = file.metadata()?;
        Ok(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

impl ArtifactFile {
    /// Records `file`, opened at `path`, as it is now: call it with the descriptor whose
    /// contents were just read or written.
    pub fn recorded(path: impl Into<PathBuf>, file: &File) -> io::Result<Self> {
        Ok(Self {
            path: path.into(),
            identity: FileIdentity::of(file)?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file for reading, if it is still the one recorded.
    pub fn open(&self) -> io::Result<File> {
        let file = File::open(&self.path)?;
        if FileIdentity::of(&file)? == self.identity {
            Ok(file)
        } else {
            Err(io::Error::other(format!(
                "{} was replaced or modified after it was checked",
                self.path.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_are_not_shared_between_runtimes() {
        let artifact = Precompiled::new("one", vec![1u8, 2, 3]);
        assert_eq!(artifact.expect_runtime("one").unwrap(), [1, 2, 3]);
        assert!(matches!(
            artifact.expect_runtime("other"),
            Err(LoadError::ForeignArtifact {
                runtime: "other",
                produced_by: "one"
            })
        ));
        assert!(artifact.code("other").is_err());
    }

    #[test]
    fn the_recorded_file_is_the_code_while_it_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifact");
        std::fs::write(&path, [1u8, 2, 3]).unwrap();
        let recorded = ArtifactFile::recorded(&path, &File::open(&path).unwrap()).unwrap();
        let artifact = Precompiled::new("one", vec![1u8, 2, 3]).stored_in(recorded);
        assert!(matches!(artifact.code("one").unwrap(), Code::File(_)));
        assert!(matches!(
            artifact.in_memory_only().code("one").unwrap(),
            Code::Bytes([1, 2, 3])
        ));

        // Replaced by another file: the bytes are the code.
        let replacement = dir.path().join("replacement");
        std::fs::write(&replacement, [1u8, 2, 3]).unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        assert!(artifact.file().unwrap().open().is_err());
        assert!(matches!(
            artifact.code("one").unwrap(),
            Code::Bytes([1, 2, 3])
        ));

        // Gone: the same.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(artifact.code("one").unwrap(), Code::Bytes(_)));
    }

    #[test]
    fn the_descriptor_path_names_the_open_file_not_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifact");
        std::fs::write(&path, [1u8, 2, 3]).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::write(dir.path().join("other"), [9u8]).unwrap();
        std::fs::rename(dir.path().join("other"), &path).unwrap();
        assert_eq!(std::fs::read(descriptor_path(&file)).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn equal_artifacts_are_equal_wherever_they_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifact");
        std::fs::write(&path, [1u8]).unwrap();
        let recorded = ArtifactFile::recorded(&path, &File::open(&path).unwrap()).unwrap();
        let in_memory = Precompiled::new("one", vec![1u8]);
        assert_eq!(in_memory.clone().stored_in(recorded), in_memory);
        assert_ne!(in_memory, Precompiled::new("two", vec![1u8]));
    }
}
