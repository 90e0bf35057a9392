//! Records the Wasmer and WASIX versions this backend is built with: neither crate exports them.
fn main() {
    let wasmer = runtime_api::build::locked_version("wasmer");
    let wasix = runtime_api::build::locked_version("wasmer-wasix");
    println!("cargo:rustc-env=WASMER_VERSION={wasmer}");
    println!("cargo:rustc-env=WASMER_WASIX_VERSION={wasix}");
}
