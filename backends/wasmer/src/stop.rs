//! Whether a run was stopped, and the waits that end when it is.
//!
//! The watchdog stops a run by interrupting its code and sending its WASIX thread `SIGKILL`,
//! but some of WASIX's waits notice neither: a socket call is a future that WASIX drives to its
//! end without looking at signals. The host side of such a wait registers its waker here, and
//! stopping the run wakes it; polled again, it finds the run stopped and fails.

use runtime_api::sync::lock;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The stop of one run, shared by its watch and its host calls.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    next_id: u64,
    /// The waker of each [`Waiter`] that is waiting, by its id: one each, so a waiter polled
    /// many times holds one waker, and what is registered is bounded by the waiters alive.
    wakers: HashMap<u64, Waker>,
}

impl Stop {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Whether the run was stopped.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stops the run and wakes what waits on it; true the first time.
    pub fn stop(&self) -> bool {
        let first = !self.stopped.swap(true, Ordering::SeqCst);
        // Taken after the flag is set: a waiter registering now either is woken here or,
        // registering after this, finds the flag set.
        let wakers = std::mem::take(&mut self.lock().wakers);
        for waker in wakers.into_values() {
            waker.wake();
        }
        first
    }

    /// A new place for one wait to register its waker.
    pub fn waiter(self: &Arc<Self>) -> Waiter {
        let mut waiting = self.lock();
        let id = waiting.next_id;
        waiting.next_id += 1;
        Waiter {
            stop: self.clone(),
            id,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while the lock is held.
        lock(&self.waiting)
    }
}

/// One wait on a run's stop: a socket direction, a handler, a name lookup.
#[derive(Debug)]
pub struct Waiter {
    stop: Arc<Stop>,
    id: u64,
}

impl Waiter {
    /// Whether the run was stopped; if not, `waker` is woken when it is (replacing the waker
    /// registered before).
    pub fn stopped_or_wake(&self, waker: &Waker) -> bool {
        if self.stop.stopped() {
            return true;
        }
        self.stop.lock().wakers.insert(self.id, waker.clone());
        self.stop.stopped()
    }

    /// Forgets the waker registered, when its wait ended.
    pub fn forget(&self) {
        self.stop.lock().wakers.remove(&self.id);
    }

    /// Whether the run was stopped.
    pub fn stopped(&self) -> bool {
        self.stop.stopped()
    }

    /// A future ready when the run is stopped.
    pub fn until_stopped(self) -> UntilStopped {
        UntilStopped(self)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.forget();
    }
}

/// See [`Waiter::until_stopped`].
#[derive(Debug)]
pub struct UntilStopped(Waiter);

impl Future for UntilStopped {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.stopped_or_wake(cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn stopping_wakes_each_waiter_once_with_its_latest_waker() {
        let stop = Stop::new();
        let (first, second) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let waiter = stop.waiter();
        assert!(!waiter.stopped_or_wake(&Waker::from(first.clone())));
        assert!(!waiter.stopped_or_wake(&Waker::from(second.clone())));
        let forgotten = stop.waiter();
        assert!(!forgotten.stopped_or_wake(&Waker::from(first.clone())));
        drop(forgotten);

        assert!(stop.stop());
        assert!(!stop.stop(), "only the first stop is the first");
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert!(waiter.stopped_or_wake(&Waker::from(first.clone())));
        assert!(
            stop.lock().wakers.is_empty(),
            "nothing registers after the stop"
        );
    }
}
