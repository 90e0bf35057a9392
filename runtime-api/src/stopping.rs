//! Ending the runs of a server that stops without waiting for its requests (`apachectl stop`,
//! a restart that is not graceful): each child ends the runs in progress instead of waiting for
//! their time limits, and starts no more.
//!
//! mod_wasm requests it through [`Registry::stop_runs`](crate::Registry::stop_runs); each
//! runtime then ends its runs in its own way ([`Runtime::stop_runs`](crate::Runtime::stop_runs)),
//! and its runs report [`RunError::Stopped`](crate::RunError::Stopped).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether this process is ending its runs. Once true it stays true: the process is exiting.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

pub(crate) fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// How often a run waiting in a host call looks whether the server is stopping.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Why a waiting run was ended from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cutoff {
    /// Its time limit passed.
    Deadline,
    /// The server is stopping.
    Stopping,
}

/// Completes when `deadline` passes or the server starts stopping, whichever comes first.
///
/// An engine's own interruption (an epoch, a signal) reaches a guest only while it runs its
/// code; a guest waiting in an asynchronous host call (a sleep, `poll_oneoff`, a socket) is a
/// pending future instead. Backends race that future against this one and drop the run when
/// this completes first. Needs a tokio runtime with its timer.
pub async fn cutoff(deadline: Instant) -> Cutoff {
    loop {
        if requested() {
            return Cutoff::Stopping;
        }
        let now = Instant::now();
        if now >= deadline {
            return Cutoff::Deadline;
        }
        tokio::time::sleep((deadline - now).min(STOP_POLL)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_cutoff_completes_at_its_deadline() {
        let started = Instant::now();
        let cutoff = block_on(cutoff(started + Duration::from_millis(150)));
        assert_eq!(cutoff, Cutoff::Deadline);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        // Its steps of at most 100 ms must not overshoot by a step.
        assert!(took < Duration::from_millis(240), "{took:?}");
    }
}
