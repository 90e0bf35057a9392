//! The guestbook on std's sockets: as a WASI 0.2 component (wasm32-wasip2), `wasi:sockets`,
//! which `WasmRuntime wasmtime` grants.

fn main() {
    guestbook::main(&guestbook::socket::Std);
}
