//! The status page's three forms of the figures: HTML for people, JSON, and Prometheus's text
//! exposition format.

use super::{Failure, LocationSlot, RuntimeSlot, Statistics, BUCKETS, BUCKET_BOUNDS_US};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the status page says besides the figures: the server as this process sees it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct About {
    /// The runtimes built in: name and version.
    pub runtimes: Vec<(String, String)>,
    /// The cache of compiled modules, if there is one.
    pub cache: Option<CacheState>,
    /// The modules the configuration names, with their runtimes.
    pub modules: Vec<ModuleState>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CacheState {
    pub dir: String,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModuleState {
    pub module: String,
    pub runtime: String,
    /// Whether the process that answered has it loaded.
    pub loaded_here: bool,
}

/// The figures of one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub started_unix: u64,
    /// Requests whose configuration named no usable module or runtime.
    pub unresolved: u64,
    pub compiles: Vec<Compiles>,
    pub locations: Vec<LocationFigures>,
}

/// How the configuration checks obtained the compiled code of one runtime's modules.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Compiles {
    pub runtime: String,
    pub compiled: u64,
    pub compiled_seconds: f64,
    pub from_cache: u64,
    pub from_cache_seconds: f64,
    pub reused: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LocationFigures {
    pub runtime: String,
    /// The section and configuration line of the `WasmModule` that applied.
    pub location: String,
    pub module: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// What the figures were made from, for totals.
    #[serde(skip)]
    counts: Counts,
}

/// What a set of requests came to.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub requests: u64,
    /// By status class, `1xx` … `5xx`.
    pub responses: BTreeMap<String, u64>,
    /// Requests whose body could not be read; the server answered them.
    pub aborted: u64,
    pub failures: BTreeMap<&'static str, u64>,
    /// Connections and lookups guests were refused.
    pub refusals: u64,
    pub duration_seconds_sum: f64,
    /// Requests that took at most `le` seconds, cumulative; the last bound is infinite (`null`).
    pub duration_buckets: Vec<Bucket>,
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    /// Modules loaded into a child for a request: from code the parent had (inherited) or
    /// compiled or read from the cache by the child (lazy).
    pub loads_inherited: u64,
    pub loads_lazy: u64,
    pub load_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    pub le: Option<f64>,
    pub count: u64,
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// A location's counters as they were read: what [`Figures`] are made from, and what adds up
/// across locations.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    requests: u64,
    classes: [u64; 5],
    aborted: u64,
    failures: [u64; Failure::ALL.len()],
    refusals: u64,
    duration_us: u64,
    buckets: [u64; BUCKETS],
    inherited_loads: u64,
    lazy_loads: u64,
    load_us: u64,
}

impl Counts {
    fn of(slot: &LocationSlot) -> Counts {
        Counts {
            requests: load(&slot.requests),
            classes: slot.classes.each_ref().map(load),
            aborted: load(&slot.aborted),
            failures: slot.failures.each_ref().map(load),
            refusals: load(&slot.refusals),
            duration_us: load(&slot.duration_us),
            buckets: slot.buckets.each_ref().map(load),
            inherited_loads: load(&slot.inherited_loads),
            lazy_loads: load(&slot.lazy_loads),
            load_us: load(&slot.load_us),
        }
    }

    /// The counts of the requests of both.
    fn add(mut self, other: &Counts) -> Counts {
        let add_all = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        self.requests += other.requests;
        add_all(&mut self.classes, &other.classes);
        self.aborted += other.aborted;
        add_all(&mut self.failures, &other.failures);
        self.refusals += other.refusals;
        self.duration_us += other.duration_us;
        add_all(&mut self.buckets, &other.buckets);
        self.inherited_loads += other.inherited_loads;
        self.lazy_loads += other.lazy_loads;
        self.load_us += other.load_us;
        self
    }
}

