//! What can be wrong with mod_wasm's configuration, as values a caller can tell apart: an
//! argument a directive does not take, a file it names that cannot be used, a section that
//! cannot run under its runtime. Each reads as the one line an admin is shown: Apache adds the
//! directive's name, file and line to a [`DirectiveError`]; a [`ResolveError`] names the
//! directive and where it was written itself, since it is found once the whole configuration
//! is known.

use crate::origin::{Declared, Origin};
use runtime_api::{Capability, InvalidGrant, InvalidGuestPath, ProgramKind, UnknownRuntime};
use std::fmt;
use std::path::PathBuf;

/// Why a directive cannot be applied as written, found when it is read.
#[derive(Debug, thiserror::Error)]
pub enum DirectiveError {
    /// An argument is not a value the directive takes; `expected` says what it takes, as
    /// `a time limit: give seconds (30, 30s) …`.
    #[error("'{value}' is not {expected}")]
    Invalid {
        value: String,
        expected: &'static str,
    },
    /// A file or directory it names cannot be used.
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    UnknownRuntime(#[from] UnknownRuntime),
    #[error(transparent)]
    Grant(#[from] InvalidGrant),
    #[error(transparent)]
    GuestPath(#[from] InvalidGuestPath),
}

impl DirectiveError {
    /// `value`, which is not `expected`.
    pub fn invalid(value: &str, expected: &'static str) -> Self {
        DirectiveError::Invalid {
            value: value.to_owned(),
            expected,
        }
    }
}

/// A file or directory a directive names, and why it cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be opened or read: `action` is what was tried (`open`, `read`, `use
    /// directory`).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// It is there but is not what the directive needs, as `a directory` or `a regular file`.
    #[error("{} is not {expected}", path.display())]
    Not {
        path: PathBuf,
        expected: &'static str,
    },
    /// A WebAssembly binary of a version mod_wasm does not know.
    #[error("{} has an unsupported WebAssembly binary version", path.display())]
    UnsupportedVersion { path: PathBuf },
    /// A component of a kind mod_wasm does not run.
    #[error("{}: {reason}", path.display())]
    Component { path: PathBuf, reason: String },
}

impl FileError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        FileError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Why a section's merged configuration cannot run, found when it is resolved: by the
/// configuration check for the sections it sees, by a request for combinations it cannot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("wasm-handler is set here but no WasmModule applies")]
    NoModule,
    #[error(
        "WasmModule {} in {}: no WasmRuntime applies, and this mod_wasm was built without any \
         runtime",
        module.value.display(),
        module.origin
    )]
    NoRuntime { module: Declared<PathBuf> },
    #[error(transparent)]
    Unsupported(#[from] Box<Unsupported>),
    #[error(
        "WasmPreinit in {origin}: modules are pre-initialised with wasmtime's Wizer, and this \
         mod_wasm was built without the runtime wasmtime (cargo feature 'wasmtime')"
    )]
    NoPreinitializer { origin: Origin },
    #[error(
        "WasmPreinit in {origin}: only core modules are pre-initialised, and the module is {kind}"
    )]
    PreinitComponent { origin: Origin, kind: ProgramKind },
    #[error(
        "WasmReuse in {origin}: only WASI 0.3 HTTP handlers are reused (wasi:http/handler), and \
         the module is {kind}"
    )]
    ReuseNotService { origin: Origin, kind: ProgramKind },
}

/// A directive that asks for what its section's runtime cannot give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The directive's name and its value, as written.
    pub directive: &'static str,
    pub value: String,
    pub origin: Origin,
    pub runtime: &'static str,
    /// What the runtime would need.
    pub lacks: Capability,
    /// Why the directive needs it, as a clause: `runtime wasmtime cannot open connections`.
    pub why: String,
    /// The runtimes built in that have it.
    pub capable: Vec<&'static str>,
}

impl Unsupported {
    /// The directive `directive value` declared at `declared`, which `runtime` cannot honour
    /// for `why`; the runtimes of `registry` that have `lacks` are named as the way out. Boxed,
    /// as it is carried in a `Result` whose success is small.
    pub(crate) fn new<T>(
        directive: &'static str,
        declared: &Declared<T>,
        value: impl fmt::Display,
        runtime: &dyn runtime_api::Runtime,
        registry: &runtime_api::Registry,
        lacks: Capability,
        why: String,
    ) -> Box<Self> {
        Box::new(Unsupported {
            directive,
            value: value.to_string(),
            origin: declared.origin.clone(),
            runtime: runtime.name(),
            lacks,
            why,
            capable: registry
                .iter()
                .filter(|r| r.capabilities().has(lacks))
                .map(|r| r.name())
                .collect(),
        })
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} in {}: {}; ",
            self.directive, self.value, self.origin, self.why
        )?;
        if self.capable.is_empty() {
            write!(f, "no runtime built into this mod_wasm has {}", self.lacks)
        } else {
            write!(f, "use WasmRuntime {}", self.capable.join(" or "))
        }
    }
}

impl std::error::Error for Unsupported {}
