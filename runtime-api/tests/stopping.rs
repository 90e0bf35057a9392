//! Stopping a server's runs: a process-wide decision, so it is tested in a process of its own.

use runtime_api::{
    stopping, Capabilities, CompileError, Limits, LoadError, LoadedModule, Precompiled, Registry,
    RunError, Runtime,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A runtime that counts how often it was asked to stop its runs.
struct Stoppable(&'static str, Arc<AtomicUsize>);

impl Runtime for Stoppable {
    fn name(&self) -> &'static str {
        self.0
    }
    fn version(&self) -> String {
        "1.0".to_owned()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    fn compile(&self, wasm: &[u8]) -> Result<Precompiled, CompileError> {
        Ok(Precompiled::new(self.0, wasm))
    }
    fn load(&self, _: &Precompiled) -> Result<Arc<dyn LoadedModule>, LoadError> {
        Err(LoadError::Engine {
            runtime: self.0,
            cause: runtime_api::Cause::new("not needed"),
        })
    }
    fn stop_runs(&self) {
        assert!(
            stopping::requested(),
            "asked before the decision is visible"
        );
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn stopping_asks_every_runtime_and_turns_interruptions_into_stops() {
    let asked = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    registry
        .register(Stoppable("one", asked.clone()))
        .register(Stoppable("two", asked.clone()));
    let limits = Limits::DEFAULT;

    assert!(!stopping::requested());
    assert!(matches!(
        RunError::interrupted("one", &limits),
        RunError::TimedOut { runtime: "one", limit } if limit == limits.timeout
    ));

    registry.stop_runs();
    assert!(stopping::requested());
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert!(matches!(
        RunError::interrupted("one", &limits),
        RunError::Stopped { runtime: "one" }
    ));
}
