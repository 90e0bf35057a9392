//! Lists a directory the location granted (WasmDir / WasmMapDir): the request's PATH_INFO is
//! the guest path to list, e.g. /ls/data lists the guest's /data.
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn main() {
    let path = std::env::var("PATH_INFO").unwrap_or_default();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    match std::fs::read_dir(&path) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    match e.file_type() {
                        Ok(t) if t.is_dir() => format!("{name}/"),
                        _ => name,
                    }
                })
                .collect();
            names.sort();
            let mut html = format!(
                "<!doctype html>\n<title>{0}</title>\n<h1>{0}</h1>\n<ul>\n",
                escape(&path)
            );
            for name in names {
                let _ = writeln!(html, "<li>{}</li>", escape(&name));
            }
            html.push_str("</ul>\n");
            print!("Content-Type: text/html; charset=utf-8\n\n{html}");
        }
        Err(e) => {
            print!("Status: 404 Not Found\nContent-Type: text/plain\n\ncannot list {path}: {e}\n")
        }
    }
}
