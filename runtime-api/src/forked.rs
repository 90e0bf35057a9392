//! Work done in a forked copy of the process, for what must not happen in the process itself:
//! a compiler that starts threads (WasmEdge's LLVM), a compilation the server does not wait
//! for (`WasmCompile background`).

use std::io;

/// Forks a copy of this process that runs `work` and exits, with status 0 when `work` returns
/// true, 1 when it returns false or panics; returns the copy's pid. The copy dies with this
/// process (`PR_SET_PDEATHSIG`): whatever it does is for this process alone.
///
/// Fork only where no other thread runs, or where the copy cannot need what another thread
/// holds: the copy has this thread alone.
pub fn fork(work: impl FnOnce() -> bool) -> io::Result<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the copy only runs `work` and leaves with `_exit`, so none of this process's exit
    // handlers or buffered streams run twice.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; getppid has no
            // preconditions. A parent gone before the call is seen by getppid.
            let orphaned = unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent
            };
            let ok = !orphaned
                && std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(false);
            // SAFETY: ends the copy without running anything of this process's.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => Ok(pid),
    }
}
