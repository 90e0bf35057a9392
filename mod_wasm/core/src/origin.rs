//! Where configuration came from, so every message can point an admin at the line to change.

use std::fmt;

/// Where a directive was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    /// The enclosing section as written, e.g. `<Location /app>`, or `server config`.
    pub section: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.section, self.file, self.line)
    }
}

/// A value together with the directive that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared<T> {
    pub value: T,
    pub origin: Origin,
}
