//! Paths resolved beneath a held directory, by the kernel, in the same step that uses them.
//!
//! A granted host directory must confine every path a guest names, symbolic links included.
//! Checking a path and then using it by name leaves a window in which a concurrent request in a
//! read-write grant can rename a link into place, so that the use follows it out of the
//! directory. Here nothing is used by name from the host's root: the grant is held as a
//! descriptor, and every path is resolved relative to it with `openat2(RESOLVE_BENEATH)`, which
//! fails (`EPERM` here) as soon as a `..` or a link would leave it, however the tree changes
//! meanwhile. Operations on a name (making, removing, renaming, linking, reading a link) act on
//! the parent directory's descriptor, resolved the same way, so the last component is never
//! followed. This is what wasmtime's `cap-std` does; the Wasmer and WasmEdge backends use it
//! for their directory grants.

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How often a resolution is retried when the kernel could not rule out an escape through a
/// concurrent rename (`EAGAIN`). Only a tree changing under the resolution causes it.
const RESOLVE_ATTEMPTS: usize = 8;

/// A directory that paths are resolved beneath. Paths given to its methods are relative to it;
/// an absolute path, a `..` above it or a symbolic link out of it is refused with `EPERM`.
#[derive(Debug)]
pub struct Beneath {
    dir: OwnedFd,
}

/// Whether an open may create the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Creation {
    /// The file must exist.
    #[default]
    Existing,
    /// Created when missing (`O_CREAT`).
    IfMissing,
    /// Created, and must not exist yet (`O_CREAT | O_EXCL`).
    New,
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opening {
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub truncate: bool,
    pub creation: Creation,
}

/// Whether the last component of a path is followed when it is a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    Links,
    NoLinks,
}

/// One entry of a directory listing (`.` and `..` left out).
#[derive(Debug)]
pub struct Entry {
    pub name: OsString,
    /// The entry itself, a symbolic link not followed.
    pub metadata: Metadata,
}

