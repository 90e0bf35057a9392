//! Ending runs when the server stops without waiting for its requests.
//!
//! The SDK stops a run at its time limit with a timer that sends the first real-time signal to
//! the thread running it, whose handler then leaves the run. A stopping server sends the same
//! signal to every thread running a guest, with the value the handler expects (a pointer to the
//! id of the thread it is meant for), so each run ends as if its time were up. A signal that
//! reaches a thread between two polls of its run is ignored by the handler, so the signals are
//! repeated until the runs have ended, for [`GIVE_UP_AFTER`] at most.

use runtime_api::sync::lock;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often the signals are sent again while runs are left.
const REPEAT: Duration = Duration::from_millis(10);

/// How long runs are signalled before they are left to their time limit (a run blocked in a
/// host function receives the signal when the function returns).
const GIVE_UP_AFTER: Duration = Duration::from_secs(2);

/// The threads running a guest in this process, by run.
static RUNNING: Mutex<Running> = Mutex::new(Running {
    next_id: 0,
    threads: None,
});

struct Running {
    next_id: u64,
    threads: Option<HashMap<u64, &'static libc::pthread_t>>,
}

fn running() -> MutexGuard<'static, Running> {
    // Nothing panics while the lock is held.
    lock(&RUNNING)
}

thread_local! {
    /// This thread's id where the signal handler can read it whenever a signal arrives, even
    /// one that stays pending until a later run: it is never freed.
    static THIS_THREAD: &'static libc::pthread_t =
        // SAFETY: pthread_self has no preconditions.
        Box::leak(Box::new(unsafe { libc::pthread_self() }));
}

/// The current thread is running a guest until this is dropped.
pub(crate) struct Run {
    id: u64,
}

impl Run {
    /// Registers the current thread's run; call it where the SDK's signal can reach the thread.
    pub(crate) fn enter() -> Run {
        let thread = THIS_THREAD.with(|thread| *thread);
        let mut running = running();
        let id = running.next_id;
        running.next_id += 1;
        running.threads.get_or_insert_default().insert(id, thread);
        Run { id }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(threads) = running().threads.as_mut() {
            threads.remove(&self.id);
        }
    }
}

/// Signals every thread running a guest until none is left, or [`GIVE_UP_AFTER`].
pub(crate) fn stop_all() {
    if !handler_installed() {
        // No run has reached the SDK yet: its signal would end the process.
        return;
    }
    let give_up = Instant::now() + GIVE_UP_AFTER;
    while Instant::now() < give_up {
        {
            // Signalled under the lock: a registered thread is inside its run, alive.
            let running = running();
            let Some(threads) = running.threads.as_ref().filter(|t| !t.is_empty()) else {
                return;
            };
            for thread in threads.values() {
                let value = libc::sigval {
                    sival_ptr: std::ptr::from_ref::<libc::pthread_t>(thread)
                        .cast_mut()
                        .cast(),
                };
                // SAFETY: `thread` is alive (see above); the value points to memory that is
                // never freed, holding the thread's own id, as the SDK's handler expects.
                unsafe { libc::pthread_sigqueue(**thread, libc::SIGRTMIN(), value) };
            }
        }
        std::thread::sleep(REPEAT);
    }
}

/// Whether the SDK's handler of its timeout signal is installed: it is installed at the first
/// run in the process and never removed.
fn handler_installed() -> bool {
    // SAFETY: only reads the signal's disposition into a zeroed struct.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGRTMIN(), std::ptr::null(), &mut current) == 0
            && current.sa_sigaction != libc::SIG_DFL
            && current.sa_sigaction != libc::SIG_IGN
    }
}
