//! Host directories a guest may open: `WasmDir` and `WasmMapDir`.
//!
//! Merge: grants accumulate by guest path, an inner grant replacing an outer one for the same
//! guest path. Every runtime can grant directories.

use super::{set_by_key, Setting};
use crate::config_error::{DirectiveError, FileError};
use crate::directive::{Applied, Applies, Args, Directive};
use runtime_api::{Access, ExecutionConfig, GuestPath, Preopen};
use std::path::{Path, PathBuf};

/// The directories a section grants, by guest path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directories(pub Vec<Preopen>);

pub const WASM_DIR: Directive = Directive {
    name: c"WasmDir",
    help: c"Grants the module a host directory under the same path: WasmDir /path [ro|rw]",
    applies: Applies::ToSection(Args::OneOrTwo(|config, _, dir, access| {
        let access = parse_access(access)?;
        let guest = GuestPath::new(dir).map_err(|_| {
            DirectiveError::invalid(
                dir,
                "an absolute path (it is the directory's path in the guest too)",
            )
        })?;
        config.dirs.grant_dir(guest, PathBuf::from(dir), access)
    })),
};

pub const WASM_MAP_DIR: Directive = Directive {
    name: c"WasmMapDir",
    help: c"Grants the module a host directory under another path: WasmMapDir /guest /host [ro|rw]",
    applies: Applies::ToSection(Args::TwoOrThree(|config, site, guest, host, access| {
        let access = parse_access(access)?;
        let host = site.server_root_relative(host)?;
        config
            .dirs
            .grant_dir(map_dir_guest_path(guest)?, host, access)
    })),
};

/// The guest path `WasmMapDir` grants a directory under. `./` (or `.`), the guest's working
/// directory, is accepted as the first mod_wasm accepted it: a WASI program starts in `/` and
/// resolves relative paths from there, so the directory is granted under `/`.
fn map_dir_guest_path(guest: &str) -> Result<GuestPath, DirectiveError> {
    let guest = match guest {
        "." | "./" => "/",
        other => other,
    };
    Ok(GuestPath::new(guest)?)
}

/// Parses the optional access keyword of `WasmDir` and `WasmMapDir`.
fn parse_access(word: Option<&str>) -> Result<Access, DirectiveError> {
    match word.map(str::to_ascii_lowercase).as_deref() {
        None | Some("rw") | Some("readwrite") => Ok(Access::ReadWrite),
        Some("ro") | Some("readonly") => Ok(Access::ReadOnly),
        Some(_) => Err(DirectiveError::invalid(
            word.unwrap_or_default(),
            "an access: use 'ro' (read-only) or 'rw' (read-write, the default)",
        )),
    }
}

impl Directories {
    /// Grants `host` under `guest`; the host directory must exist now.
    fn grant_dir(&mut self, guest: GuestPath, host: PathBuf, access: Access) -> Applied {
        check_host_dir(&host)?;
        let preopen = Preopen {
            guest,
            host,
            access,
        };
        set_by_key(&mut self.0, preopen, |p| &p.guest);
        Ok(())
    }
}

fn check_host_dir(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(FileError::Not {
            path: path.to_owned(),
            expected: "a directory",
        }),
        Err(e) => Err(FileError::io("use directory", path, e)),
    }
}

/// The path under which the guest sees the host file `host`, through the preopen whose host
/// directory contains it most specifically; `None` when no preopen contains it.
pub fn guest_path_of(preopens: &[Preopen], host: &Path) -> Option<String> {
    preopens
        .iter()
        .filter_map(|p| {
            let rest = host.strip_prefix(&p.host).ok()?;
            Some((p.host.components().count(), p, rest.to_str()?))
        })
        .max_by_key(|(depth, _, _)| *depth)
        .map(|(_, preopen, rest)| preopen.guest.join(rest))
}

impl Setting for Directories {
    fn merge(outer: &Self, inner: &Self) -> Self {
        let mut dirs = outer.0.clone();
        for preopen in &inner.0 {
            set_by_key(&mut dirs, preopen.clone(), |p| &p.guest);
        }
        Self(dirs)
    }

