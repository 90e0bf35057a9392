//! Letting one signal reach the thread that runs a guest, or keeping it away for a while.
//!
//! Some engines stop a guest at its time limit by signalling the thread that runs it. Apache's
//! threaded MPMs (event, worker) block every asynchronous signal in their worker threads, so
//! such a backend unblocks its signal on the worker thread for as long as the guest runs, and
//! the thread's mask is restored afterwards.

use std::io;
use std::mem::MaybeUninit;

/// `signal` is unblocked on the current thread while this lives.
pub struct Unblocked {
    previous: libc::sigset_t,
}

impl Unblocked {
    pub fn new(signal: libc::c_int) -> io::Result<Self> {
        change_mask(libc::SIG_UNBLOCK, signal).map(|previous| Self { previous })
    }
}

impl Drop for Unblocked {
    fn drop(&mut self) {
        restore_mask(&self.previous);
    }
}

/// `signal` is blocked on the current thread while this lives, and one sent meanwhile waits.
///
/// For a backend whose signal would otherwise keep interrupting a blocking call made on the
/// guest's behalf: Apache's network I/O retries a wait that a signal interrupts with its whole
/// timeout again, so a signal repeated until the guest ends would keep it waiting without end.
pub struct Blocked {
    previous: libc::sigset_t,
}

impl Blocked {
    pub fn new(signal: libc::c_int) -> io::Result<Self> {
        change_mask(libc::SIG_BLOCK, signal).map(|previous| Self { previous })
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        restore_mask(&self.previous);
    }
}

/// Blocks or unblocks (`how`) `signal` on the current thread: the mask it had before.
fn change_mask(how: libc::c_int, signal: libc::c_int) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    let mut previous = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises `set`, sigaddset adds a signal number libc validates,
    // and pthread_sigmask only changes this thread's mask, writing the old one to `previous`,
    // which is read only once it succeeded.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        if libc::sigaddset(set.as_mut_ptr(), signal) != 0 {
            return Err(io::Error::last_os_error());
        }
        let status = libc::pthread_sigmask(how, set.as_ptr(), previous.as_mut_ptr());
        if status != 0 {
            return Err(io::Error::from_raw_os_error(status));
        }
        Ok(previous.assume_init())
    }
}

fn restore_mask(previous: &libc::sigset_t) {
    // SAFETY: restores the mask this thread had, which pthread_sigmask returned.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(signal: libc::c_int) -> bool {
        let mut current = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: reads this thread's mask into `current`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), current.as_mut_ptr());
            libc::sigismember(current.as_ptr(), signal) == 1
        }
    }

    #[test]
    fn a_signal_is_unblocked_while_the_guard_lives() {
        std::thread::spawn(|| {
            let mut all = MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: blocks every signal on this test thread only.
            unsafe {
                libc::sigfillset(all.as_mut_ptr());
                libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), std::ptr::null_mut());
            }
            assert!(blocked(libc::SIGUSR1));
            {
                let _unblocked = Unblocked::new(libc::SIGUSR1).unwrap();
                assert!(!blocked(libc::SIGUSR1));
                assert!(blocked(libc::SIGUSR2), "only the one signal");
            }
            assert!(blocked(libc::SIGUSR1), "the mask is restored");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_signal_is_blocked_while_the_guard_lives() {
        std::thread::spawn(|| {
            assert!(!blocked(libc::SIGUSR1));
            {
                let _blocked = Blocked::new(libc::SIGUSR1).unwrap();
                assert!(blocked(libc::SIGUSR1));
                assert!(!blocked(libc::SIGUSR2), "only the one signal");
            }
            assert!(!blocked(libc::SIGUSR1), "the mask is restored");
        })
        .join()
        .unwrap();
    }
}
