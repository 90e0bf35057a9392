//! Helpers for the backends' build scripts.

use std::path::Path;

/// The version of `package` in the Cargo.lock of the workspace being built, for a backend to
/// report the engine it was built with (engines do not all export their own version).
///
/// Call it from a build script. It tells cargo to rerun when the lock file changes and returns
/// "unknown" outside a workspace with a lock file.
pub fn locked_version(package: &str) -> String {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let Some(lock) = Path::new(&manifest_dir)
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file())
    else {
        return "unknown".to_owned();
    };
    println!("cargo:rerun-if-changed={}", lock.display());
    let contents = std::fs::read_to_string(&lock).unwrap_or_default();
    version_in_lock(&contents, package).unwrap_or_else(|| "unknown".to_owned())
}

/// The version of the first `[[package]]` called `package` in a Cargo.lock.
fn version_in_lock(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == name_line)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_version_of_the_named_package_only() {
        let lock = "[[package]]\nname = \"wasmtime-wasi\"\nversion = \"1.0.0\"\n\n\
                    [[package]]\nname = \"wasmtime\"\nversion = \"48.0.8\"\n";
        assert_eq!(version_in_lock(lock, "wasmtime").as_deref(), Some("48.0.8"));
        assert_eq!(version_in_lock(lock, "wasmer"), None);
    }
}
