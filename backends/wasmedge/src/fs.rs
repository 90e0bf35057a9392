//! A preopened host directory as WasmEdge's Rust WASI sees it.
//!
//! async-wasi's `DiskFileSys` confines paths to its directory (lexically, like Wasmer's host
//! filesystem) but has gaps that [`HostDir`] closes:
//! - it grants every right, so a read-only directory would be writable: here every change is
//!   refused with `EROFS` when the location maps the directory `ro`, and what is opened there
//!   is opened without the rights to change it;
//! - opening the directory itself hands back the preopened descriptor, which the guest then
//!   cannot close (Rust's `read_dir` of a mapped directory panics on that): here such an open
//!   gets a descriptor of its own;
//! - a directory's descriptor only gets the rights the guest asks for, and wasi-libc asks for
//!   no more than the parent's inheriting rights, which `DiskFileSys` makes file rights: a
//!   subdirectory could not be listed. Here a directory gets the rights of a directory;
//! - making a directory makes its missing parents and succeeds when it exists (`mkdir -p`),
//!   which breaks the locks made of a directory (SQLite's under WASI): here it is `mkdir`;
//! - it follows symbolic links wherever they point. Here a path whose resolution leaves the
//!   directory is refused with `EPERM` before `DiskFileSys` sees it, as wasmtime refuses it:
//!   for opening (reading, writing, listing), `stat` and every change. Guests cannot create
//!   links (async-wasi answers `path_symlink` with `ENOSYS`), so only links someone else put
//!   there can point outside.

use runtime_api::{Access, Preopen};
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::error::Errno;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::virtual_sys::DiskFileSys;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::{
    FdFlags, Filestat, OFlags, WASIRights, WasiDir, WasiFile, WasiFileSys, WasiNode,
};

/// The inode async-wasi gives a filesystem's root: its preopened descriptor.
const ROOT: usize = 0;

/// Inodes from this value on are further opens of the root. `DiskFileSys` numbers its own
/// inodes from 0 upwards in a slab, far below.
const FIRST_ROOT_ALIAS: usize = 1 << 40;

pub(crate) struct HostDir {
    disk: DiskFileSys,
    access: Access,
    /// The host directory, with every symbolic link in its path resolved.
    root: PathBuf,
    /// The host path of each directory descriptor other than the root's, as the guest named it.
    dirs: HashMap<usize, PathBuf>,
    /// Open descriptors of the root other than the preopen itself.
    root_aliases: HashSet<usize>,
    next_root_alias: usize,
}

impl HostDir {
    pub(crate) fn open(preopen: &Preopen) -> std::io::Result<Self> {
        let root = preopen.host.canonicalize()?;
        Ok(Self {
            disk: DiskFileSys::new(root.clone())?,
            access: preopen.access,
            root,
            dirs: HashMap::new(),
            root_aliases: HashSet::new(),
            next_root_alias: FIRST_ROOT_ALIAS,
        })
    }

    /// The `DiskFileSys` inode behind `ino`.
    fn inner(&self, ino: usize) -> Result<usize, Errno> {
        if ino < FIRST_ROOT_ALIAS {
            Ok(ino)
        } else if self.root_aliases.contains(&ino) {
            Ok(ROOT)
        } else {
            Err(Errno::__WASI_ERRNO_BADF)
        }
    }

    /// The host path `path` names relative to the directory `dir_ino`, without `.` and `..`:
    /// what `DiskFileSys` will use. A path above the root is not found, as there.
    fn host_path(&self, dir_ino: usize, path: &str) -> Result<PathBuf, Errno> {
        let dir = match self.inner(dir_ino)? {
            ROOT => &self.root,
            ino => self.dirs.get(&ino).ok_or(Errno::__WASI_ERRNO_NOTDIR)?,
        };
        let mut host = dir.clone();
        for component in Path::new(path).components() {
            match component {
                Component::Normal(name) => host.push(name),
                Component::CurDir => {}
                Component::ParentDir if host != self.root => {
                    host.pop();
                }
                _ => return Err(Errno::__WASI_ERRNO_NOENT),
            }
        }
        Ok(host)
    }

