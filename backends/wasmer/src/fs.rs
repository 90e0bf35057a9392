//! The guest's filesystem: the configured host directories mounted at their guest paths, and
//! nothing else.
//!
//! WASIX also gives every guest a root descriptor with all rights over this filesystem, so a
//! read-only directory cannot rely on the rights of its preopen alone: it is mounted through
//! [`ReadOnly`], which refuses every change at the filesystem layer. A read-write directory is
//! mounted through [`NoNewLinks`]: guests cannot create symbolic links under any runtime.
//! Each directory is a [`HostDir`], which resolves every path beneath it: no link or `..`
//! leads out, however the directory changes while a path is used.

use crate::hostdir::HostDir;
use runtime_api::{Access, Preopen};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use virtual_fs::{
    FileOpener, FileSystem, FsError, Metadata, MountFileSystem, OpenOptions, OpenOptionsConfig,
    ReadDir, VirtualFile,
};

type SharedFs = Arc<dyn FileSystem + Send + Sync>;
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Builds the filesystem holding `preopens`, each host directory mounted at its guest path.
pub(crate) fn guest_filesystem(
    preopens: &[Preopen],
    tokio: tokio::runtime::Handle,
) -> Result<MountFileSystem, (&Preopen, FsError)> {
    let root = MountFileSystem::new();
    for preopen in preopens {
        let host = HostDir::open(&preopen.host, tokio.clone()).map_err(|e| (preopen, e))?;
        let fs: SharedFs = match preopen.access {
            Access::ReadWrite => Arc::new(NoNewLinks(Arc::new(host))),
            Access::ReadOnly => Arc::new(ReadOnly(Arc::new(host))),
        };
        root.mount(preopen.guest.as_str(), fs)
            .map_err(|e| (preopen, e))?;
    }
    Ok(root)
}

/// A filesystem that can be read but not changed.
#[derive(Debug)]
pub(crate) struct ReadOnly(pub(crate) SharedFs);

