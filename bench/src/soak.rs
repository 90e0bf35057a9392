//! The soak: does a serving child's memory level off under sustained load?
//!
//! For each runtime, one server (one child, 32 threads) answers hello at 32 clients: a warm-up,
//! then a fixed number of requests in slices, with the child's resident memory (VmRSS) read
//! after each slice. A child whose memory levels off grows by less than 1 % per 100,000
//! requests once warm; one that leaks keeps growing in step with the requests.

use crate::load::{self, Target};
use crate::through_apache::{serving_child_kib, wasm_server, HELLO_BODY};
use std::fmt::Write;
use std::time::Duration;

/// How long one soak runs.
pub struct SoakPlan {
    pub clients: usize,
    /// Requests before the first sample: pools, caches and allocator arenas fill up.
    pub warmup_requests: usize,
    /// Requests measured after the warm-up.
    pub requests: usize,
    /// Samples of the child's memory over those requests.
    pub samples: usize,
}

impl SoakPlan {
    pub const FULL: SoakPlan = SoakPlan {
        clients: 32,
        warmup_requests: 50_000,
        requests: 200_000,
        samples: 10,
    };
    pub const QUICK: SoakPlan = SoakPlan {
        clients: 8,
        warmup_requests: 500,
        requests: 2_000,
        samples: 4,
    };
}

/// One runtime's memory over the soak.
pub struct Soak {
    pub runtime: &'static str,
    /// (requests since the warm-up, the child's VmRSS in KiB), the first at 0.
    pub samples: Vec<(usize, u64)>,
}

impl Soak {
    /// Growth from the first sample to the last, in percent per 100,000 requests.
    pub fn growth_per_100k(&self) -> f64 {
        growth_per_100k(&self.samples)
    }

    /// The same over the second half of the samples: whether memory still grows once the
    /// child has settled.
    pub fn late_growth_per_100k(&self) -> f64 {
        growth_per_100k(&self.samples[self.samples.len() / 2..])
    }
}

fn growth_per_100k(samples: &[(usize, u64)]) -> f64 {
    let (Some(&(start, first)), Some(&(end, last))) = (samples.first(), samples.last()) else {
        return 0.0;
    };
    if first == 0 || end <= start {
        return 0.0;
    }
    let percent = (last as f64 - first as f64) / first as f64 * 100.0;
    percent * 100_000.0 / (end - start) as f64
}

pub fn run(plan: &SoakPlan, runtimes: &[&'static str]) -> Vec<Soak> {
    runtimes
        .iter()
        .map(|&runtime| {
            eprintln!("== soak: {runtime}");
            let server = wasm_server(runtime);
            let target = Target::get(server.port(), "/hello", HELLO_BODY.len());
            let rss = || serving_child_kib(&server, "VmRSS:");
            let requests = |count| {
                requests(&target, plan.clients, count).unwrap_or_else(|e| {
                    panic!("soak of {runtime}: {e}; error log:\n{}", server.error_log())
                })
            };
            requests(plan.warmup_requests);
            let mut samples = vec![(0, rss())];
            let slice = plan.requests / plan.samples.max(1);
            let mut done = 0;
            while done < plan.requests {
                done += requests(slice);
                samples.push((done, rss()));
                eprintln!("   {done:>8} requests: {} KiB", samples.last().unwrap().1);
            }
            Soak { runtime, samples }
        })
        .collect()
}

/// Sends about `count` requests at `clients` clients, returning how many were answered. The
/// load generator runs for a time, so the time is estimated from a short first run.
fn requests(target: &Target, clients: usize, count: usize) -> Result<usize, String> {
    let probe = load::run(target, clients, Duration::from_millis(200))?;
    let rate = probe.requests_per_second().max(1.0);
    let left = count.saturating_sub(probe.requests);
    let duration = Duration::from_secs_f64(left as f64 / rate);
    let rest = load::run(target, clients, duration)?;
    Ok(probe.requests + rest.requests)
}

/// The soak as a Markdown table.
pub fn markdown(soaks: &[Soak]) -> String {
    let mut out =
        String::from("| runtime | requests after warm-up | child VmRSS (MiB) |\n|---|---:|---:|\n");
    for soak in soaks {
        for (requests, kib) in &soak.samples {
            let mib = *kib as f64 / 1024.0;
            let _ = writeln!(out, "| {} | {requests} | {mib:.1} |", soak.runtime);
        }
    }
    out.push_str(
        "\n| runtime | growth per 100,000 requests, whole soak | the same, second half |\n\
         |---|---:|---:|\n",
    );
    for soak in soaks {
        let _ = writeln!(
            out,
            "| {} | {:+.2} % | {:+.2} % |",
            soak.runtime,
            soak.growth_per_100k(),
            soak.late_growth_per_100k()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_relative_to_the_first_sample_and_scaled_to_100k() {
        let soak = Soak {
            runtime: "alpha",
            samples: vec![(0, 1000), (100_000, 1005), (200_000, 1020)],
        };
        assert!((soak.growth_per_100k() - 1.0).abs() < 1e-9);
        // From 1005 to 1020 over the last 100,000.
        assert!((soak.late_growth_per_100k() - 1500.0 / 1005.0).abs() < 1e-9);
        let flat = Soak {
            runtime: "beta",
            samples: vec![(0, 1000)],
        };
        assert_eq!(flat.growth_per_100k(), 0.0);
    }
}
