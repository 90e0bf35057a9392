//! A granted host directory as Wasmer's virtual filesystem, every path resolved beneath it by
//! the kernel ([`runtime_api::beneath`]).
//!
//! Wasmer's own host filesystem joins each path to the directory's host path and uses it by
//! name. WASIX resolves symbolic links itself before that, inside the guest's view, so a link
//! out of the directory is not followed, but between WASIX's look and the host's use a
//! concurrent request in a read-write grant can rename a link into place. Here no path is used
//! by name from the host's root, an open file is unlinked beneath the directory too, and a
//! resolution that would leave the directory fails with `PermissionDenied` (so does one through
//! an absolute link, which WASIX has followed itself before it opens anything).

use runtime_api::beneath::{Beneath, Creation, Follow, Opening};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use virtual_fs::{
    DirEntry, FileOpener, FsError, Metadata, OpenOptions, OpenOptionsConfig, ReadDir, VirtualFile,
};

type BoxFuture<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[derive(Debug)]
pub(crate) struct HostDir {
    dir: Arc<Beneath>,
    /// The directory's host path, symbolic links resolved: only to show a link's target the
    /// way the guest sees it, and to name files in traces.
    root: PathBuf,
    tokio: tokio::runtime::Handle,
}

impl HostDir {
    pub(crate) fn open(host: &Path, tokio: tokio::runtime::Handle) -> Result<Self, FsError> {
        let root = host.canonicalize().map_err(fs_error)?;
        let dir = Beneath::open(&root).map_err(fs_error)?;
        Ok(Self {
            dir: Arc::new(dir),
            root,
            tokio,
        })
    }
}

/// `path` as the mount hands it over (absolute in the mounted directory), relative to it.
fn relative(path: &Path) -> PathBuf {
    let path = virtual_fs::host_fs::normalize_path(path);
    path.strip_prefix("/").map_or(path.clone(), Path::to_owned)
}

/// A path that names an entry of a directory, not the mounted directory itself.
fn entry(path: &Path) -> Result<PathBuf, FsError> {
    let path = relative(path);
    if path.as_os_str().is_empty() {
        Err(FsError::BaseNotDirectory)
    } else {
        Ok(path)
    }
}

/// The error WASIX turns into the errno the host gave: `io::Error`'s kinds do not tell
/// several of them apart.
fn fs_error(error: io::Error) -> FsError {
    match error.raw_os_error() {
        Some(libc::ENOTEMPTY) => FsError::DirectoryNotEmpty,
        Some(libc::ENOTDIR) => FsError::BaseNotDirectory,
        Some(libc::EISDIR) => FsError::NotAFile,
        Some(libc::EPERM | libc::EACCES | libc::ELOOP) => FsError::PermissionDenied,
        _ => error.into(),
    }
}

fn metadata(metadata: std::fs::Metadata) -> Result<Metadata, FsError> {
    metadata.try_into().map_err(fs_error)
}

impl virtual_fs::FileSystem for HostDir {
    fn readlink(&self, path: &Path) -> virtual_fs::Result<PathBuf> {
        let target = self.dir.read_link(&entry(path)?).map_err(fs_error)?;
        // An absolute target inside the directory, as the guest sees it.
        Ok(match target.strip_prefix(&self.root) {
            Ok(inside) if target.is_absolute() => Path::new("/").join(inside),
            _ => target,
        })
    }

    fn read_dir(&self, path: &Path) -> virtual_fs::Result<ReadDir> {
        let path = relative(path);
        let mut entries = self
            .dir
            .list(&path)
            .map_err(fs_error)?
            .into_iter()
            .map(|entry| {
                Ok(DirEntry {
                    path: Path::new("/").join(&path).join(&entry.name),
                    metadata: Ok(metadata(entry.metadata)?),
                })
            })
            .collect::<Result<Vec<_>, FsError>>()?;
        entries.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        Ok(ReadDir::new(entries))
    }

    fn create_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.dir.create_directory(&entry(path)?).map_err(fs_error)
    }

    fn remove_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.dir.remove_directory(&entry(path)?).map_err(fs_error)
    }

    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> BoxFuture<'a, virtual_fs::Result<()>> {
        Box::pin(async move {
            self.dir
                .rename(&entry(from)?, &self.dir, &entry(to)?)
                .map_err(fs_error)
        })
    }

    fn metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        metadata(
            self.dir
                .metadata(&relative(path), Follow::Links)
                .map_err(fs_error)?,
        )
    }

    fn symlink_metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        metadata(
            self.dir
                .metadata(&relative(path), Follow::NoLinks)
                .map_err(fs_error)?,
        )
    }

    fn remove_file(&self, path: &Path) -> virtual_fs::Result<()> {
        self.dir.remove_file(&entry(path)?).map_err(fs_error)
    }

    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl FileOpener for HostDir {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> virtual_fs::Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        let path = relative(path);
        // Truncating and appending at once makes no sense; truncating wins, as in Wasmer's
        // host filesystem.
        let append = conf.append() && !conf.truncate();
        let opening = Opening {
            read: conf.read(),
            write: conf.write(),
            append,
            truncate: conf.truncate(),
            creation: if conf.create_new() {
                Creation::New
            } else if conf.create() {
                Creation::IfMissing
            } else {
                Creation::Existing
            },
        };
        let file = self.dir.open_file(&path, opening).map_err(fs_error)?;
        let inner = virtual_fs::host_fs::File::new(
            self.tokio.clone(),
            file,
            self.root.join(&path),
            conf.read(),
            conf.write(),
            append,
        );
        Ok(Box::new(GrantedFile {
            inner,
            dir: self.dir.clone(),
            path,
        }))
    }
}

