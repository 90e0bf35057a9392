//! A preopened host directory as WasmEdge's Rust WASI sees it.
//!
//! async-wasi's own `DiskFileSys` uses every path by name from the host's root, after a
//! lexical check: it follows symbolic links wherever they point, and a check made beforehand
//! leaves a window in which a concurrent request can rename a link into place. [`HostDir`]
//! takes its place, keeping async-wasi's file type (`DiskFile`) for what is open, and differs
//! in what a directory grant needs:
//! - every path is resolved beneath the directory it is relative to, by the kernel, in the
//!   step that uses it ([`runtime_api::beneath`]), as wasmtime does: a `..` or a symbolic link
//!   that leads out is refused with `EPERM`, whatever changes meanwhile. Operations on a name
//!   (making, removing, renaming) act on its parent's descriptor and never follow it. Guests
//!   cannot create links (async-wasi answers `path_symlink` with `ENOSYS`), so only links
//!   someone else put there can point outside;
//! - a read-only directory refuses every change with `EROFS`, and what is opened there is
//!   opened without the rights to change it (`DiskFileSys` grants every right);
//! - opening the directory itself gives a descriptor of its own, which the guest can close
//!   (`DiskFileSys` hands back the preopen, and Rust's `read_dir` of a mapped directory panics
//!   when closing it fails);
//! - a directory gets the rights of a directory: wasi-libc asks for no more than the parent's
//!   inheriting rights, which are file rights, so a subdirectory could not be listed;
//! - the inheriting rights of the directory say what the grant allows beneath it, as
//!   wasi-libc's `access()` reads them (`DiskFileSys` reports every file right, but not the
//!   right to list, so a granted directory was not readable to `access()` and a read-only one
//!   was writable);
//! - making a directory is `mkdir`, not `mkdir -p` that succeeds when it exists: locks made of
//!   a directory (SQLite's under WASI) rely on that failing.

use runtime_api::beneath::{Beneath, Creation, Follow, Opening};
use runtime_api::{Access, Preopen};
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::error::Errno;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::types as wasi_types;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::virtual_sys::DiskFile;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::vfs::{
    FdFlags, FdStat, FileType, Filestat, OFlags, WASIRights, WasiDir, WasiFile, WasiFileSys,
    WasiNode,
};

/// The inode async-wasi gives a filesystem's root: its preopened descriptor.
const ROOT: usize = 0;

pub(crate) struct HostDir {
    access: Access,
    nodes: HashMap<usize, Node>,
    next: usize,
}

enum Node {
    Dir(GrantedDir),
    File(DiskFile),
}

/// An open directory: held by its descriptor, the paths relative to it resolved beneath it.
struct GrantedDir {
    dir: Beneath,
    rights: WASIRights,
    /// The rights files opened in it may have.
    file_rights: WASIRights,
}

impl HostDir {
    pub(crate) fn open(preopen: &Preopen) -> std::io::Result<Self> {
        let mut host_dir = Self {
            access: preopen.access,
            nodes: HashMap::new(),
            next: ROOT + 1,
        };
        let root = GrantedDir {
            dir: Beneath::open(&preopen.host)?,
            rights: WASIRights::dir_all(),
            // What is opened beneath it, files and directories, as far as the grant allows.
            // wasi-libc's access() answers from these: a directory is readable (R_OK) with
            // FD_READDIR, anything is writable (W_OK) with FD_WRITE.
            file_rights: host_dir.granted(WASIRights::fd_all() | WASIRights::dir_all()),
        };
        host_dir.nodes.insert(ROOT, Node::Dir(root));
        Ok(host_dir)
    }

