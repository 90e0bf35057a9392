//! Compiling in a process of its own, while the server serves (`WasmCompile background`).
//!
//! Compiling a large module takes minutes under some runtimes (CPython under WasmEdge's LLVM
//! compiler: seven), and a server that compiles before it starts answers nothing meanwhile. In
//! the background, the process reading the configuration forks a compiler process, which
//! stores the code in the on-disk cache, or the reason it could not, and exits; every process
//! of the server loads the code from the cache once it is there.
//!
//! The compiler process holds the cache entry's lock for as long as it compiles, which is how
//! the others know it is at work: taken over from the forking process when it was free, so
//! that it is held from the moment the compiler process exists. A compiler process dies with
//! the process that forked it (`PR_SET_PDEATHSIG`): a server that stops takes its compilations
//! with it. Each configuration read forks one per module the cache lacks; one that finds the
//! lock held (a compilation started by an earlier read, possibly in the process Apache leaves
//! behind when it detaches, which takes it along when it exits) waits for it, and then either
//! finds the code stored or compiles it itself.

use super::NotLoaded;
use crate::artifact_cache::CacheEntry;
use runtime_api::{Precompiled, Runtime};
use std::io::Write;
use std::time::Instant;

/// Forks a process that compiles `wasm` with `runtime` into `entry`, and returns at once.
/// The process says on the server's console (the standard error it started with) when it is
/// done, naming the module as `what`.
pub(super) fn compile(
    entry: &CacheEntry,
    runtime: &dyn Runtime,
    wasm: Vec<u8>,
    what: String,
) -> Result<(), String> {
    let cannot_lock = |e: std::io::Error| format!("cannot lock {}: {e}", entry.path().display());
    let held = entry.try_lock().map_err(cannot_lock)?;
    // The copy holds the lock from the start when it was free, and waits for it when not; this
    // process's copy of it is closed as the closure is dropped here.
    runtime_api::forked::fork(move || {
        let _lock = match held {
            Some(lock) => lock,
            None => match entry.lock() {
                Ok(lock) => lock,
                Err(_) => return false,
            },
        };
        let started = Instant::now();
        let said = match compile_into(entry, runtime, &wasm) {
            Compiled::AlreadyThere => return true,
            Compiled::Stored => format!(
                "mod_wasm: finished compiling {what} in the background in {:.1} s; cached in {}",
                started.elapsed().as_secs_f64(),
                entry.path().display()
            ),
            Compiled::Failed(reason) => {
                format!("mod_wasm: cannot compile {what} in the background: {reason}")
            }
        };
        // The console may be gone (a terminal closed, a pipe nobody reads): that is no
        // reason to die.
        // SAFETY: ignoring SIGPIPE in this process alone, which has no other thread.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let _ = writeln!(std::io::stderr(), "{said}");
        true
    })
    .map(drop)
    .map_err(|e| format!("cannot fork a compiler process: {e}"))
}

/// What the compiler process did.
enum Compiled {
    /// Nothing: the code was stored while it waited for the lock.
    AlreadyThere,
    Stored,
    /// It could not compile or store the module, for this reason (recorded beside the entry).
    Failed(String),
}

/// The compilation itself, in the compiler process.
fn compile_into(entry: &CacheEntry, runtime: &dyn Runtime, wasm: &[u8]) -> Compiled {
    if matches!(entry.load(), Ok(Some(_))) {
        return Compiled::AlreadyThere;
    }
    entry.clear_failure();
    let stored = runtime
        .compile(wasm)
        .map_err(|e| e.to_string())
        .and_then(|precompiled| {
            entry
                .store(&precompiled)
                .map_err(|e| format!("cannot write {}: {e}", entry.path().display()))
        });
    match stored {
        Ok(_) => Compiled::Stored,
        Err(reason) => {
            let _ = entry.record_failure(&reason);
            Compiled::Failed(reason)
        }
    }
}

/// The code compiled in the background into `entry`, or why there is none yet.
pub(super) fn outcome(entry: &CacheEntry) -> Result<Precompiled, NotLoaded> {
    match entry.load() {
        Ok(Some(precompiled)) => Ok(precompiled),
        Ok(None) if entry.is_locked() => Err(NotLoaded::Compiling),
        Ok(None) => Err(NotLoaded::Failed(entry.failure().unwrap_or_else(|| {
            "its compilation in the background ended without a result; the next restart tries again"
                .to_owned()
        }))),
        Err(e) => Err(NotLoaded::Failed(format!(
            "cannot use the cached {}: {e}",
            entry.path().display()
        ))),
    }
}
