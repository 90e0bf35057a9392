//! The figures in Prometheus's text exposition format.

use super::{About, Figures, LocationFigures, Snapshot};
use std::fmt::Write as _;

/// The Prometheus text exposition format (version 0.0.4).
pub fn prometheus(snapshot: &Snapshot, about: &About) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let location_labels = |l: &LocationFigures| {
        format!(
            "runtime=\"{}\",location=\"{}\",module=\"{}\"",
            escape_label(&l.runtime),
            escape_label(&l.location),
            escape_label(&l.module)
        )
    };
    family(
        "mod_wasm_runtime_info",
        "gauge",
        "The WebAssembly runtimes built in.",
        about
            .runtimes
            .iter()
            .map(|(name, version)| {
                (
                    format!(
                        "{{runtime=\"{}\",version=\"{}\"}}",
                        escape_label(name),
                        escape_label(version)
                    ),
                    "1".to_owned(),
                )
            })
            .collect(),
    );
    family(
        "mod_wasm_start_time_seconds",
        "gauge",
        "When the server started, in seconds since the Unix epoch.",
        vec![(String::new(), snapshot.started_unix.to_string())],
    );
    family(
        "mod_wasm_unresolved_requests_total",
        "counter",
        "Requests whose configuration named no usable module or runtime.",
        vec![(String::new(), snapshot.unresolved.to_string())],
    );
    let per_location = |value: &dyn Fn(&Figures) -> String| -> Vec<(String, String)> {
        snapshot
            .locations
            .iter()
            .map(|l| (format!("{{{}}}", location_labels(l)), value(&l.figures)))
            .collect()
    };
    family(
        "mod_wasm_requests_total",
        "counter",
        "Requests answered by a WebAssembly module.",
        per_location(&|f| f.requests.to_string()),
    );
    let mut responses = Vec::new();
    let mut failures = Vec::new();
    let mut buckets = Vec::new();
    for l in &snapshot.locations {
        let labels = location_labels(l);
        for (class, n) in &l.figures.responses {
            responses.push((format!("{{{labels},class=\"{class}\"}}"), n.to_string()));
        }
        for (kind, n) in &l.figures.failures {
            failures.push((format!("{{{labels},kind=\"{kind}\"}}"), n.to_string()));
        }
        for bucket in &l.figures.duration_buckets {
            let le = bucket.le.map_or("+Inf".to_owned(), |s| s.to_string());
            buckets.push((
                format!("_bucket{{{labels},le=\"{le}\"}}"),
                bucket.count.to_string(),
            ));
        }
        buckets.push((
            format!("_sum{{{labels}}}"),
            l.figures.duration_seconds_sum.to_string(),
        ));
        buckets.push((
            format!("_count{{{labels}}}"),
            l.figures.requests.to_string(),
        ));
    }
    family(
        "mod_wasm_responses_total",
        "counter",
        "Requests by the class of the status they were answered with.",
        responses,
    );
    family(
        "mod_wasm_aborted_requests_total",
        "counter",
        "Requests whose body could not be read.",
        per_location(&|f| f.aborted.to_string()),
    );
    family(
        "mod_wasm_failures_total",
        "counter",
        "Requests whose guest or module failed, by how.",
        failures,
    );
    family(
        "mod_wasm_refusals_total",
        "counter",
        "Connections and lookups guests were refused.",
        per_location(&|f| f.refusals.to_string()),
    );
    family(
        "mod_wasm_request_duration_seconds",
        "histogram",
        "How long requests took, from the handler's start to its answer.",
        buckets,
    );
    family(
        "mod_wasm_module_loads_total",
        "counter",
        "Modules loaded into a child for a request, by where their code came from.",
        snapshot
            .locations
            .iter()
            .flat_map(|l| {
                let labels = location_labels(l);
                [
                    (
                        format!("{{{labels},from=\"parent\"}}"),
                        l.figures.loads_inherited.to_string(),
                    ),
                    (
                        format!("{{{labels},from=\"child\"}}"),
                        l.figures.loads_lazy.to_string(),
                    ),
                ]
            })
            .collect(),
    );
    family(
        "mod_wasm_module_load_seconds_total",
        "counter",
        "Time spent loading modules into children.",
        per_location(&|f| f.load_seconds.to_string()),
    );
    let mut compiles = Vec::new();
    let mut compile_seconds = Vec::new();
    for c in &snapshot.compiles {
        let runtime = escape_label(&c.runtime);
        for (how, n, seconds) in [
            ("compiled", c.compiled, Some(c.compiled_seconds)),
            ("cache", c.from_cache, Some(c.from_cache_seconds)),
            ("reused", c.reused, None),
        ] {
            let labels = format!("{{runtime=\"{runtime}\",how=\"{how}\"}}");
            compiles.push((labels.clone(), n.to_string()));
            if let Some(seconds) = seconds {
                compile_seconds.push((labels, seconds.to_string()));
            }
        }
    }
    family(
        "mod_wasm_compiles_total",
        "counter",
        "Modules the configuration check compiled, read from the cache, or reused.",
        compiles,
    );
    family(
        "mod_wasm_compile_seconds_total",
        "counter",
        "Time the configuration check spent compiling or reading the cache.",
        compile_seconds,
    );
    out
}

/// A label value as the exposition format writes it.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
