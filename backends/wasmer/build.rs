//! Records the version of WASIX this backend is built with, which `wasmer-wasix` does not
//! export: the one in the workspace's Cargo.lock.
use std::path::Path;

fn main() {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock = Path::new(&manifest_dir)
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file());
    let version = lock
        .and_then(|lock| {
            println!("cargo:rerun-if-changed={}", lock.display());
            std::fs::read_to_string(lock).ok()
        })
        .and_then(|lock| version_in_lock(&lock, "wasmer-wasix"))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=WASMER_WASIX_VERSION={version}");
}

/// The version of the first `[[package]]` called `package` in a Cargo.lock.
fn version_in_lock(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == name_line)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}
