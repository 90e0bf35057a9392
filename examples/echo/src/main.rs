//! Answers a POST with its own body, byte for byte, under the request's content type.
use std::io::{Read, Write};

fn main() -> std::io::Result<()> {
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body)?;
    let content_type =
        std::env::var("CONTENT_TYPE").unwrap_or_else(|_| "application/octet-stream".into());
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "Content-Type: {content_type}\nX-Echo-Length: {}\n\n",
        body.len()
    )?;
    out.write_all(&body)?;
    out.flush()
}