    fn grant(&self, run: &mut ExecutionConfig) {
        run.preopens = self.0.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::{fake_registry, preopen};
    use crate::SectionConfig;
    use runtime_api::InvalidGuestPath;

    #[test]
    fn dirs_must_exist_and_be_absolute_in_the_guest() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().to_str().unwrap();
        let site = TestSite::new(fake_registry(&[]));
        let mut config = SectionConfig::default();
        apply(&mut config, &site, "WasmDir", &[host]).unwrap();
        let err = apply(&mut config, &site, "WasmDir", &["relative/dir"]).unwrap_err();
        assert!(
            matches!(&err, DirectiveError::Invalid { expected, .. }
                if expected.starts_with("an absolute path")),
            "{err}"
        );
        let missing = dir.path().join("missing");
        let missing_text = missing.to_str().unwrap();
        let not_found = |err: &DirectiveError| {
            matches!(err, DirectiveError::File(FileError::Io { path, source, .. })
                if *path == missing && source.kind() == std::io::ErrorKind::NotFound)
        };
        let err = apply(&mut config, &site, "WasmDir", &[missing_text]).unwrap_err();
        assert!(not_found(&err), "{err}");

        let err = apply(&mut config, &site, "WasmMapDir", &["data", host]).unwrap_err();
        assert!(
            matches!(
                err,
                DirectiveError::GuestPath(InvalidGuestPath::Relative(_))
            ),
            "{err}"
        );
        let err = apply(&mut config, &site, "WasmMapDir", &["/data", missing_text]).unwrap_err();
        assert!(not_found(&err), "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let file = file.to_str().unwrap();
        let err = apply(&mut config, &site, "WasmMapDir", &["/f", file, "ro"]).unwrap_err();
        assert!(
            matches!(
                err,
                DirectiveError::File(FileError::Not {
                    expected: "a directory",
                    ..
                })
            ),
            "{err}"
        );
        assert_eq!(
            config.dirs.0,
            [preopen(host, dir.path(), Access::ReadWrite)]
        );
    }

    #[test]
    fn the_working_directory_is_the_guests_root() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().to_str().unwrap();
        let site = TestSite::new(fake_registry(&[]));
        for guest in ["./", "."] {
            let mut config = SectionConfig::default();
            apply(&mut config, &site, "WasmMapDir", &[guest, host, "ro"]).unwrap();
            assert_eq!(config.dirs.0, [preopen("/", dir.path(), Access::ReadOnly)]);
        }
        let mut config = SectionConfig::default();
        let err = apply(&mut config, &site, "WasmMapDir", &["./data", host]).unwrap_err();
        assert!(
            matches!(
                err,
                DirectiveError::GuestPath(InvalidGuestPath::Relative(_))
            ),
            "{err}"
        );
    }

    #[test]
    fn access_keywords() {
        assert_eq!(parse_access(None).unwrap(), Access::ReadWrite);
        assert_eq!(parse_access(Some("RO")).unwrap(), Access::ReadOnly);
        assert_eq!(parse_access(Some("readonly")).unwrap(), Access::ReadOnly);
        assert_eq!(parse_access(Some("rw")).unwrap(), Access::ReadWrite);
        let err = parse_access(Some("wo")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'wo' is not an access: use 'ro' (read-only) or 'rw' (read-write, the default)"
        );
    }

    #[test]
    fn dirs_accumulate_by_guest_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (a_path, b_path) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmMapDir", &["/data", a_path]).unwrap();
        apply(&mut outer, &site, "WasmMapDir", &["/tmp", a_path, "rw"]).unwrap();
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmMapDir", &["/data", b_path, "ro"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(
            merged.dirs.0,
            [
                preopen("/data", b.path(), Access::ReadOnly),
                preopen("/tmp", a.path(), Access::ReadWrite)
            ]
        );
        assert_eq!(merged.execution_config().preopens, merged.dirs.0);
    }
}
