//! Stopping runs at their time limit: one thread per process watches the deadlines of every
//! run and interrupts the stores that pass theirs. When the server stops without waiting for its
//! requests, every run's deadline is now.
//!
//! Wasmer interrupts a store by signalling (`SIGUSR1`) the thread running it, which turns
//! into a `HostInterrupt` trap in the guest's code. A signal that arrives while the guest is in
//! a host function is kept until the function returns; one that arrives just before the guest
//! enters wasm can be missed, so an interrupted run that has not ended is interrupted again
//! every [`RETRY`] until it does.
//!
//! A guest waiting in a host call (a sleep, `poll_oneoff`, a socket) would only return to its
//! code when the wait ends, so its WASIX thread is also sent `SIGKILL`, WASIX's own: the waits
//! WASIX makes interruptible end with it, and the guest exits. The run's [`Stop`] ends the
//! others (its sockets).

use crate::stop::Stop;
use runtime_api::sync::{lock, wait_timeout};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use wasmer::Interrupter;
use wasmer_wasix::types::wasi::Signal;
use wasmer_wasix::WasiThread;

/// How soon a run that was interrupted and is still running is interrupted again.
const RETRY: Duration = Duration::from_millis(10);

/// How long the watching thread sleeps when no run is in progress. Runs that start in that
/// time and are due after it need no wake-up: with time limits of seconds, a run never
/// wakes the thread, which would cost each request a thread switch.
const IDLE: Duration = Duration::from_secs(1);

static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();
static STARTED: OnceLock<Result<(), String>> = OnceLock::new();

/// The deadlines of the runs in progress in this process.
pub struct Watchdog {
    runs: Mutex<Runs>,
    /// Wakes the watching thread when a run with an earlier deadline starts.
    changed: Condvar,
}

#[derive(Default)]
struct Runs {
    next_id: u64,
    watched: HashMap<u64, Watched>,
    /// When the watching thread wakes up next; `None` before it first waits. A run due later
    /// needs no wake-up.
    next_wake: Option<Instant>,
}

struct Watched {
    deadline: Instant,
    interrupter: Interrupter,
    thread: WasiThread,
    stop: Arc<Stop>,
}

impl Watched {
    fn stop(&self) {
        self.interrupter.interrupt();
        if self.stop.stop() {
            self.thread.signal(Signal::Sigkill);
        }
    }
}

/// One run being watched; dropping it ends the watch.
pub struct Watch {
    watchdog: &'static Watchdog,
    id: u64,
    stop: Arc<Stop>,
}

impl Watch {
    /// Whether the run was stopped: its deadline passed, or the server is stopping. A run
    /// stopped while it waited ends as if it had exited, and only this tells the two apart.
    pub fn fired(&self) -> bool {
        self.stop.stopped()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.watchdog.lock().watched.remove(&self.id);
    }
}

impl Watchdog {
    /// The watchdog of this process, its thread started on first use. It is only used in
    /// processes that serve requests, so the thread is never inherited across a fork.
    pub fn of_process() -> std::io::Result<&'static Watchdog> {
        let watchdog = WATCHDOG.get_or_init(|| Watchdog {
            runs: Mutex::default(),
            changed: Condvar::new(),
        });
        let started = STARTED.get_or_init(|| {
            std::thread::Builder::new()
                .name("mod_wasm-watchdog".into())
                .spawn(|| watchdog.watch_forever())
                .map(drop)
                .map_err(|e| e.to_string())
        });
        match started {
            Ok(()) => Ok(watchdog),
            Err(e) => Err(std::io::Error::other(e.clone())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Runs> {
        // Nothing here can panic while the lock is held in a way that breaks the map.
        lock(&self.runs)
    }

    /// Interrupts every run in progress now, and every run watched from now on as soon as it
    /// starts (see [`runtime_api::stopping`]). Nothing to do in a process that never ran one.
    pub fn stop_all() {
        let Some(watchdog) = WATCHDOG
            .get()
            .filter(|_| matches!(STARTED.get(), Some(Ok(()))))
        else {
            return;
        };
        let now = Instant::now();
        for run in watchdog.lock().watched.values_mut() {
            run.deadline = now;
        }
        watchdog.changed.notify_one();
    }

    /// Interrupts the store of `interrupter` at `deadline` (and again until the watch ends),
    /// and ends the waits of its WASIX `thread` and those registered with `stop`.
    pub fn watch(
        &'static self,
        deadline: Instant,
        interrupter: Interrupter,
        thread: WasiThread,
        stop: Arc<Stop>,
    ) -> Watch {
        let deadline = if runtime_api::stopping::requested() {
            Instant::now()
        } else {
            deadline
        };
        let mut runs = self.lock();
        let id = runs.next_id;
        runs.next_id += 1;
        runs.watched.insert(
            id,
            Watched {
                deadline,
                interrupter,
                thread,
                stop: stop.clone(),
            },
        );
        let sooner = runs.next_wake.is_none_or(|wake| deadline < wake);
        drop(runs);
        if sooner {
            self.changed.notify_one();
        }
        Watch {
            watchdog: self,
            id,
            stop,
        }
    }

    fn watch_forever(&self) -> ! {
        let mut runs = self.lock();
        loop {
            let now = Instant::now();
            for run in runs.watched.values_mut() {
                if run.deadline <= now {
                    run.stop();
                    run.deadline = now + RETRY;
                }
            }
            let next = runs
                .watched
                .values()
                .map(|run| run.deadline)
                .min()
                .unwrap_or(now + IDLE);
            runs.next_wake = Some(next);
            let wait = next.saturating_duration_since(Instant::now());
            runs = wait_timeout(&self.changed, runs, wait);
        }
    }
}