    fn node(&self, ino: usize) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(Errno::__WASI_ERRNO_BADF)
    }

    fn dir(&self, ino: usize) -> Result<&GrantedDir, Errno> {
        match self.node(ino)? {
            Node::Dir(dir) => Ok(dir),
            Node::File(_) => Err(Errno::__WASI_ERRNO_NOTDIR),
        }
    }

    fn insert(&mut self, node: Node) -> usize {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, node);
        ino
    }

    fn writable(&self) -> Result<(), Errno> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Errno::__WASI_ERRNO_ROFS),
        }
    }

    /// `rights` less what this directory's access withholds.
    fn granted(&self, rights: WASIRights) -> WASIRights {
        match self.access {
            Access::ReadWrite => rights,
            Access::ReadOnly => rights - modifying_rights(),
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

fn file_type(metadata: &Metadata) -> FileType {
    let kind = metadata.file_type();
    if kind.is_dir() {
        FileType::DIRECTORY
    } else if kind.is_symlink() {
        FileType::SYMBOLIC_LINK
    } else if kind.is_char_device() {
        FileType::CHARACTER_DEVICE
    } else if kind.is_block_device() {
        FileType::BLOCK_DEVICE
    } else if kind.is_file() {
        FileType::REGULAR_FILE
    } else {
        FileType::UNKNOWN
    }
}

fn filestat(metadata: &Metadata) -> Filestat {
    Filestat {
        filetype: file_type(metadata),
        inode: metadata.ino(),
        nlink: metadata.nlink(),
        size: metadata.len(),
        atim: metadata.accessed().ok(),
        mtim: metadata.modified().ok(),
        ctim: metadata.created().ok(),
    }
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
        if fdflags.intersects(FdFlags::DSYNC | FdFlags::SYNC | FdFlags::RSYNC) {
            return Err(Errno::__WASI_ERRNO_NOSYS);
        }
        if oflags.contains(OFlags::DIRECTORY)
            && oflags.intersects(OFlags::CREATE | OFlags::EXCLUSIVE | OFlags::TRUNCATE)
        {
            return Err(Errno::__WASI_ERRNO_INVAL);
        }
        let creates = oflags.contains(OFlags::CREATE);
        if creates
            || oflags.contains(OFlags::TRUNCATE)
            || fs_rights_base.contains(WASIRights::FD_WRITE)
            || fdflags.contains(FdFlags::APPEND)
        {
            self.writable()?;
        }
        let parent = self.dir(dir_ino)?;
        let path = Path::new(path);
        // A directory is opened as one, with a directory's rights. Most are asked for with
        // O_DIRECTORY; one asked for without is seen by its metadata.
        let is_directory = oflags.contains(OFlags::DIRECTORY)
            || (!creates
                && parent
                    .dir
                    .metadata(path, Follow::Links)
                    .is_ok_and(|m| m.is_dir()));
        let node = if is_directory {
            Node::Dir(GrantedDir {
                dir: parent.dir.subdirectory(path)?,
                rights: self.granted(fs_rights_base | WASIRights::dir_all()),
                file_rights: self.granted(fs_rights_inheriting),
            })
        } else {
            let right = self.granted(fs_rights_base);
            let opening = Opening {
                read: right.contains(WASIRights::FD_READ),
                write: right.contains(WASIRights::FD_WRITE) || creates,
                append: fdflags.contains(FdFlags::APPEND),
                truncate: oflags.contains(OFlags::TRUNCATE),
                creation: match (creates, oflags.contains(OFlags::EXCLUSIVE)) {
                    (true, true) => Creation::New,
                    (true, false) => Creation::IfMissing,
                    (false, _) => Creation::Existing,
                },
            };
            Node::File(DiskFile {
                fd: parent.dir.open_file(path, opening)?,
                flags: fdflags,
                right,
            })
        };
        Ok(self.insert(node))
    }

    fn path_rename(
        &mut self,
        old_dir: usize,
        old_path: &str,
        new_dir: usize,
        new_path: &str,
    ) -> Result<(), Errno> {
        self.writable()?;
        let (old_dir, new_dir) = (self.dir(old_dir)?, self.dir(new_dir)?);
        old_dir
            .dir
            .rename(Path::new(old_path), &new_dir.dir, Path::new(new_path))?;
        Ok(())
    }

    fn path_create_directory(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        self.dir(dir_ino)?.dir.create_directory(Path::new(path))?;
        Ok(())
    }

    fn path_remove_directory(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        self.dir(dir_ino)?.dir.remove_directory(Path::new(path))?;
        Ok(())
    }

    fn path_unlink_file(&mut self, dir_ino: usize, path: &str) -> Result<(), Errno> {
        self.writable()?;
        self.dir(dir_ino)?.dir.remove_file(Path::new(path))?;
        Ok(())
    }

    /// Not offered, as by async-wasi's own filesystem.
    fn path_link_file(&mut self, _: usize, _: &str, _: usize, _: &str) -> Result<(), Errno> {
        Err(Errno::__WASI_ERRNO_NOSYS)
    }

    fn path_filestat_get(
        &self,
        dir_ino: usize,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, Errno> {
        let follow = if follow_symlinks {
            Follow::Links
        } else {
            Follow::NoLinks
        };
        let metadata = self.dir(dir_ino)?.dir.metadata(Path::new(path), follow)?;
        Ok(filestat(&metadata))
    }

    fn fclose(&mut self, ino: usize) -> Result<(), Errno> {
        self.nodes.remove(&ino);
        Ok(())
    }

    /// Changes a descriptor's flags, rights, size or times: nothing a read-only guest may do
    /// (dropping rights included, which no guest needs).
    fn get_mut_inode(&mut self, ino: usize) -> Result<&mut dyn WasiNode, Errno> {
        self.writable()?;
        match self.nodes.get_mut(&ino).ok_or(Errno::__WASI_ERRNO_BADF)? {
            Node::Dir(dir) => Ok(dir),
            Node::File(file) => Ok(file),
        }
    }

    fn get_inode(&self, ino: usize) -> Result<&dyn WasiNode, Errno> {
        match self.node(ino)? {
            Node::Dir(dir) => Ok(dir),
            Node::File(file) => Ok(file),
        }
    }

    /// Reads, writes and seeks. Files in a read-only directory were opened without write
    /// access (see `path_open`), so the host refuses writes to them.
    fn get_mut_file(&mut self, ino: usize) -> Result<&mut dyn WasiFile, Errno> {
        match self.nodes.get_mut(&ino).ok_or(Errno::__WASI_ERRNO_BADF)? {
            Node::File(file) => Ok(file),
            Node::Dir(_) => Err(Errno::__WASI_ERRNO_ISDIR),
        }
    }

    fn get_file(&self, ino: usize) -> Result<&dyn WasiFile, Errno> {
        match self.node(ino)? {
            Node::File(file) => Ok(file),
            Node::Dir(_) => Err(Errno::__WASI_ERRNO_ISDIR),
        }
    }

    fn get_mut_dir(&mut self, ino: usize) -> Result<&mut dyn WasiDir, Errno> {
        match self.nodes.get_mut(&ino).ok_or(Errno::__WASI_ERRNO_BADF)? {
            Node::Dir(dir) => Ok(dir),
            Node::File(_) => Err(Errno::__WASI_ERRNO_NOTDIR),
        }
    }

    fn get_dir(&self, ino: usize) -> Result<&dyn WasiDir, Errno> {
        Ok(self.dir(ino)?)
    }
}

impl WasiNode for GrantedDir {
    fn fd_fdstat_get(&self) -> Result<FdStat, Errno> {
        Ok(FdStat {
            filetype: FileType::DIRECTORY,
            fs_rights_base: self.rights.clone(),
            fs_rights_inheriting: self.file_rights.clone(),
            flags: FdFlags::empty(),
        })
    }

    fn fd_fdstat_set_flags(&mut self, _: FdFlags) -> Result<(), Errno> {
        Err(Errno::__WASI_ERRNO_BADF)
    }

    /// Drops rights; none can be added.
    fn fd_fdstat_set_rights(
        &mut self,
        fs_rights_base: WASIRights,
        fs_rights_inheriting: WASIRights,
    ) -> Result<(), Errno> {
        self.rights.can(fs_rights_base.clone())?;
        self.file_rights.can(fs_rights_inheriting.clone())?;
        self.rights = fs_rights_base;
        self.file_rights = fs_rights_inheriting;
        Ok(())
    }

    fn fd_filestat_get(&self) -> Result<Filestat, Errno> {
        self.rights.can(WASIRights::FD_FILESTAT_GET)?;
        Ok(filestat(&self.dir.metadata(Path::new(""), Follow::Links)?))
    }

    fn fd_filestat_set_size(&mut self, _: wasi_types::__wasi_filesize_t) -> Result<(), Errno> {
        Err(Errno::__WASI_ERRNO_BADF)
    }

    /// Not offered, as by async-wasi's own directories.
    fn fd_filestat_set_times(
        &mut self,
        _: wasi_types::__wasi_timestamp_t,
        _: wasi_types::__wasi_timestamp_t,
        _: wasi_types::__wasi_fstflags_t::Type,
    ) -> Result<(), Errno> {
        self.rights.can(WASIRights::FD_FILESTAT_SET_TIMES)?;
        Err(Errno::__WASI_ERRNO_NOSYS)
    }
}

impl WasiDir for GrantedDir {
    /// The entries from `start` on, `.` and `..` first, listed through the directory's
    /// descriptor.
    fn get_readdir(&self, start: u64) -> Result<Vec<(String, u64, FileType)>, Errno> {
        self.rights.can(WASIRights::FD_READDIR)?;
        let this = self.dir.metadata(Path::new(""), Follow::Links)?.ino();
        // The parent is outside what this descriptor reaches: named, not looked at.
        let mut entries = vec![
            (".".to_owned(), this, FileType::DIRECTORY),
            ("..".to_owned(), 0, FileType::DIRECTORY),
        ];
        for entry in self.dir.list(Path::new(""))? {
            let name = entry
                .name
                .into_string()
                .map_err(|_| Errno::__WASI_ERRNO_ILSEQ)?;
            entries.push((name, entry.metadata.ino(), file_type(&entry.metadata)));
        }
        Ok(entries
            .into_iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .collect())
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
        let file = open(&mut dir, "sub/up", OFlags::empty(), read.clone());
        assert!(file.is_ok(), "{file:?}");
        assert!(dir.path_filestat_get(ROOT, "escape", false).is_ok());
        dir.path_unlink_file(ROOT, "escape").unwrap();
        // Paths relative to a subdirectory's descriptor stay beneath it, as under wasmtime.
        let sub = open(&mut dir, "sub", OFlags::DIRECTORY, read.clone()).unwrap();
        let up = dir.path_open(
            sub,
            "up",
            OFlags::empty(),
            read,
            WASIRights::empty(),
            FdFlags::empty(),
        );
        assert_eq!(up, perm);
    }

    /// The race a check-then-open leaves: a link renamed into place, and out again, while the
    /// same path is opened again and again. No open reaches the file outside.
    #[test]
    fn a_link_renamed_into_place_is_never_followed_out() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        let (host, mut dir) = host_dir(Access::ReadWrite);
        std::fs::create_dir(host.path().join("sub")).unwrap();
        std::fs::write(host.path().join("sub/secret"), "inside").unwrap();
        std::os::unix::fs::symlink(outside.path(), host.path().join("away")).unwrap();
        let swap = runtime_api::beneath::testing::LinkSwap::start(host.path(), "sub", "away");
        let mut opened = 0;
        for _ in 0..20_000 {
            let Ok(file) = open(&mut dir, "sub/secret", OFlags::empty(), WASIRights::FD_READ)
            else {
                continue;
            };
            let mut buf = [0u8; 16];
            let read = dir
                .get_mut_file(file)
                .unwrap()
                .fd_read(&mut [std::io::IoSliceMut::new(&mut buf)])
                .unwrap();
            assert_eq!(&buf[..read], b"inside");
            dir.fclose(file).unwrap();
            opened += 1;
        }
        assert!(swap.stop() > 0);
        assert!(opened > 0, "the race was never run");
    }
}
