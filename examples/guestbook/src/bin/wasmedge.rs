//! The guestbook for `WasmRuntime wasmedge`: sockets through WasmEdge's socket extension.

fn main() {
    guestbook::main(&guestbook::socket::WasmEdge);
}
