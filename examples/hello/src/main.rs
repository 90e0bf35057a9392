//! The smallest CGI program: a header block, a blank line, a body.
fn main() {
    print!("Content-Type: text/plain\n\nHello from WebAssembly!\n");
}