    /// Refuses `path` (relative to `dir_ino`) when resolving it leaves the root: through a
    /// symbolic link among its parents, or in its last component when the operation follows
    /// it (`follow`). A path that does not resolve is left to the operation to report, except
    /// a dangling link it would follow: creating through one could create outside.
    fn confined(&self, dir_ino: usize, path: &str, follow: bool) -> Result<PathBuf, Errno> {
        let host = self.host_path(dir_ino, path)?;
        let inside = |resolved: &Path| {
            if resolved.starts_with(&self.root) {
                Ok(())
            } else {
                Err(Errno::__WASI_ERRNO_PERM)
            }
        };
        // The directory itself was confined when it was opened: only links among the path's
        // own components matter, and a path of one component has none before its last.
        let nested = Path::new(path)
            .components()
            .filter(|c| *c != Component::CurDir)
            .count()
            > 1;
        if let Some(parent) = host.parent().filter(|_| nested) {
            if let Ok(parent) = parent.canonicalize() {
                inside(&parent)?;
            }
        }
        let is_link = std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink());
        if follow && is_link {
            inside(&host.canonicalize().map_err(|_| Errno::__WASI_ERRNO_PERM)?)?;
        }
        Ok(host)
    }

    fn writable(&self) -> Result<(), Errno> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Errno::__WASI_ERRNO_ROFS),
        }
    }
}

/// Rights that let a descriptor change the file it names. Guests ask for some of them when
/// they only mean to read (Rust's standard library always asks for the right to set times,
/// C's for everything but writing when opening a directory), so asking is no refusal; writing
/// is what `FD_WRITE` asks for.
fn modifying_rights() -> WASIRights {
    WASIRights::FD_WRITE
        | WASIRights::FD_ALLOCATE
        | WASIRights::FD_FILESTAT_SET_SIZE
        | WASIRights::FD_FILESTAT_SET_TIMES
}

impl WasiFileSys for HostDir {
    type Index = usize;

