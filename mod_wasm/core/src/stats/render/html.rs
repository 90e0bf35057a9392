//! The figures as an HTML page, for people.

use super::{version_of, About, Figures, Snapshot};
use std::fmt::Write as _;

/// The page for people, in the manner of mod_status.
pub fn html(snapshot: &Snapshot, about: &About) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>mod_wasm status</title>\n<style>body{font-family:sans-serif} \
         table{border-collapse:collapse;margin-bottom:1em} \
         td,th{border:1px solid #999;padding:2px 6px;text-align:right} \
         td:first-child,th:first-child{text-align:left}</style></head><body>\n\
         <h1>mod_wasm status</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p>Figures since the server started (Unix time {}), across all its children. \
         Machine-readable: <a href=\"?format=json\">JSON</a>, \
         <a href=\"?format=prometheus\">Prometheus</a>.</p>",
        snapshot.started_unix
    );
    out.push_str(&html_tables(snapshot, about));
    out.push_str("</body></html>\n");
    out
}

/// The tables of the page, for a page of its own or another's (mod_status's).
pub fn html_tables(snapshot: &Snapshot, about: &About) -> String {
    let mut out = String::from("<h2>Runtimes</h2>\n");
    let runtimes = snapshot.runtimes(about);
    out.push_str(
        "<table><tr><th>runtime</th><th>version</th><th>requests</th><th>2xx</th><th>3xx</th>\
         <th>4xx</th><th>5xx</th><th>failures</th><th>p50</th><th>p99</th><th>compiled</th>\
         <th>from cache</th><th>loads</th></tr>\n",
    );
    for (name, totals) in &runtimes {
        let compiles = snapshot.compiles.iter().find(|c| &c.runtime == name);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(name),
            escape_html(version_of(about, name).unwrap_or("")),
            figure_cells(totals),
            compiles.map_or(0, |c| c.compiled),
            compiles.map_or(0, |c| c.from_cache),
            totals.loads_inherited + totals.loads_lazy,
        );
    }
    out.push_str("</table>\n<h2>Locations</h2>\n");
    out.push_str(
        "<table><tr><th>location</th><th>module</th><th>runtime</th><th>requests</th>\
         <th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>failures</th><th>p50</th>\
         <th>p99</th></tr>\n",
    );
    for l in &snapshot.locations {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            escape_html(&l.location),
            escape_html(&l.module),
            escape_html(&l.runtime),
            figure_cells(&l.figures),
        );
    }
    out.push_str(
        "</table>\n<h2>Modules</h2>\n<table><tr><th>module</th><th>runtime</th>\
                  <th>loaded in this child</th></tr>\n",
    );
    for m in &about.modules {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&m.module),
            escape_html(&m.runtime),
            if m.loaded_here { "yes" } else { "no" }
        );
    }
    out.push_str("</table>\n<h2>Cache</h2>\n");
    match &about.cache {
        Some(cache) => {
            let _ = writeln!(
                out,
                "<p>{}: {} entries, {} bytes.</p>",
                escape_html(&cache.dir),
                cache.entries,
                cache.bytes
            );
        }
        None => out.push_str("<p>No cache: modules are compiled at every start.</p>\n"),
    }
    let _ = writeln!(
        out,
        "<p>Requests with no usable module or runtime: {}.</p>",
        snapshot.unresolved
    );
    out
}

fn figure_cells(f: &Figures) -> String {
    let failures: u64 = f.failures.values().sum();
    let quantile = |q: Option<f64>| {
        q.map_or("—".to_owned(), |s| {
            if s < 1.0 {
                format!("≤ {} ms", s * 1e3)
            } else {
                format!("≤ {s} s")
            }
        })
    };
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{failures}</td>\
         <td>{}</td><td>{}</td>",
        f.requests,
        f.responses["2xx"],
        f.responses["3xx"],
        f.responses["4xx"],
        f.responses["5xx"],
        quantile(f.p50_seconds),
        quantile(f.p99_seconds),
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
