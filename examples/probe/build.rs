fn main() {
    // Export a second function so tests can select it with WasmEntryPoint. A WASI 0.2 component
    // (wasm32-wasip2) exports interfaces, not functions: there, it is left out.
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let component = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("p2");
    if wasm && !component {
        println!("cargo:rustc-link-arg=--export=alt_entry");
    }
}
