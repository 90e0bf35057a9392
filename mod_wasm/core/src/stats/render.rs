//! The status page's figures, read once from the shared counters ([`Snapshot`]), and their
//! three forms: HTML for people ([`html`]), JSON ([`json`]) and Prometheus's text exposition
//! format ([`prometheus`]).

mod html;
mod json;
mod prometheus;

pub use html::{html, html_tables};
pub use json::json;
pub use prometheus::prometheus;

use super::{Failure, LocationSlot, RuntimeSlot, Statistics, BUCKETS, BUCKET_BOUNDS_US};
use serde::Serialize;
use std::collections::BTreeMap;
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

/// The version `about` gives for `runtime`.
pub(super) fn version_of<'a>(about: &'a About, runtime: &str) -> Option<&'a str> {
    about
        .runtimes
        .iter()
        .find(|(name, _)| name == runtime)
        .map(|(_, version)| version.as_str())
}