impl FileSystem for ReadOnly {
    fn readlink(&self, path: &Path) -> virtual_fs::Result<PathBuf> {
        self.0.readlink(path)
    }
    fn read_dir(&self, path: &Path) -> virtual_fs::Result<ReadDir> {
        self.0.read_dir(path)
    }
    fn create_dir(&self, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn create_symlink(&self, _: &Path, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn hard_link(&self, _: &Path, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn remove_dir(&self, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn rename<'a>(&'a self, _: &'a Path, _: &'a Path) -> BoxFuture<'a, virtual_fs::Result<()>> {
        Box::pin(async { Err(FsError::PermissionDenied) })
    }
    fn metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        self.0.metadata(path)
    }
    fn symlink_metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        self.0.symlink_metadata(path)
    }
    fn remove_file(&self, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl FileOpener for ReadOnly {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> virtual_fs::Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        let changes = conf.write || conf.append || conf.truncate || conf.create || conf.create_new;
        if changes {
            return Err(FsError::PermissionDenied);
        }
        self.0.new_open_options().options(conf.clone()).open(path)
    }
}

/// A filesystem in which everything may change, except that no symbolic link can be created:
/// one in a granted directory could point anywhere, for the host's other programs to follow.
#[derive(Debug)]
pub(crate) struct NoNewLinks(pub(crate) SharedFs);

impl FileSystem for NoNewLinks {
    fn readlink(&self, path: &Path) -> virtual_fs::Result<PathBuf> {
        self.0.readlink(path)
    }
    fn read_dir(&self, path: &Path) -> virtual_fs::Result<ReadDir> {
        self.0.read_dir(path)
    }
    fn create_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.create_dir(path)
    }
    fn create_symlink(&self, _: &Path, _: &Path) -> virtual_fs::Result<()> {
        Err(FsError::PermissionDenied)
    }
    fn hard_link(&self, source: &Path, target: &Path) -> virtual_fs::Result<()> {
        self.0.hard_link(source, target)
    }
    fn remove_dir(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.remove_dir(path)
    }
    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> BoxFuture<'a, virtual_fs::Result<()>> {
        self.0.rename(from, to)
    }
    fn metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        self.0.metadata(path)
    }
    fn symlink_metadata(&self, path: &Path) -> virtual_fs::Result<Metadata> {
        self.0.symlink_metadata(path)
    }
    fn remove_file(&self, path: &Path) -> virtual_fs::Result<()> {
        self.0.remove_file(path)
    }
    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl FileOpener for NoNewLinks {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> virtual_fs::Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        self.0.new_open_options().options(conf.clone()).open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_api::GuestPath;

    fn fixture() -> (tempfile::TempDir, tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file.txt"), "content").unwrap();
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (dir, tokio)
    }

    fn preopen(guest: &str, host: &Path, access: Access) -> Preopen {
        Preopen {
            guest: GuestPath::new(guest).unwrap(),
            host: host.to_owned(),
            access,
        }
    }

    #[test]
    fn read_only_mounts_can_be_read_but_not_changed() {
        let (dir, tokio) = fixture();
        let fs = guest_filesystem(
            &[preopen("/data", dir.path(), Access::ReadOnly)],
            tokio.handle().clone(),
        )
        .unwrap();
        assert!(fs.metadata(Path::new("/data/file.txt")).unwrap().is_file());
        let read = fs
            .new_open_options()
            .read(true)
            .open(Path::new("/data/file.txt"));
        assert!(read.is_ok());
        for attempt in [
            fs.new_open_options().write(true).open("/data/file.txt"),
            fs.new_open_options()
                .read(true)
                .truncate(true)
                .open("/data/file.txt"),
            fs.new_open_options()
                .write(true)
                .create(true)
                .open("/data/new.txt"),
        ] {
            assert!(matches!(attempt, Err(FsError::PermissionDenied)));
        }
        assert_eq!(
            fs.create_dir(Path::new("/data/sub")),
            Err(FsError::PermissionDenied)
        );
        assert_eq!(
            fs.remove_file(Path::new("/data/file.txt")),
            Err(FsError::PermissionDenied)
        );
        assert!(dir.path().join("file.txt").exists());
        assert!(!dir.path().join("new.txt").exists());
    }

    #[test]
    fn read_write_mounts_can_be_changed() {
        let (dir, tokio) = fixture();
        let fs = guest_filesystem(
            &[preopen("/data", dir.path(), Access::ReadWrite)],
            tokio.handle().clone(),
        )
        .unwrap();
        fs.create_dir(Path::new("/data/sub")).unwrap();
        assert!(dir.path().join("sub").is_dir());
        let written = fs
            .new_open_options()
            .write(true)
            .create(true)
            .open("/data/new.txt");
        assert!(written.is_ok());
        assert!(dir.path().join("new.txt").is_file());
        assert_eq!(
            fs.create_symlink(Path::new("/data/file.txt"), Path::new("/data/link")),
            Err(FsError::PermissionDenied)
        );
        assert!(dir.path().join("link").symlink_metadata().is_err());
    }

    #[test]
    fn only_mounted_directories_are_visible() {
        let (dir, tokio) = fixture();
        let fs = guest_filesystem(
            &[preopen("/srv/data", dir.path(), Access::ReadOnly)],
            tokio.handle().clone(),
        )
        .unwrap();
        assert!(fs.metadata(Path::new("/srv/data/file.txt")).is_ok());
        assert!(fs.metadata(Path::new("/etc/passwd")).is_err());
        assert!(fs
            .metadata(Path::new("/srv/data/../../etc/passwd"))
            .is_err());
    }

    #[test]
    fn a_missing_host_directory_names_its_preopen() {
        let (dir, tokio) = fixture();
        let missing = dir.path().join("missing");
        let preopens = [preopen("/data", &missing, Access::ReadWrite)];
        let (failed, _) = guest_filesystem(&preopens, tokio.handle().clone()).unwrap_err();
        assert_eq!(failed.host, missing);
    }
}
