//! Answers a POST with its own body, byte for byte, under the request's content type; a form's
//! body (`application/x-www-form-urlencoded`) comes back as `text/plain`, which a browser shows
//! rather than downloads.
use std::io::{Read, Write};

const FORM: &str = "application/x-www-form-urlencoded";

fn main() -> std::io::Result<()> {
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body)?;
    let content_type = match std::env::var("CONTENT_TYPE") {
        Ok(form)
            if form
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(FORM)) =>
        {
            "text/plain; charset=utf-8".to_owned()
        }
        Ok(content_type) => content_type,
        Err(_) => "application/octet-stream".to_owned(),
    };
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "Content-Type: {content_type}\nX-Echo-Length: {}\n\n",
        body.len()
    )?;
    out.write_all(&body)?;
    out.flush()
}
