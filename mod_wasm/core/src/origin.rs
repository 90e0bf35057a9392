//! Where configuration came from, so every message can point an admin at the line to change,
//! and so an app knows the URL it is mounted at.

use std::fmt;

/// Where a directive was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    /// The enclosing section as written, e.g. `<Location /app>`, or `server config`.
    pub section: String,
    /// The URL space the enclosing section matches, when it is a `<Location>`.
    pub mount: Option<Mount>,
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

/// The URLs a `<Location>` section matches: where an app whose module is configured in it is
/// mounted. Apache matches both against the request's decoded path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mount {
    /// `<Location /path>`: the path and everything below it.
    Prefix(String),
    /// `<LocationMatch regex>` or `<Location ~ regex>`: what the expression matches.
    Pattern(String),
}

impl Mount {
    /// The mount a `<Location>` with this argument makes: `None` for wildcard paths (`*`, `?`,
    /// `[`), which match whole paths rather than a part of one.
    pub fn location(path: &str, regex: bool) -> Option<Mount> {
        match regex {
            true => Some(Mount::Pattern(path.to_owned())),
            false if path.contains(['*', '?', '[']) => None,
            false => Some(Mount::Prefix(path.to_owned())),
        }
    }
}

/// Whether a literal `<Location outer>` applies to requests for `path`, as Apache 2.4 matches
/// it: a prefix that ends at a path segment boundary.
pub fn location_contains(outer: &str, path: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| outer.ends_with('/') || rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_contain_paths_at_segment_boundaries() {
        assert!(location_contains("/app", "/app"));
        assert!(location_contains("/app", "/app/admin"));
        assert!(location_contains("/app/", "/app/admin"));
        assert!(location_contains("/", "/anything"));
        assert!(!location_contains("/app", "/application"));
        assert!(!location_contains("/app/admin", "/app"));
    }

    #[test]
    fn wildcard_locations_mount_nothing() {
        assert_eq!(
            Mount::location("/app", false),
            Some(Mount::Prefix("/app".into()))
        );
        assert_eq!(
            Mount::location("^/a[0-9]", true),
            Some(Mount::Pattern("^/a[0-9]".into()))
        );
        assert_eq!(Mount::location("/app/*/x", false), None);
    }
}
