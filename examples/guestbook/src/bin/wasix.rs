//! The guestbook for `WasmRuntime wasmer`: sockets through WASIX.

fn main() {
    guestbook::main(&guestbook::socket::Wasix);
}
