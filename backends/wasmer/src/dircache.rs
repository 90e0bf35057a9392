//! A correction to WASIX's `path_create_directory` and `path_open`: WASIX keeps, per run,
//! every directory entry it has looked up, and trusts what it keeps. A run that once saw a
//! directory fails to make one of that name (`EEXIST`) for the rest of its life, even after
//! another request removed it. Locks made of a directory rely on exactly that `mkdir`
//! (SQLite's under WASI, `unix-dotfile`, which CPython's `sqlite3` uses): a request that found
//! the database locked waited for its busy timeout and failed, though the lock had long been
//! released.
//!
//! Creating a file with `O_CREAT | O_EXCL` (a lock file, as `open(path, "x")` makes one) has
//! the same trouble. Here a `path_create_directory`, or a `path_open` with both flags, that
//! WASIX fails with `EEXIST` is tried once more after the run's cached entries of that name
//! whose file is gone have been forgotten, as WASIX forgets an entry it removes itself.
//!
//! A file's size is kept the same way, and `fd_filestat_get` answers from it: before it
//! does, the sizes of the run's open files are brought up to the host's where the host's is
//! larger (see [`correct_stale_entries`]).

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use virtual_fs::FileSystem;
use wasmer::{Extern, Function, FunctionEnv, FunctionEnvMut, Imports, RuntimeError, Store, Value};
use wasmer_wasix::fs::{InodeGuard, Kind};
use wasmer_wasix::types::wasi::Errno;
use wasmer_wasix::{WasiEnv, WasiEnvBuilder};

/// The namespaces whose functions take 32-bit path pointers and lengths.
const NAMESPACES: [&str; 2] = ["wasi_snapshot_preview1", "wasix_32v1"];

/// The root of one run's cache of directory entries, known once WASIX has built its
/// filesystem.
#[derive(Clone, Default)]
pub(crate) struct EntryCache {
    root: Arc<OnceLock<InodeGuard>>,
}

impl EntryCache {
    /// Has `builder` hand this cache the root of the run's entries when it builds them.
    pub(crate) fn watch(&self, builder: WasiEnvBuilder) -> WasiEnvBuilder {
        let root = self.root.clone();
        builder.setup_fs(Box::new(move |_, fs| {
            let _ = root.set(fs.root_inode.clone());
            Ok(())
        }))
    }

    /// Raises the size WASIX keeps for each file the run has open to the host's, where the
    /// host's is larger: another request grew the file since this run looked it up.
    fn catch_up_on_growth(&self) {
        if let Some(root) = self.root.get() {
            catch_up_under(root);
        }
    }

    /// Forgets the cached entries named `name` whose file `exists` no longer finds; true if
    /// there were any.
    fn forget_gone(&self, name: &str, exists: &dyn Fn(&Path) -> bool) -> bool {
        self.root
            .get()
            .is_some_and(|root| forget_gone_under(root, name, exists))
    }
}

/// The path a cached entry stands for, for the kinds a directory can be confused with.
fn entry_path(inode: &InodeGuard) -> Option<PathBuf> {
    match &*inode.read() {
        Kind::Dir { path, .. } | Kind::File { path, .. } => Some(path.clone()),
        _ => None,
    }
}

fn forget_gone_under(dir: &InodeGuard, name: &str, exists: &dyn Fn(&Path) -> bool) -> bool {
    let (gone, subdirectories) = {
        let kind = dir.read();
        let entries = match &*kind {
            Kind::Dir { entries, .. } | Kind::Root { entries } => entries,
            _ => return false,
        };
        let gone = entries
            .get(name)
            .and_then(entry_path)
            .is_some_and(|path| !exists(&path));
        let subdirectories: Vec<InodeGuard> = entries
            .values()
            .filter(|entry| matches!(&*entry.read(), Kind::Dir { .. } | Kind::Root { .. }))
            .cloned()
            .collect();
        (gone, subdirectories)
    };
    if gone {
        if let Kind::Dir { entries, .. } | Kind::Root { entries } = &mut *dir.write() {
            entries.remove(name);
        }
    }
    let mut forgot = gone;
    for subdirectory in subdirectories {
        forgot |= forget_gone_under(&subdirectory, name, exists);
    }
    forgot
}

fn catch_up_under(dir: &InodeGuard) {
    let entries: Vec<InodeGuard> = match &*dir.read() {
        Kind::Dir { entries, .. } | Kind::Root { entries } => entries.values().cloned().collect(),
        _ => return,
    };
    for entry in entries {
        let handle = match &*entry.read() {
            Kind::File {
                handle: Some(handle),
                ..
            } => Some(handle.clone()),
            _ => None,
        };
        match handle {
            Some(handle) => {
                let on_host = match handle.read() {
                    Ok(file) => file.size(),
                    Err(_) => continue,
                };
                if let Ok(mut stat) = entry.stat.write() {
                    stat.st_size = stat.st_size.max(on_host);
                }
            }
            None => catch_up_under(&entry),
        }
    }
}

/// The last name in `path`, if it is one (not `.` or `..`).
fn last_name(path: &str) -> Option<&str> {
    match Path::new(path).components().next_back()? {
        Component::Normal(name) => name.to_str(),
        _ => None,
    }
}

