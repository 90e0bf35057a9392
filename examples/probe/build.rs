fn main() {
    // Export a second function so tests can select it with WasmEntryPoint.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=--export=alt_entry");
    }
}
