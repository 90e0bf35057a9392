//! Ending the runs of a server that stops without waiting for its requests (`apachectl stop`,
//! a restart that is not graceful): each child ends the runs in progress instead of waiting for
//! their time limits, and starts no more.
//!
//! mod_wasm requests it through [`Registry::stop_runs`](crate::Registry::stop_runs); each
//! runtime then ends its runs in its own way ([`Runtime::stop_runs`](crate::Runtime::stop_runs)),
//! and its runs report [`RunError::Stopped`](crate::RunError::Stopped).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether this process is ending its runs. Once true it stays true: the process is exiting.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

pub(crate) fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