impl Beneath {
    /// Holds the host directory `path`, named by the admin: symbolic links in it are followed.
    pub fn open(path: &Path) -> io::Result<Self> {
        let dir = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { dir })
    }

    /// The directory `path`, held in its turn.
    pub fn subdirectory(&self, path: &Path) -> io::Result<Self> {
        let dir = self.resolve(path, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok(Self { dir })
    }

    /// Opens the file (or directory, for reading) `path`.
    pub fn open_file(&self, path: &Path, opening: Opening) -> io::Result<File> {
        let mut flags = match (opening.read, opening.write || opening.append) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            (_, false) => OFlags::RDONLY,
        };
        flags |= match opening.creation {
            Creation::Existing => OFlags::empty(),
            Creation::IfMissing => OFlags::CREATE,
            Creation::New => OFlags::CREATE | OFlags::EXCL,
        };
        if opening.append {
            flags |= OFlags::APPEND;
        }
        if opening.truncate {
            flags |= OFlags::TRUNC;
        }
        // `openat2` refuses a mode when nothing is created.
        let mode = match opening.creation {
            Creation::Existing => Mode::empty(),
            Creation::IfMissing | Creation::New => Mode::from_raw_mode(0o666),
        };
        let fd = self.resolve(path, flags, mode)?;
        Ok(File::from(fd))
    }

    /// Opens the directory `path` to list it, or to hand its descriptor on.
    pub fn open_directory(&self, path: &Path) -> io::Result<File> {
        let fd = self.resolve(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok(File::from(fd))
    }

    /// What `path` is; with [`Follow::NoLinks`], a link's own metadata.
    pub fn metadata(&self, path: &Path, follow: Follow) -> io::Result<Metadata> {
        let flags = match follow {
            Follow::Links => OFlags::PATH,
            Follow::NoLinks => OFlags::PATH | OFlags::NOFOLLOW,
        };
        File::from(self.resolve(path, flags, Mode::empty())?).metadata()
    }

    /// The entries of the directory `path`, listed through its descriptor.
    pub fn list(&self, path: &Path) -> io::Result<Vec<Entry>> {
        let dir = self.resolve(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsString::from(std::ffi::OsStr::from_bytes(&name));
            let this = rustix::fs::openat(
                &dir,
                name.as_os_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            );
            // An entry removed while listing is no entry.
            let Ok(this) = this else { continue };
            let metadata = File::from(this).metadata()?;
            entries.push(Entry { name, metadata });
        }
        Ok(entries)
    }

    pub fn create_directory(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(path)?;
        Ok(rustix::fs::mkdirat(
            parent,
            name,
            Mode::from_raw_mode(0o777),
        )?)
    }

    pub fn remove_directory(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(path)?;
        Ok(rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?)
    }

    /// Removes the file (or symbolic link) `path`.
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(path)?;
        Ok(rustix::fs::unlinkat(parent, name, AtFlags::empty())?)
    }

    /// Renames `from` to `to` beneath `to_dir` (which may be `self`).
    pub fn rename(&self, from: &Path, to_dir: &Beneath, to: &Path) -> io::Result<()> {
        let (from_parent, from_name) = self.parent(from)?;
        let (to_parent, to_name) = to_dir.parent(to)?;
        Ok(rustix::fs::renameat(
            from_parent,
            from_name,
            to_parent,
            to_name,
        )?)
    }

    /// Links `to` beneath `to_dir` to the file `from`; a link is linked, not followed.
    pub fn hard_link(&self, from: &Path, to_dir: &Beneath, to: &Path) -> io::Result<()> {
        let (from_parent, from_name) = self.parent(from)?;
        let (to_parent, to_name) = to_dir.parent(to)?;
        Ok(rustix::fs::linkat(
            from_parent,
            from_name,
            to_parent,
            to_name,
            AtFlags::empty(),
        )?)
    }

    /// Where the symbolic link `path` points, as written in it.
    pub fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let (parent, name) = self.parent(path)?;
        let target = rustix::fs::readlinkat(parent, name, Vec::new())?;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(
            target.as_bytes(),
        )))
    }

    /// The directory holding `path`'s last component, and that component: operations on a name
    /// never follow it.
    fn parent<'p>(&self, path: &'p Path) -> io::Result<(OwnedFd, &'p std::ffi::OsStr)> {
        let mut components = path.components();
        let Some(Component::Normal(name)) = components.next_back() else {
            return Err(Errno::INVAL.into());
        };
        let parent = components.as_path();
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let fd = self.resolve(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((fd, name))
    }

    fn resolve(&self, path: &Path, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        // `openat2` refuses flags that do not apply, and `O_PATH` takes no others.
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::CLOEXEC
        } else {
            flags | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let mut attempts = 0;
        loop {
            match rustix::fs::openat2(self.dir.as_fd(), path, flags, mode, resolve) {
                Err(Errno::AGAIN) if attempts + 1 < RESOLVE_ATTEMPTS => attempts += 1,
                // The kernel's word for a path that leaves the directory.
                Err(Errno::XDEV) => return Err(Errno::PERM.into()),
                result => return Ok(result?),
            }
        }
    }
}

impl AsFd for Beneath {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

/// For tests of directory grants, here and in the backends.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread::JoinHandle;

    /// A directory and a symbolic link beside it swapped, again and again on a thread of their
    /// own: the link renamed into the directory's place and out again, the race a
    /// check-then-open loses.
    pub struct LinkSwap {
        stop: Arc<AtomicBool>,
        thread: JoinHandle<u64>,
    }

