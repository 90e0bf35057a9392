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

/// How work done by [`output`] failed.
#[derive(Debug)]
pub enum Failure {
    /// The work gave this reason.
    Gave(String),
    /// The copy died of this signal.
    Signalled(i32),
    /// The copy exited without saying why (it panicked, or could not hand over its output).
    Exited,
    /// The copy could not be started or waited for, or its output read.
    Os(&'static str, io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Gave(reason) => f.write_str(reason),
            Failure::Signalled(signal) => write!(f, "its process died of signal {signal}"),
            Failure::Exited => f.write_str("its process failed without saying why"),
            Failure::Os(doing, e) => write!(f, "cannot {doing}: {e}"),
        }
    }
}

/// Runs `work` in a forked copy of this process (see [`fork`]) and waits for it: the bytes the
/// work returned, or why there are none. The bytes come back through a file in memory that
/// both processes share.
pub fn output(work: impl FnOnce() -> Result<Vec<u8>, String>) -> Result<Vec<u8>, Failure> {
    use std::io::{Read, Seek, Write};
    let mut out = file_in_memory(c"mod_wasm-forked-output")
        .map_err(|e| Failure::Os("hold a forked process's output", e))?;
    let mut failure = file_in_memory(c"mod_wasm-forked-failure")
        .map_err(|e| Failure::Os("hold a forked process's output", e))?;
    let (mut out_in_copy, mut failure_in_copy) = (&out, &failure);
    let pid = fork(move || match work() {
        Ok(bytes) => out_in_copy.write_all(&bytes).is_ok(),
        Err(reason) => {
            let _ = failure_in_copy.write_all(reason.as_bytes());
            false
        }
    })
    .map_err(|e| Failure::Os("fork", e))?;
    let status = wait(pid).map_err(|e| Failure::Os("wait for a forked process", e))?;
    let read = |file: &mut std::fs::File| -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        file.rewind()?;
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let read_error = |e| Failure::Os("read a forked process's output", e);
    if libc::WIFSIGNALED(status) {
        return Err(Failure::Signalled(libc::WTERMSIG(status)));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return read(&mut out).map_err(read_error);
    }
    match read(&mut failure).map_err(read_error)? {
        reason if reason.is_empty() => Err(Failure::Exited),
        reason => Err(Failure::Gave(String::from_utf8_lossy(&reason).into_owned())),
    }
}

/// Waits for the process `pid`, a child of this one, to end: its wait status.
fn wait(pid: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waits for a child of this process; `status` outlives the call.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Makes this process act as `run_as` alone, for good: no supplementary groups, its group,
/// then its user. For a forked process that does work for the processes that serve requests,
/// with no more rights than theirs.
pub fn become_user(run_as: crate::RunAs) -> io::Result<()> {
    // SAFETY: reads of this process's credentials.
    let already = unsafe {
        libc::getuid() == run_as.uid
            && libc::geteuid() == run_as.uid
            && libc::getgid() == run_as.gid
            && libc::getegid() == run_as.gid
    };
    if already {
        // A process that serves requests (a child of Apache's, doing this work at a request)
        // is that user already, with the groups its runs have, and may not change them.
        return Ok(());
    }
    // SAFETY: plain system calls on this process's credentials; the group is set while the
    // process may still do so, before the user.
    let failed = unsafe {
        libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(run_as.gid) != 0
            || libc::setuid(run_as.uid) != 0
    };
    if failed {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new file that lives in memory only, closed on exec, and gone when its last descriptor is
/// closed.
pub fn file_in_memory(name: &std::ffi::CStr) -> io::Result<std::fs::File> {
    // SAFETY: the name is a NUL-terminated string; the returned descriptor is new and owned
    // by the `File` made from it below.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a valid descriptor that nothing else owns.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_comes_back_from_the_copy() {
        assert_eq!(
            output(|| Ok(b"made in a copy".to_vec())).unwrap(),
            b"made in a copy"
        );
    }

    #[test]
    fn a_reason_or_a_death_comes_back_as_the_failure() {
        let gave = output(|| Err("no luck".into())).unwrap_err();
        assert!(
            matches!(&gave, Failure::Gave(reason) if reason == "no luck"),
            "{gave}"
        );
        let died = output(|| {
            // SAFETY: ends this forked copy, which has no other thread.
            unsafe { libc::raise(libc::SIGALRM) };
            Ok(Vec::new())
        })
        .unwrap_err();
        assert!(matches!(died, Failure::Signalled(libc::SIGALRM)), "{died}");
    }
}
