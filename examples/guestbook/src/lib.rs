//! A guestbook as a CGI program on a MySQL or MariaDB database: `GET` lists the entries as
//! HTML, a form-encoded `POST` (fields `name` and `message`) adds one and redirects back.
//!
//! Configuration comes from the environment (`WasmEnv` under mod_wasm): `DB_HOST` (a name or
//! an address), `DB_PORT` (default 3306), `DB_USER`, `DB_PASSWORD`, `DB_NAME`. The table is
//! created on first use.
//!
//! When the database cannot be reached, and in particular when the sandbox refuses the
//! connection, the guest answers `503 Service Unavailable` with the reason.

pub mod mysql;
mod sha1;
pub mod socket;

use socket::Connector;
use std::io::{Read, Write};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS entries (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    message TEXT NOT NULL,
    created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) CHARACTER SET utf8mb4";

/// The limit on a posted form, as a guestbook needs no more.
const MAX_FORM: usize = 64 * 1024;

/// Runs one CGI request with `connector` for sockets.
pub fn main(connector: &dyn Connector) {
    let response = match handle(connector) {
        Ok(response) => response,
        Err(failure) => failure.response(),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(response.as_bytes());
    let _ = stdout.flush();
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Why a request could not be served.
enum Failure {
    BadRequest(String),
    Database(String),
}

impl Failure {
    fn response(&self) -> String {
        let (status, title, detail) = match self {
            Failure::BadRequest(why) => ("400 Bad Request", "Bad request", why),
            Failure::Database(why) => (
                "503 Service Unavailable",
                "The guestbook cannot reach its database",
                why,
            ),
        };
        // The reason also goes to stderr, which mod_wasm writes to the error log.
        eprintln!("guestbook: {title}: {detail}");
        format!(
            "Status: {status}\nContent-Type: text/html; charset=utf-8\n\n\
             <!doctype html>\n<title>{title}</title>\n<h1>{title}</h1>\n<p>{}</p>\n",
            html(detail)
        )
    }
}

fn database(error: impl std::fmt::Display) -> Failure {
    Failure::Database(error.to_string())
}

fn handle(connector: &dyn Connector) -> Result<String, Failure> {
    let method = env("REQUEST_METHOD");
    let form = match method.as_str() {
        "POST" => Some(read_form()?),
        "GET" | "HEAD" | "" => None,
        other => return Err(Failure::BadRequest(format!("method {other} not allowed"))),
    };
    let host = env("DB_HOST");
    let port = match env("DB_PORT").as_str() {
        "" => 3306,
        text => text
            .parse()
            .map_err(|_| database(format!("DB_PORT '{text}' is not a port")))?,
    };
    let stream = connector
        .connect_to(&host, port)
        .map_err(|e| database(format!("cannot connect to {host}:{port}: {e}")))?;
    let credentials = mysql::Credentials {
        user: &env("DB_USER"),
        password: &env("DB_PASSWORD"),
        database: &env("DB_NAME"),
    };
    let mut db = mysql::Connection::open(stream, &credentials).map_err(database)?;
    db.execute(CREATE_TABLE).map_err(database)?;
    let response = match form {
        Some(form) => {
            let field = |name: &str| {
                form.iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.trim().to_owned())
                    .unwrap_or_default()
            };
            let (name, message) = (field("name"), field("message"));
            if name.is_empty() || message.is_empty() {
                return Err(Failure::BadRequest("name and message are required".into()));
            }
            db.execute(&format!(
                "INSERT INTO entries (name, message) VALUES ({}, {})",
                mysql::quote(&name),
                mysql::quote(&message)
            ))
            .map_err(database)?;
            // Post/Redirect/Get: reloading the page does not post again.
            format!(
                "Status: 303 See Other\nLocation: {}\n\n",
                env("SCRIPT_NAME")
            )
        }
        None => {
            let rows = db
                .query("SELECT name, message, created FROM entries ORDER BY id")
                .map_err(database)?;
            page(&rows)
        }
    };
    db.quit();
    Ok(response)
}

fn read_form() -> Result<Vec<(String, String)>, Failure> {
    let mut body = Vec::new();
    std::io::stdin()
        .take(MAX_FORM as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Failure::BadRequest(format!("cannot read the form: {e}")))?;
    if body.len() > MAX_FORM {
        return Err(Failure::BadRequest("the form is too large".into()));
    }
    Ok(String::from_utf8_lossy(&body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(key), url_decode(value))
        })
        .collect())
}

fn page(rows: &mysql::Rows) -> String {
    let script = html(&env("SCRIPT_NAME"));
    let mut out = String::from(
        "Content-Type: text/html; charset=utf-8\n\n<!doctype html>\n<title>Guestbook</title>\n<h1>Guestbook</h1>\n",
    );
    if rows.is_empty() {
        out.push_str("<p>No entries yet.</p>\n");
    }
    out.push_str("<ul>\n");
    for row in rows {
        let column = |i: usize| html(row.get(i).cloned().flatten().as_deref().unwrap_or(""));
        out.push_str(&format!(
            "<li><b>{}</b> ({}): {}</li>\n",
            column(0),
            column(2),
            column(1)
        ));
    }
    out.push_str("</ul>\n");
    out.push_str(&format!(
        "<form method=\"post\" action=\"{script}\">\n\
         <input name=\"name\" placeholder=\"Name\" required>\n\
         <input name=\"message\" placeholder=\"Message\" required>\n\
         <button>Sign</button>\n</form>\n"
    ));
    out
}

/// Escapes text for HTML element content and attribute values.
fn html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Decodes `application/x-www-form-urlencoded` text; invalid escapes are kept as written.
fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        decoded.push(byte);
                        i += 2;
                    }
                    None => decoded.push(b'%'),
                }
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        assert_eq!(url_decode("a+b%21%zz%"), "a b!%zz%");
        assert_eq!(url_decode("caf%C3%A9"), "café");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