    fn path_open(
        &mut self,
        dir_ino: usize,
        path: &str,
        oflags: OFlags,
        fs_rights_base: WASIRights,
        fs_rights_inheriting: WASIRights,
        fdflags: FdFlags,
    ) -> Result<usize, Errno> {
        if oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE)
            || fs_rights_base.contains(WASIRights::FD_WRITE)
            || fdflags.contains(FdFlags::APPEND)
        {
            self.writable()?;
        }
        let host = self.confined(dir_ino, path, true)?;
        let dir = self.inner(dir_ino)?;
        let granted = |rights: WASIRights| match self.access {
            Access::ReadWrite => rights,
            Access::ReadOnly => rights - modifying_rights(),
        };
        let inheriting = granted(fs_rights_inheriting);
        let open = |disk: &mut DiskFileSys, base: WASIRights| {
            disk.path_open(
                dir,
                path,
                oflags.clone(),
                base,
                inheriting.clone(),
                fdflags.clone(),
            )
        };
        // A directory gets a directory's rights. Most are opened with O_DIRECTORY; one opened
        // without is seen only once open, and opened again, so that files cost no extra stat.
        let as_directory = granted(fs_rights_base.clone() | WASIRights::dir_all());
        let opened = if oflags.contains(OFlags::DIRECTORY) {
            open(&mut self.disk, as_directory)?
        } else {
            let opened = open(&mut self.disk, granted(fs_rights_base))?;
            if opened != ROOT && self.disk.get_dir(opened).is_ok() {
                self.disk.fclose(opened)?;
                open(&mut self.disk, as_directory)?
            } else {
                opened
            }
        };
        if opened != ROOT {
            if self.disk.get_dir(opened).is_ok() {
                self.dirs.insert(opened, host);
            }
            return Ok(opened);
        }
        let alias = self.next_root_alias;
        self.next_root_alias += 1;
        self.root_aliases.insert(alias);
        Ok(alias)
    }

    fn path_rename(
        &mut self,
        old_dir: usize,
        old_path: &str,
        new_dir: usize,
        new_path: &str,
    ) -> Result<(), Errno> {
        self.writable()?;
        self.confined(old_dir, old_path, false)?;
        self.confined(new_dir, new_path, false)?;
        let (old_dir, new_dir) = (self.inner(old_dir)?, self.inner(new_dir)?);
        self.disk.path_rename(old_dir, old_path, new_dir, new_path)
    }

    fn path_create_directory(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        let host = self.confined(dir_ino, path, false)?;
        // Not `DiskFileSys`'s, which makes the missing parents and succeeds on a directory
        // that exists: locks made of a directory (SQLite's under WASI) rely on that failing.
        std::fs::create_dir(host)?;
        Ok(())
    }

    fn path_remove_directory(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        self.confined(dir_ino, path, false)?;
        let dir = self.inner(dir_ino)?;
        self.disk.path_remove_directory(dir, path)
    }

    fn path_unlink_file(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        self.confined(dir_ino, path, false)?;
        let dir = self.inner(dir_ino)?;
        self.disk.path_unlink_file(dir, path)
    }

    fn path_link_file(
        &mut self,
        old_dir: usize,
        old_path: &str,
        new_dir: usize,
        new_path: &str,
    ) -> Result<(), Errno> {
        self.writable()?;
        self.confined(old_dir, old_path, true)?;
        self.confined(new_dir, new_path, false)?;
        let (old_dir, new_dir) = (self.inner(old_dir)?, self.inner(new_dir)?);
        self.disk
            .path_link_file(old_dir, old_path, new_dir, new_path)
    }

    fn path_filestat_get(
        &self,
        dir_ino: usize,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, Errno> {
        self.confined(dir_ino, path, follow_symlinks)?;
        self.disk
            .path_filestat_get(self.inner(dir_ino)?, path, follow_symlinks)
    }

    fn fclose(&mut self, ino: usize) -> Result<(), Errno> {
        if self.root_aliases.remove(&ino) {
            return Ok(());
        }
        self.dirs.remove(&ino);
        self.disk.fclose(self.inner(ino)?)
    }

    /// Changes a descriptor's flags, rights, size or times: nothing a read-only guest may do
    /// (dropping rights included, which no guest needs).
    fn get_mut_inode(&mut self, ino: usize) -> Result<&mut dyn WasiNode, Errno> {
        self.writable()?;
        let ino = self.inner(ino)?;
        self.disk.get_mut_inode(ino)
    }

    fn get_inode(&self, ino: usize) -> Result<&dyn WasiNode, Errno> {
        self.disk.get_inode(self.inner(ino)?)
    }

    /// Reads, writes and seeks. Files in a read-only directory were opened without write
    /// access (see `path_open`), so the host refuses writes to them.
    fn get_mut_file(&mut self, ino: usize) -> Result<&mut dyn WasiFile, Errno> {
        let ino = self.inner(ino)?;
        self.disk.get_mut_file(ino)
    }

    fn get_file(&self, ino: usize) -> Result<&dyn WasiFile, Errno> {
        self.disk.get_file(self.inner(ino)?)
    }

    fn get_mut_dir(&mut self, ino: usize) -> Result<&mut dyn WasiDir, Errno> {
        let ino = self.inner(ino)?;
        self.disk.get_mut_dir(ino)
    }

    fn get_dir(&self, ino: usize) -> Result<&dyn WasiDir, Errno> {
        self.disk.get_dir(self.inner(ino)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_api::GuestPath;

    fn host_dir(access: Access) -> (tempfile::TempDir, HostDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file.txt"), "content").unwrap();
        let preopen = Preopen {
            guest: GuestPath::new("/data").unwrap(),
            host: dir.path().to_owned(),
            access,
        };
        let host_dir = HostDir::open(&preopen).unwrap();
        (dir, host_dir)
    }

    fn open(
        dir: &mut HostDir,
        path: &str,
        oflags: OFlags,
        rights: WASIRights,
    ) -> Result<usize, Errno> {
        dir.path_open(
            ROOT,
            path,
            oflags,
            rights,
            WASIRights::empty(),
            FdFlags::empty(),
        )
    }

    #[test]
    fn read_only_directories_can_be_read_but_not_changed() {
        let (host, mut dir) = host_dir(Access::ReadOnly);
        let file = open(&mut dir, "file.txt", OFlags::empty(), WASIRights::FD_READ).unwrap();
        assert!(dir.get_file(file).is_ok());
        // What Rust's standard library asks for to read a file or a directory.
        let reading =
            WASIRights::FD_READ | WASIRights::FD_READDIR | WASIRights::FD_FILESTAT_SET_TIMES;
        let listed = open(&mut dir, ".", OFlags::DIRECTORY, reading.clone()).unwrap();
        assert!(dir.get_dir(listed).unwrap().get_readdir(0).is_ok());
        open(&mut dir, "file.txt", OFlags::empty(), reading).unwrap();
        let refused = [
            open(&mut dir, "file.txt", OFlags::empty(), WASIRights::FD_WRITE),
            open(&mut dir, "file.txt", OFlags::TRUNCATE, WASIRights::FD_READ),
            open(&mut dir, "new.txt", OFlags::CREATE, WASIRights::FD_READ),
        ];
        for attempt in refused {
            assert_eq!(attempt, Err(Errno::__WASI_ERRNO_ROFS));
        }
        assert_eq!(
            dir.path_create_directory(ROOT, "sub"),
            Err(Errno::__WASI_ERRNO_ROFS)
        );
        assert_eq!(
            dir.path_unlink_file(ROOT, "file.txt"),
            Err(Errno::__WASI_ERRNO_ROFS)
        );
        assert_eq!(
            dir.path_rename(ROOT, "file.txt", ROOT, "moved.txt"),
            Err(Errno::__WASI_ERRNO_ROFS)
        );
        assert!(dir.get_mut_inode(file).is_err());
        assert!(host.path().join("file.txt").exists());
        assert!(!host.path().join("new.txt").exists());
        assert!(!host.path().join("sub").exists());
    }

    #[test]
    fn subdirectories_can_be_listed_with_the_rights_wasi_libc_asks_for() {
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let (host, mut dir) = host_dir(access);
            std::fs::create_dir(host.path().join("sub")).unwrap();
            std::fs::write(host.path().join("sub/inner.txt"), "x").unwrap();
            // The parent's inheriting rights: file rights, no FD_READDIR.
            let asked = WASIRights::FD_READ | WASIRights::FD_SEEK | WASIRights::FD_FILESTAT_GET;
            // With O_DIRECTORY, and without (as `open` then `fdopendir` do).
            for oflags in [OFlags::DIRECTORY, OFlags::empty()] {
                let sub = open(&mut dir, "sub", oflags, asked.clone()).unwrap();
                let names: Vec<String> = dir
                    .get_dir(sub)
                    .unwrap()
                    .get_readdir(0)
                    .unwrap()
                    .into_iter()
                    .map(|(name, _, _)| name)
                    .collect();
                assert!(
                    names.contains(&"inner.txt".to_owned()),
                    "{access:?}: {names:?}"
                );
                dir.fclose(sub).unwrap();
            }
        }
    }

    #[test]
    fn read_write_directories_can_be_changed() {
        let (host, mut dir) = host_dir(Access::ReadWrite);
        open(&mut dir, "new.txt", OFlags::CREATE, WASIRights::FD_WRITE).unwrap();
        dir.path_create_directory(ROOT, "sub").unwrap();
        assert!(host.path().join("new.txt").is_file());
        assert!(host.path().join("sub").is_dir());
        assert_eq!(
            dir.path_create_directory(ROOT, "sub"),
            Err(Errno::__WASI_ERRNO_EXIST),
            "a directory that exists is not made again"
        );
        assert_eq!(
            dir.path_create_directory(ROOT, "missing/sub"),
            Err(Errno::__WASI_ERRNO_NOENT),
            "nor a missing parent"
        );
    }

    #[test]
    fn opening_the_root_again_gives_a_descriptor_the_guest_can_close() {
        let (_host, mut dir) = host_dir(Access::ReadOnly);
        let again = open(&mut dir, ".", OFlags::DIRECTORY, WASIRights::FD_READDIR).unwrap();
        assert_ne!(again, ROOT);
        let names: Vec<String> = dir
            .get_dir(again)
            .unwrap()
            .get_readdir(0)
            .unwrap()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        assert!(names.contains(&"file.txt".to_owned()), "{names:?}");
        dir.fclose(again).unwrap();
        assert_eq!(dir.get_dir(again).err(), Some(Errno::__WASI_ERRNO_BADF));
        assert!(dir.get_dir(ROOT).is_ok(), "the preopen itself stays open");
    }

    #[test]
    fn paths_cannot_leave_the_directory() {
        let (_host, mut dir) = host_dir(Access::ReadWrite);
        assert!(open(
            &mut dir,
            "../../etc/passwd",
            OFlags::empty(),
            WASIRights::FD_READ
        )
        .is_err());
    }

    #[test]
    fn symbolic_links_are_followed_only_inside_the_directory() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        let (host, mut dir) = host_dir(Access::ReadWrite);
        std::fs::create_dir(host.path().join("sub")).unwrap();
        symlink(outside.path().join("secret"), host.path().join("escape")).unwrap();
        symlink(outside.path(), host.path().join("away")).unwrap();
        symlink("../file.txt", host.path().join("sub/up")).unwrap();
        symlink(outside.path().join("new"), host.path().join("dangling")).unwrap();
        let perm = Err(Errno::__WASI_ERRNO_PERM);
        let refused = Err(Errno::__WASI_ERRNO_PERM);

        let read = WASIRights::FD_READ;
        assert_eq!(
            open(&mut dir, "escape", OFlags::empty(), read.clone()),
            perm
        );
        assert_eq!(
            open(&mut dir, "away/secret", OFlags::empty(), read.clone()),
            perm
        );
        assert_eq!(
            open(&mut dir, "away", OFlags::DIRECTORY, read.clone()),
            perm
        );
        let write = WASIRights::FD_WRITE;
        assert_eq!(
            open(&mut dir, "dangling", OFlags::CREATE, write.clone()),
            perm
        );
        assert_eq!(open(&mut dir, "away/new", OFlags::CREATE, write), perm);
        assert_eq!(
            dir.path_filestat_get(ROOT, "escape", true).err(),
            perm.err()
        );
        assert_eq!(dir.path_create_directory(ROOT, "away/made"), refused);
        assert_eq!(dir.path_unlink_file(ROOT, "away/secret"), refused);
        assert!(!outside.path().join("new").exists());
        assert!(outside.path().join("secret").exists());

        // A link that stays inside works, and so does looking at a link itself.
        let sub = open(&mut dir, "sub", OFlags::DIRECTORY, read.clone()).unwrap();
        let file = dir.path_open(
            sub,
            "up",
            OFlags::empty(),
            read,
            WASIRights::empty(),
            FdFlags::empty(),
        );
        assert!(file.is_ok(), "{file:?}");
        assert!(dir.path_filestat_get(ROOT, "escape", false).is_ok());
        dir.path_unlink_file(ROOT, "escape").unwrap();
    }
}
