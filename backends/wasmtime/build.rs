//! Records the wasmtime version this backend is built with: wasmtime does not export it.
fn main() {
    let version = runtime_api::build::locked_version("wasmtime");
    println!("cargo:rustc-env=WASMTIME_VERSION={version}");
}