/// A WASIX function that creates a name and fails with `EEXIST` when the name is taken: where
/// in its arguments the path is, and whether a call is one that must create.
struct Creation {
    function: &'static str,
    path: usize,
    path_len: usize,
    creates: fn(&[Value]) -> bool,
}

/// `path_open`'s `O_CREAT | O_EXCL`.
const CREATE_EXCLUSIVE: i32 = 1 | 4;

const CREATIONS: [Creation; 2] = [
    // path_create_directory(fd, path, path_len)
    Creation {
        function: "path_create_directory",
        path: 1,
        path_len: 2,
        creates: |_| true,
    },
    // path_open(fd, dirflags, path, path_len, oflags, rights, rights, fdflags, *fd): a lock
    // file made with `O_EXCL`, as `open(path, "x")` makes one, has the same trouble.
    Creation {
        function: "path_open",
        path: 2,
        path_len: 3,
        creates: |args| {
            let oflags = match args.get(4) {
                Some(Value::I32(oflags)) => *oflags,
                _ => 0,
            };
            oflags & CREATE_EXCLUSIVE == CREATE_EXCLUSIVE
        },
    },
];

/// Replaces the functions of `imports` that create a name with ones that do not trust a stale
/// cache, and `fd_filestat_get` with one that does not trust a stale size (see the module's
/// documentation).
pub(crate) fn correct_stale_entries(
    store: &mut Store,
    env: &FunctionEnv<WasiEnv>,
    imports: &mut Imports,
    cache: &EntryCache,
) {
    for namespace in NAMESPACES {
        for creation in &CREATIONS {
            let cache = cache.clone();
            wrap(
                store,
                env,
                imports,
                namespace,
                creation.function,
                move |wasix, mut ctx, args| {
                    let results = wasix.call(&mut ctx, args)?.into_vec();
                    let taken = matches!(
                        results.first(),
                        Some(Value::I32(errno)) if *errno == Errno::Exist as i32
                    );
                    if !taken || !(creation.creates)(args) {
                        return Ok(results);
                    }
                    let (env, store) = ctx.data_and_store_mut();
                    let name = match (args.get(creation.path), args.get(creation.path_len)) {
                        (Some(Value::I32(path)), Some(Value::I32(len))) => env
                            .try_memory_view(&store)
                            .and_then(|view| read_string(&view, *path, *len)),
                        _ => None,
                    };
                    let Some(name) = name.as_deref().and_then(last_name) else {
                        return Ok(results);
                    };
                    let root = env.fs_root();
                    let exists = |path: &Path| root.symlink_metadata(path).is_ok();
                    if cache.forget_gone(name, &exists) {
                        wasix.call(&mut ctx, args).map(Vec::from)
                    } else {
                        Ok(results)
                    }
                },
            );
        }
        // fd_filestat_get(fd, *filestat) answers from what WASIX kept when it looked the file
        // up, and only this run's own writes change that: a database that another request
        // grew since looks as small as it was, and SQLite, which takes a database's length
        // from it, would write over what that request committed. Growth is caught up on
        // first. A smaller size on the host is not taken: this run's own writes may not have
        // reached the file yet, and WASIX counted them.
        let cache = cache.clone();
        wrap(
            store,
            env,
            imports,
            namespace,
            "fd_filestat_get",
            move |wasix, mut ctx, args| {
                cache.catch_up_on_growth();
                wasix.call(&mut ctx, args).map(Vec::from)
            },
        );
    }
}

/// Defines `namespace`'s `function` in `imports` anew as `corrected`, which is handed WASIX's
/// own to call; a function the imports do not have is left alone.
fn wrap(
    store: &mut Store,
    env: &FunctionEnv<WasiEnv>,
    imports: &mut Imports,
    namespace: &str,
    function: &str,
    corrected: impl Fn(&Function, FunctionEnvMut<WasiEnv>, &[Value]) -> Result<Vec<Value>, RuntimeError>
        + Send
        + Sync
        + 'static,
) {
    let Some(Extern::Function(wasix)) = imports.get_export(namespace, function) else {
        return;
    };
    let ty = wasix.ty(store);
    let corrected = Function::new_with_env(store, env, ty, move |ctx, args| {
        corrected(&wasix, ctx, args)
    });
    imports.define(namespace, function, corrected);
}

fn read_string(view: &wasmer::MemoryView, at: i32, len: i32) -> Option<String> {
    let (at, len) = (u32::try_from(at).ok()?, u32::try_from(len).ok()?);
    let mut bytes = vec![0; len as usize];
    view.read(u64::from(at), &mut bytes).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_name_of_a_path_is_a_name() {
        assert_eq!(last_name("lk.sqlite.lock"), Some("lk.sqlite.lock"));
        assert_eq!(last_name("db/lk.sqlite.lock"), Some("lk.sqlite.lock"));
        assert_eq!(last_name("db/lock/"), Some("lock"));
        assert_eq!(last_name(".."), None);
        assert_eq!(last_name(""), None);
    }
}
