//! What one run of a module may see: the WASI capabilities a location grants.

use crate::{ConnectGrants, Limits};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Everything a runtime needs to set up the sandbox for one run, apart from stdio.
///
/// mod_wasm resolves it from the merged per-location configuration, adding the CGI
/// meta-variables of the request to `env` when CGI is enabled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionConfig {
    /// The guest's argv, argv\[0\] included.
    pub args: Vec<String>,
    /// Environment variables in the order the guest sees them; names are unique.
    pub env: Vec<(String, String)>,
    /// Host directories the guest may open, each under a guest path.
    pub preopens: Vec<Preopen>,
    /// The exported function to call.
    pub entry_point: EntryPoint,
    /// The connections the guest may open: none unless granted. Runtimes without sockets ignore
    /// it, because mod_wasm never grants them connections.
    pub connect: ConnectGrants,
    /// How long the run may take and how much memory it may grow to.
    pub limits: Limits,
    /// Whether the instance may go on to serve other runs (`WasmReuse`).
    pub reuse: Reuse,
}

/// Whether an instance may serve more than one run. Only WASI 0.3 HTTP handlers, whose
/// handler is an async function made to be called again, are reused; a runtime that runs them
/// keeps an instance only for runs with the same sandbox, one run at a time, and drops it when
/// a run fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reuse {
    /// A fresh instance for every run: mod_wasm's promise unless a location says otherwise.
    #[default]
    Off,
    /// An instance serves up to this many runs, one after another.
    UpTo(std::num::NonZeroU32),
}

impl Reuse {
    /// Whether an instance that served `served` runs may serve another.
    pub fn allows_another(self, served: u32) -> bool {
        match self {
            Reuse::Off => false,
            Reuse::UpTo(most) => served < most.get(),
        }
    }
}

/// A host directory made visible to the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preopen {
    pub guest: GuestPath,
    pub host: PathBuf,
    pub access: Access,
}

/// Whether the guest may modify what it finds under a preopened directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    #[default]
    ReadWrite,
    ReadOnly,
}

/// An absolute path inside the guest, without `.` or `..` segments and without a trailing slash
/// (except for `/` itself).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestPath(String);

/// Why a string is not a [`GuestPath`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGuestPath {
    #[error("guest path '{0}' is relative; guest paths must start with '/'")]
    Relative(String),
    #[error("guest path '{0}' contains a '.' or '..' segment")]
    DotSegment(String),
}

impl GuestPath {
    pub fn new(path: impl Into<String>) -> Result<Self, InvalidGuestPath> {
        let path = path.into();
        if !path.starts_with('/') {
            return Err(InvalidGuestPath::Relative(path));
        }
        if path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(InvalidGuestPath::DotSegment(path));
        }
        let trimmed = path.trim_end_matches('/');
        let normalised = if trimmed.is_empty() { "/" } else { trimmed };
        // Collapse repeated slashes so "/a//b" and "/a/b" are the same preopen.
        let mut collapsed = String::with_capacity(normalised.len());
        for c in normalised.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        Ok(Self(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path `child` (a path below `self` on the host side) would have in the guest:
    /// `/data` joined with `sub/file` is `/data/sub/file`.
    pub fn join(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        match (self.0.as_str(), relative) {
            (base, "") => base.to_owned(),
            ("/", rel) => format!("/{rel}"),
            (base, rel) => format!("{base}/{rel}"),
        }
    }
}

impl TryFrom<String> for GuestPath {
    type Error = InvalidGuestPath;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<GuestPath> for String {
    fn from(value: GuestPath) -> Self {
        value.0
    }
}

impl fmt::Display for GuestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of the exported function a run calls: `_start` for WASI commands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryPoint(String);

impl EntryPoint {
    pub const WASI_COMMAND: &'static str = "_start";

    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for EntryPoint {
    fn default() -> Self {
        Self(Self::WASI_COMMAND.to_owned())
    }
}

impl fmt::Display for EntryPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_must_be_absolute() {
        assert_eq!(
            GuestPath::new("data"),
            Err(InvalidGuestPath::Relative("data".into()))
        );
        assert!(GuestPath::new("/data").is_ok());
    }

    #[test]
    fn guest_paths_reject_dot_segments() {
        assert!(matches!(
            GuestPath::new("/data/../etc"),
            Err(InvalidGuestPath::DotSegment(_))
        ));
        assert!(matches!(
            GuestPath::new("/./data"),
            Err(InvalidGuestPath::DotSegment(_))
        ));
    }

    #[test]
    fn guest_paths_are_normalised() {
        assert_eq!(GuestPath::new("/data/").unwrap().as_str(), "/data");
        assert_eq!(GuestPath::new("//a//b/").unwrap().as_str(), "/a/b");
        assert_eq!(GuestPath::new("/").unwrap().as_str(), "/");
        assert_eq!(GuestPath::new("///").unwrap().as_str(), "/");
    }

    #[test]
    fn guest_paths_join() {
        let data = GuestPath::new("/data").unwrap();
        assert_eq!(data.join("a/b.php"), "/data/a/b.php");
        assert_eq!(data.join("/a"), "/data/a");
        assert_eq!(data.join(""), "/data");
        assert_eq!(GuestPath::new("/").unwrap().join("x"), "/x");
    }

    #[test]
    fn entry_point_defaults_to_start() {
        assert_eq!(EntryPoint::default().as_str(), "_start");
    }
}
