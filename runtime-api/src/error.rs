//! Errors of the three phases, each carrying the runtime's name so a log line says which engine
//! failed. The location and module file are added by mod_wasm, which knows them. What an engine
//! reported is kept as the error's [`source`](std::error::Error::source) (a [`Cause`]), not only
//! as text.

use crate::execution::{EntryPoint, GuestPath, Preopen};
use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// An error as engines and the libraries under them give it: any error, or a message.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// What made an engine fail: its own error, kept as it was so that a caller can walk or
/// downcast it, and what mod_wasm was doing when it happened. Shown on one line, as a log needs
/// it: `doing: error: its source: …`, each source named once (many errors already show their
/// source in their own message).
pub struct Cause {
    doing: Option<&'static str>,
    error: BoxError,
}

impl Cause {
    /// `error`, as the engine gave it.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Cause {
            doing: None,
            error: error.into(),
        }
    }

    /// `error`, which happened while mod_wasm was `doing` what it says (`cannot load compiled
    /// code`).
    pub fn doing(doing: &'static str, error: impl Into<BoxError>) -> Self {
        Cause {
            doing: Some(doing),
            error: error.into(),
        }
    }

    /// The engine's error itself.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.error.to_string();
        let mut next = self.error.source();
        while let Some(source) = next {
            let text = source.to_string();
            if !shown.contains(&text) {
                shown = format!("{shown}: {text}");
            }
            next = source.source();
        }
        match self.doing {
            Some(doing) => write!(f, "{doing}: {shown}"),
            None => f.write_str(&shown),
        }
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cause")
            .field("doing", &self.doing)
            .field("error", &self.error)
            .finish()
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
    }
}

/// A module could not be compiled or its imports cannot be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{runtime}: not a valid WebAssembly module: {cause}")]
    Invalid {
        runtime: &'static str,
        #[source]
        cause: Cause,
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
    #[error("{runtime}: {cause}")]
    Engine {
        runtime: &'static str,
        #[source]
        cause: Cause,
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
    #[error("{runtime}: {cause}")]
    Engine {
        runtime: &'static str,
        #[source]
        cause: Cause,
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
    #[error("{runtime}: cannot open directory {} for guest path {guest}: {cause}", host.display())]
    Preopen {
        runtime: &'static str,
        guest: GuestPath,
        host: PathBuf,
        #[source]
        cause: Cause,
    },
    #[error("{runtime}: cannot instantiate the module: {cause}")]
    Instantiate {
        runtime: &'static str,
        #[source]
        cause: Cause,
    },
    /// What the guest did, as the engine describes it with the wasm functions on the stack:
    /// an event of the guest's, not an engine's error, so it is kept as the text of its log
    /// line.
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
    pub fn preopen(runtime: &'static str, preopen: &Preopen, error: impl Into<BoxError>) -> Self {
        RunError::Preopen {
            runtime,
            guest: preopen.guest.clone(),
            host: preopen.host.clone(),
            cause: Cause::new(error),
        }
    }

    /// The sandbox of a run could not be built, while doing what `doing` says.
    pub fn instantiate(
        runtime: &'static str,
        doing: &'static str,
        error: impl Into<BoxError>,
    ) -> Self {
        RunError::Instantiate {
            runtime,
            cause: Cause::doing(doing, error),
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
    fn a_cause_is_kept_as_the_source_and_shown_with_its_chain_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("says its source: {0}")]
        struct Repeats(#[source] std::io::Error);

        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "inner");
        let error = LoadError::Engine {
            runtime: "rt",
            cause: Cause::doing("cannot load compiled code", Outer(io())),
        };
        assert_eq!(
            error.to_string(),
            "rt: cannot load compiled code: outer: inner"
        );
        let cause = error.source().expect("the cause");
        let engine_error = cause.source().expect("the engine's error");
        assert!(engine_error.downcast_ref::<Outer>().is_some());
        assert_eq!(engine_error.source().unwrap().to_string(), "inner");

        assert_eq!(
            Cause::new(Repeats(io())).to_string(),
            "says its source: inner"
        );
        assert_eq!(Cause::new("a message").to_string(), "a message");
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