    impl LinkSwap {
        /// Starts swapping `root/link` into the place of `root/dir`.
        pub fn start(root: &Path, dir: &str, link: &str) -> Self {
            let stop = Arc::new(AtomicBool::new(false));
            let [dir, link, parked]: [PathBuf; 3] =
                [dir, link, "parked"].map(|name| root.join(name));
            let thread = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut rounds = 0;
                    while !stop.load(Ordering::Relaxed) {
                        std::fs::rename(&dir, &parked).unwrap();
                        std::fs::rename(&link, &dir).unwrap();
                        std::fs::rename(&dir, &link).unwrap();
                        std::fs::rename(&parked, &dir).unwrap();
                        rounds += 1;
                    }
                    rounds
                })
            };
            Self { stop, thread }
        }

        /// Stops swapping, the directory back in its place; how many rounds were swapped.
        pub fn stop(self) -> u64 {
            self.stop.store(true, Ordering::Relaxed);
            self.thread.join().unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Fixture {
        inside: tempfile::TempDir,
        outside: tempfile::TempDir,
        dir: Beneath,
    }

    fn fixture() -> Fixture {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(inside.path().join("file.txt"), "inside").unwrap();
        std::fs::create_dir(inside.path().join("sub")).unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        symlink(outside.path(), inside.path().join("away")).unwrap();
        symlink(outside.path().join("secret"), inside.path().join("escape")).unwrap();
        symlink("../file.txt", inside.path().join("sub/up")).unwrap();
        let dir = Beneath::open(inside.path()).unwrap();
        Fixture {
            inside,
            outside,
            dir,
        }
    }

    fn is_refused<T: std::fmt::Debug>(result: io::Result<T>) -> bool {
        matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPERM))
    }

    fn read(dir: &Beneath, path: &str) -> io::Result<String> {
        let mut file = dir.open_file(
            Path::new(path),
            Opening {
                read: true,
                ..Opening::default()
            },
        )?;
        let mut text = String::new();
        io::Read::read_to_string(&mut file, &mut text)?;
        Ok(text)
    }

    #[test]
    fn paths_inside_are_used_and_links_inside_followed() {
        let f = fixture();
        assert_eq!(read(&f.dir, "file.txt").unwrap(), "inside");
        assert_eq!(read(&f.dir, "sub/up").unwrap(), "inside");
        assert_eq!(read(&f.dir, "sub/../file.txt").unwrap(), "inside");
        assert!(f
            .dir
            .metadata(Path::new(""), Follow::Links)
            .unwrap()
            .is_dir());
        let link = f
            .dir
            .metadata(Path::new("escape"), Follow::NoLinks)
            .unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            f.dir.read_link(Path::new("sub/up")).unwrap(),
            Path::new("../file.txt")
        );
        let mut names: Vec<_> = f
            .dir
            .list(Path::new(""))
            .unwrap()
            .into_iter()
            .map(|e| e.name.into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["away", "escape", "file.txt", "sub"]);
    }

    #[test]
    fn nothing_outside_can_be_reached() {
        let f = fixture();
        assert!(is_refused(read(&f.dir, "escape")));
        assert!(is_refused(read(&f.dir, "away/secret")));
        assert!(is_refused(read(&f.dir, "../file.txt")));
        assert!(is_refused(read(&f.dir, "/etc/passwd")));
        assert!(is_refused(f.dir.list(Path::new("away"))));
        assert!(is_refused(
            f.dir.metadata(Path::new("escape"), Follow::Links)
        ));
        assert!(is_refused(f.dir.create_directory(Path::new("away/made"))));
        assert!(is_refused(f.dir.remove_file(Path::new("away/secret"))));
        let create = Opening {
            write: true,
            creation: Creation::IfMissing,
            ..Opening::default()
        };
        assert!(is_refused(f.dir.open_file(Path::new("away/new"), create)));
        assert!(is_refused(f.dir.rename(
            Path::new("file.txt"),
            &f.dir,
            Path::new("away/moved")
        )));
        let sub = f.dir.subdirectory(Path::new("sub")).unwrap();
        assert!(
            is_refused(read(&sub, "../file.txt")),
            "beneath the subdirectory"
        );
        assert!(f.outside.path().join("secret").exists());
        assert!(!f.outside.path().join("new").exists());
        assert!(!f.outside.path().join("made").exists());
    }

    #[test]
    fn names_are_changed_without_following_them() {
        let f = fixture();
        // Removing a link that points outside removes the link.
        f.dir.remove_file(Path::new("escape")).unwrap();
        assert!(f.outside.path().join("secret").exists());
        f.dir.create_directory(Path::new("made")).unwrap();
        assert_eq!(
            f.dir
                .create_directory(Path::new("made"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        f.dir
            .rename(Path::new("file.txt"), &f.dir, Path::new("made/moved"))
            .unwrap();
        assert!(f.inside.path().join("made/moved").is_file());
        f.dir.remove_directory(Path::new("sub")).unwrap_err();
        f.dir.remove_file(Path::new("sub/up")).unwrap();
        f.dir.remove_directory(Path::new("sub")).unwrap();
        assert!(f.dir.remove_directory(Path::new("..")).is_err());
    }

    /// A link swapped in and out of place while the same path is opened again and again: the
    /// open never reaches the file outside, whichever way the race goes.
    #[test]
    fn a_link_renamed_into_place_is_never_followed_out() {
        let f = fixture();
        std::fs::write(f.inside.path().join("sub/secret"), "inside").unwrap();
        let swap = testing::LinkSwap::start(f.inside.path(), "sub", "away");
        let mut opened = 0;
        for _ in 0..20_000 {
            if let Ok(text) = read(&f.dir, "sub/secret") {
                assert_eq!(text, "inside");
                opened += 1;
            }
        }
        assert!(swap.stop() > 0);
        assert!(opened > 0, "the race was never run");
    }
}