/// A file opened in a granted directory: Wasmer's host file, except that unlinking it (which
/// WASIX does through the open file when the guest removes it) goes beneath the directory too.
#[derive(Debug)]
struct GrantedFile {
    inner: virtual_fs::host_fs::File,
    dir: Arc<Beneath>,
    path: PathBuf,
}

#[async_trait::async_trait]
impl VirtualFile for GrantedFile {
    fn last_accessed(&self) -> u64 {
        self.inner.last_accessed()
    }
    fn last_modified(&self) -> u64 {
        self.inner.last_modified()
    }
    fn created_time(&self) -> u64 {
        self.inner.created_time()
    }
    fn set_times(&mut self, atime: Option<u64>, mtime: Option<u64>) -> virtual_fs::Result<()> {
        self.inner.set_times(atime, mtime)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn set_len(&mut self, new_size: u64) -> virtual_fs::Result<()> {
        self.inner.set_len(new_size)
    }
    fn unlink(&mut self) -> virtual_fs::Result<()> {
        self.dir.remove_file(&self.path).map_err(fs_error)
    }
    fn get_special_fd(&self) -> Option<u32> {
        self.inner.get_special_fd()
    }
    fn poll_read_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_ready(cx)
    }
    fn poll_write_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_ready(cx)
    }
}

impl AsyncRead for GrantedFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GrantedFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl AsyncSeek for GrantedFile {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.inner).start_seek(position)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.inner).poll_complete(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_api::beneath::testing::LinkSwap;
    use std::os::unix::fs::symlink;
    use virtual_fs::FileSystem;

    fn tokio() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn read(dir: &HostDir, path: &str) -> virtual_fs::Result<String> {
        let mut file = dir.new_open_options().read(true).open(path)?;
        let mut text = String::new();
        let tokio = tokio();
        tokio
            .block_on(tokio::io::AsyncReadExt::read_to_string(
                &mut file, &mut text,
            ))
            .map_err(fs_error)?;
        Ok(text)
    }

    #[test]
    fn a_removed_open_file_is_removed_beneath_the_directory() {
        let inside = tempfile::tempdir().unwrap();
        std::fs::write(inside.path().join("file.txt"), "x").unwrap();
        let dir = HostDir::open(inside.path(), tokio().handle().clone()).unwrap();
        let mut file = dir.new_open_options().read(true).open("/file.txt").unwrap();
        file.unlink().unwrap();
        assert!(!inside.path().join("file.txt").exists());
        assert_eq!(
            dir.remove_dir(Path::new("/")),
            Err(FsError::BaseNotDirectory)
        );
    }

    #[test]
    fn listings_and_links_read_as_the_guest_sees_them() {
        let inside = tempfile::tempdir().unwrap();
        std::fs::create_dir(inside.path().join("sub")).unwrap();
        std::fs::write(inside.path().join("sub/file.txt"), "x").unwrap();
        let root = inside.path().canonicalize().unwrap();
        symlink(root.join("sub/file.txt"), inside.path().join("absolute")).unwrap();
        let dir = HostDir::open(inside.path(), tokio().handle().clone()).unwrap();
        let listed: Vec<PathBuf> = dir
            .read_dir(Path::new("/sub"))
            .unwrap()
            .map(|entry| entry.unwrap().path)
            .collect();
        assert_eq!(listed, [PathBuf::from("/sub/file.txt")]);
        assert_eq!(
            dir.readlink(Path::new("/absolute")).unwrap(),
            Path::new("/sub/file.txt")
        );
        // WASIX follows links itself, in the guest's view; the host follows none that is
        // absolute.
        assert_eq!(read(&dir, "/absolute"), Err(FsError::PermissionDenied));
    }

    /// The race a check-then-open leaves: a link renamed into place, and out again, while the
    /// same path is opened again and again. No open reaches the file outside.
    #[test]
    fn a_link_renamed_into_place_is_never_followed_out() {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(inside.path().join("sub")).unwrap();
        std::fs::write(inside.path().join("sub/secret"), "inside").unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        symlink(outside.path(), inside.path().join("away")).unwrap();
        let dir = HostDir::open(inside.path(), tokio().handle().clone()).unwrap();
        let swap = LinkSwap::start(inside.path(), "sub", "away");
        let mut opened = 0;
        for _ in 0..5_000 {
            if let Ok(text) = read(&dir, "/sub/secret") {
                assert_eq!(text, "inside");
                opened += 1;
            }
        }
        assert!(swap.stop() > 0);
        assert!(opened > 0, "the race was never run");
    }
}
