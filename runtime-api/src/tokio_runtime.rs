//! The one tokio runtime of a process that serves requests, which every backend's asynchronous
//! host calls share: timers, sockets, the blocking pool for file calls, WASIX's tasks.
//!
//! Guests run on Apache's worker threads, which poll a run's future themselves (`block_on`) or
//! call into the runtime synchronously; tokio's one worker thread drives what runs in the
//! background (outgoing connections, WASIX's tasks), and its blocking threads make file calls,
//! one per run at a time. One runtime per process, however many of the runtimes its locations
//! use, keeps that to one worker and one pool per Apache child.
//!
//! It is created on first use, by a backend's `load`, which only runs in processes that serve
//! requests: never in Apache's parent, whose threads would not survive the fork into its
//! children.

use std::sync::OnceLock;

/// As many blocking threads as Apache's default `ThreadLimit`: each serving thread's run
/// makes one file call at a time. Idle ones end after a while.
const MAX_BLOCKING_THREADS: usize = 64;

/// The process's tokio runtime, started the first time it is asked for. Fails only when the
/// runtime's threads cannot be started; a later call tries again.
pub fn process_runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name("mod_wasm-tokio")
        // Timers for sleeps and deadlines; the reactor for sockets (WasmEdge's async-wasi,
        // outgoing HTTP requests of components).
        .enable_all()
        .build()?;
    // Two threads asking at once both build one; the one that loses is dropped here, before
    // anything ran on it.
    Ok(RUNTIME.get_or_init(|| runtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_caller_gets_the_same_runtime_and_it_runs_timers() {
        let first = process_runtime().unwrap();
        let second = process_runtime().unwrap();
        assert!(std::ptr::eq(first, second));
        let slept = first.block_on(async {
            let start = std::time::Instant::now();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            start.elapsed()
        });
        assert!(slept >= std::time::Duration::from_millis(20), "{slept:?}");
    }

    #[test]
    fn its_blocking_pool_runs_blocking_calls() {
        let runtime = process_runtime().unwrap();
        let answer = runtime.block_on(async { tokio::task::spawn_blocking(|| 42).await.unwrap() });
        assert_eq!(answer, 42);
    }
}