impl From<Counts> for Figures {
    fn from(counts: Counts) -> Figures {
        let mut cumulative = 0;
        let duration_buckets: Vec<Bucket> = counts
            .buckets
            .iter()
            .enumerate()
            .map(|(i, count)| {
                cumulative += count;
                Bucket {
                    le: BUCKET_BOUNDS_US.get(i).map(|us| seconds(*us)),
                    count: cumulative,
                }
            })
            .collect();
        let quantile = |q: f64| {
            let total = duration_buckets.last()?.count;
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            (total > 0)
                .then(|| duration_buckets.iter().find(|b| b.count >= rank))
                .flatten()
                .and_then(|b| b.le)
        };
        Figures {
            requests: counts.requests,
            responses: (1..=5)
                .map(|class| (format!("{class}xx"), counts.classes[class - 1]))
                .collect(),
            aborted: counts.aborted,
            failures: Failure::ALL
                .iter()
                .zip(counts.failures)
                .map(|(f, n)| (f.name(), n))
                .collect(),
            refusals: counts.refusals,
            duration_seconds_sum: seconds(counts.duration_us),
            p50_seconds: quantile(0.5),
            p99_seconds: quantile(0.99),
            duration_buckets,
            loads_inherited: counts.inherited_loads,
            loads_lazy: counts.lazy_loads,
            load_seconds: seconds(counts.load_us),
        }
    }
}

impl Snapshot {
    pub(super) fn of(statistics: &Statistics) -> Snapshot {
        let table = statistics.table();
        let compiles = table
            .runtimes
            .iter()
            .filter(|slot| slot.claim.published())
            .map(|slot: &RuntimeSlot| Compiles {
                // SAFETY: published.
                runtime: unsafe { slot.name.read() },
                compiled: load(&slot.compiled),
                compiled_seconds: seconds(load(&slot.compiled_us)),
                from_cache: load(&slot.from_cache),
                from_cache_seconds: seconds(load(&slot.from_cache_us)),
                reused: load(&slot.reused),
            })
            .collect();
        let mut locations: Vec<LocationFigures> = table
            .locations
            .iter()
            .filter(|slot| slot.claim.published())
            .map(|slot| {
                // Read once: the figures and the totals come from the same counts.
                let counts = Counts::of(slot);
                LocationFigures {
                    // SAFETY: published.
                    runtime: unsafe { slot.runtime.read() },
                    // SAFETY: published.
                    location: unsafe { slot.location.read() },
                    // SAFETY: published.
                    module: unsafe { slot.module.read() },
                    figures: counts.into(),
                    counts,
                }
            })
            .collect();
        locations.sort_by(|a, b| (&a.runtime, &a.location).cmp(&(&b.runtime, &b.location)));
        Snapshot {
            started_unix: load(&table.started_unix),
            unresolved: load(&table.unresolved),
            compiles,
            locations,
        }
    }

    /// Every runtime with figures or built in, with the sum of its locations' figures.
    fn runtimes(&self, about: &About) -> Vec<(String, Figures)> {
        let mut names: Vec<String> = about.runtimes.iter().map(|(n, _)| n.clone()).collect();
        for location in &self.locations {
            if !names.contains(&location.runtime) {
                names.push(location.runtime.clone());
            }
        }
        names
            .into_iter()
            .map(|name| {
                let totals = self
                    .locations
                    .iter()
                    .filter(|l| l.runtime == name)
                    .fold(Counts::default(), |sum, l| sum.add(&l.counts))
                    .into();
                (name, totals)
            })
            .collect()
    }
}

/// The JSON form: the server, then per runtime its totals and locations.
pub fn json(snapshot: &Snapshot, about: &About) -> String {
    #[derive(Serialize)]
    struct Runtime<'a> {
        name: &'a str,
        version: Option<&'a str>,
        compiles: Option<&'a Compiles>,
        totals: &'a Figures,
        locations: Vec<&'a LocationFigures>,
    }
    #[derive(Serialize)]
    struct Report<'a> {
        started_unix: u64,
        unresolved: u64,
        cache: &'a Option<CacheState>,
        modules: &'a [ModuleState],
        runtimes: Vec<Runtime<'a>>,
    }
    let totals = snapshot.runtimes(about);
    let report = Report {
        started_unix: snapshot.started_unix,
        unresolved: snapshot.unresolved,
        cache: &about.cache,
        modules: &about.modules,
        runtimes: totals
            .iter()
            .map(|(name, totals)| Runtime {
                name,
                version: version_of(about, name),
                compiles: snapshot.compiles.iter().find(|c| &c.runtime == name),
                totals,
                locations: snapshot
                    .locations
                    .iter()
                    .filter(|l| &l.runtime == name)
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn version_of<'a>(about: &'a About, runtime: &str) -> Option<&'a str> {
    about
        .runtimes
        .iter()
        .find(|(name, _)| name == runtime)
        .map(|(_, version)| version.as_str())
}

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
