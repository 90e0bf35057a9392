//! Errors of the three phases, each carrying the runtime's name so a log line says which engine
//! failed. The location and module file are added by mod_wasm, which knows them.

use crate::execution::{EntryPoint, GuestPath, Preopen};
use std::path::PathBuf;
use std::time::Duration;

/// A module could not be compiled or its imports cannot be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{runtime}: not a valid WebAssembly module: {reason}")]
    Invalid {
        runtime: &'static str,
        reason: String,
    },
    #[error(
        "{runtime}: the module imports '{module}::{name}', which this runtime does not provide"
    )]
    UnsatisfiedImport {
        runtime: &'static str,
        module: String,
        name: String,
    },
    #[error(
        "{runtime}: the module imports '{module}::{name}' as {imported}, but this runtime provides {provided}"
    )]
    IncompatibleImport {
        runtime: &'static str,
        module: String,
        name: String,
        /// The function type the module declares, as `(i32, i32) -> i32`.
        imported: String,
        /// The function type the runtime has under that name.
        provided: String,
    },
    /// The runtime could provide the import, but mod_wasm does not let it: what it would do
    /// escapes the limits of a run.
    #[error("{runtime}: the module imports '{module}::{name}', which mod_wasm refuses: {why}")]
    RefusedImport {
        runtime: &'static str,
        module: String,
        name: String,
        why: &'static str,
    },
    #[error("{runtime}: {reason}")]
    Engine {
        runtime: &'static str,
        reason: String,
    },
}

/// Precompiled bytes could not be turned into a runnable module in this process.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{runtime}: cannot load an artifact produced by runtime {produced_by}")]
    ForeignArtifact {
        runtime: &'static str,
        produced_by: &'static str,
    },
    #[error("{runtime}: {reason}")]
    Engine {
        runtime: &'static str,
        reason: String,
    },
}

/// A run did not complete: the guest never reached its exit, or the sandbox could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{runtime}: the module exports no function '{entry_point}'")]
    MissingEntryPoint {
        runtime: &'static str,
        entry_point: EntryPoint,
    },
    #[error("{runtime}: the entry point '{entry_point}' is not a function without parameters and results")]
    EntryPointSignature {
        runtime: &'static str,
        entry_point: EntryPoint,
    },
    #[error("{runtime}: cannot open directory {host} for guest path {guest}: {reason}")]
    Preopen {
        runtime: &'static str,
        guest: GuestPath,
        host: PathBuf,
        reason: String,
    },
    #[error("{runtime}: cannot instantiate the module: {reason}")]
    Instantiate {
        runtime: &'static str,
        reason: String,
    },
    #[error("{runtime}: the guest trapped: {reason}")]
    Trap {
        runtime: &'static str,
        reason: String,
    },
    /// The guest was still running when the server stopped without waiting for its requests,
    /// and was stopped (see [`crate::stopping`]).
    #[error("{runtime}: the guest was stopped because the server is stopping")]
    Stopped { runtime: &'static str },
    /// The guest was still running when its time was up, and was stopped.
    #[error("{runtime}: the guest was stopped after {}, its time limit", seconds(*.limit))]
    TimedOut {
        runtime: &'static str,
        limit: Duration,
    },
}

/// A duration as people read it in a log line: `30 s`, `1.5 s`, `250 ms`.
pub fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{} s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

impl RunError {
    /// The guest trapped for `reason`; `frames` are the wasm functions on the stack, innermost
    /// first, as far as the runtime knows their names. One log line in the same shape for every
    /// runtime: `reason; wasm backtrace: f <- g`.
    pub fn trap<'a>(
        runtime: &'static str,
        reason: impl std::fmt::Display,
        frames: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let frames: Vec<&str> = frames.into_iter().collect();
        let reason = if frames.is_empty() {
            reason.to_string()
        } else {
            format!("{reason}; wasm backtrace: {}", frames.join(" <- "))
        };
        RunError::Trap { runtime, reason }
    }

    /// A run the runtime interrupted, by the same means for both reasons: stopped because the
    /// server is stopping (see [`crate::stopping`]) if it is, at its time limit otherwise.
    pub fn interrupted(runtime: &'static str, limits: &crate::Limits) -> Self {
        if crate::stopping::requested() {
            RunError::Stopped { runtime }
        } else {
            RunError::TimedOut {
                runtime,
                limit: limits.timeout,
            }
        }
    }

    /// `preopen` could not be made available to the guest.
    pub fn preopen(
        runtime: &'static str,
        preopen: &Preopen,
        reason: impl std::fmt::Display,
    ) -> Self {
        RunError::Preopen {
            runtime,
            guest: preopen.guest.clone(),
            host: preopen.host.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trap_names_its_frames_innermost_first() {
        let trap = RunError::trap("rt", "unreachable", ["inner", "outer"]);
        assert_eq!(
            trap.to_string(),
            "rt: the guest trapped: unreachable; wasm backtrace: inner <- outer"
        );
        let bare = RunError::trap("rt", "out of bounds", []);
        assert_eq!(bare.to_string(), "rt: the guest trapped: out of bounds");
    }

    #[test]
    fn time_limits_read_as_people_write_them() {
        let stopped = RunError::TimedOut {
            runtime: "rt",
            limit: Duration::from_secs(30),
        };
        assert_eq!(
            stopped.to_string(),
            "rt: the guest was stopped after 30 s, its time limit"
        );
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
    }
}
