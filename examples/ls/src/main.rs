//! Lists a directory the location granted (WasmDir / WasmMapDir): the one named by the query
//! string (`?dir=/data/sub`), else the first argument (WasmArg), else `/`.
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn requested_dir() -> String {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let from_query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "dir")
        .map(|(_, v)| v.replace("%2F", "/").replace("%2f", "/"));
    from_query
        .or_else(|| std::env::args().nth(1))
        .unwrap_or_else(|| "/".to_owned())
}

fn main() {
    let dir = requested_dir();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut names: Vec<(String, bool)> = entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect();
            names.sort();
            let mut html = format!(
                "<!doctype html>\n<title>{0}</title>\n<h1>{0}</h1>\n<ul>\n",
                escape(&dir)
            );
            for (name, is_dir) in names {
                let path = format!("{}/{name}", dir.trim_end_matches('/'));
                if is_dir {
                    let _ = writeln!(
                        html,
                        "<li><a href=\"?dir={}\">{}/</a></li>",
                        escape(&path),
                        escape(&name)
                    );
                } else {
                    let _ = writeln!(html, "<li>{}</li>", escape(&name));
                }
            }
            html.push_str("</ul>\n");
            print!("Content-Type: text/html; charset=utf-8\n\n{html}");
        }
        Err(e) => {
            print!("Status: 404 Not Found\nContent-Type: text/plain\n\ncannot list {dir}: {e}\n")
        }
    }
}
