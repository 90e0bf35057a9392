//! The soak: does a serving child's memory level off under sustained load?
//!
//! For each runtime, one server (one child, 32 threads) answers hello at 32 clients: a warm-up,
//! then a fixed number of requests in slices, with the child's resident memory (VmRSS) read
//! after each slice. A child whose memory levels off grows by less than 1 % per 100,000
//! requests once warm; one that leaks keeps growing in step with the requests.
//!
//! VmRSS is read in its two parts as well: anonymous memory (`RssAnon`: heaps, stacks, linear
//! memories), which is what a leak grows, and pages of files (`RssFile`: the code of the
//! libraries and of the module), which grow as code that had not run yet runs for the first
//! time, and which every process mapping the same file shares.

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
    /// The warm-up is long because a child's heap keeps growing, ever more slowly, for its
    /// first few hundred thousand requests under every runtime: the allocator arenas of its
    /// 32 threads, in what looks like high-water marks rising (docs/benchmarks/README.md).
    pub const FULL: SoakPlan = SoakPlan {
        clients: 32,
        warmup_requests: 500_000,
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
    /// The child's memory after each slice of requests, the first right after the warm-up.
    pub samples: Vec<Sample>,
}

/// The serving child's memory after a number of requests.
#[derive(Clone, Copy)]
pub struct Sample {
    /// Requests since the warm-up.
    pub requests: usize,
    /// VmRSS, KiB.
    pub resident: u64,
    /// RssAnon, KiB.
    pub anonymous: u64,
    /// RssFile, KiB.
    pub file: u64,
}

impl Soak {
    /// Growth of VmRSS over all the samples, in percent per 100,000 requests (see
    /// [`growth_per_100k`]).
    pub fn growth_per_100k(&self) -> f64 {
        growth_per_100k(&self.samples, |s| s.resident)
    }

    /// The same over the second half of the samples: whether memory still grows once the
    /// child has settled.
    pub fn late_growth_per_100k(&self) -> f64 {
        growth_per_100k(self.second_half(), |s| s.resident)
    }

    /// The part of [`Self::late_growth_per_100k`] that is anonymous memory.
    pub fn late_anonymous_growth_per_100k(&self) -> f64 {
        growth_per_100k(self.second_half(), |s| s.anonymous)
    }

    fn second_half(&self) -> &[Sample] {
        &self.samples[self.samples.len() / 2..]
    }
}

/// How fast `part` of the memory grew over `samples`, in percent of the first one's VmRSS per
/// 100,000 requests (so that the parts of VmRSS add up to it): the slope of the least-squares
/// line through the samples, which a single sample taken while more or fewer runs were in
/// flight moves less than it moves the difference between the first and the last.
fn growth_per_100k(samples: &[Sample], part: impl Fn(&Sample) -> u64) -> f64 {
    let Some(first) = samples.first() else {
        return 0.0;
    };
    let n = samples.len() as f64;
    let mean_x = samples.iter().map(|s| s.requests as f64).sum::<f64>() / n;
    let mean_y = samples.iter().map(|s| part(s) as f64).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for sample in samples {
        let dx = sample.requests as f64 - mean_x;
        covariance += dx * (part(sample) as f64 - mean_y);
        variance += dx * dx;
    }
    if first.resident == 0 || variance == 0.0 {
        return 0.0;
    }
    covariance / variance * 100_000.0 / first.resident as f64 * 100.0
}

pub fn run(plan: &SoakPlan, runtimes: &[&'static str]) -> Vec<Soak> {
    runtimes
        .iter()
        .map(|&runtime| {
            eprintln!("== soak: {runtime}");
            let server = wasm_server(runtime);
            let target = Target::get(server.port(), "/hello", HELLO_BODY.len());
            let sample = |requests| Sample {
                requests,
                resident: serving_child_kib(&server, "VmRSS:"),
                anonymous: serving_child_kib(&server, "RssAnon:"),
                file: serving_child_kib(&server, "RssFile:"),
            };
            let requests = |count| {
                requests(&target, plan.clients, count).unwrap_or_else(|e| {
                    panic!("soak of {runtime}: {e}; error log:\n{}", server.error_log())
                })
            };
            requests(plan.warmup_requests);
            let mut samples = vec![sample(0)];
            let slice = plan.requests / plan.samples.max(1);
            let mut done = 0;
            while done < plan.requests {
                done += requests(slice);
                let last = sample(done);
                eprintln!(
                    "   {done:>8} requests: {} KiB ({} KiB anonymous, {} KiB of files)",
                    last.resident, last.anonymous, last.file
                );
                samples.push(last);
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
    let mut out = String::from(
        "| runtime | requests after warm-up | child VmRSS (MiB) | anonymous (MiB) | of files (MiB) |\n\
         |---|---:|---:|---:|---:|\n",
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    for soak in soaks {
        for sample in &soak.samples {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {:.1} |",
                soak.runtime,
                sample.requests,
                mib(sample.resident),
                mib(sample.anonymous),
                mib(sample.file)
            );
        }
    }
    out.push_str(
        "\n| runtime | growth per 100,000 requests, whole soak | the same, second half | \
         of which anonymous |\n|---|---:|---:|---:|\n",
    );
    for soak in soaks {
        let _ = writeln!(
            out,
            "| {} | {:+.2} % | {:+.2} % | {:+.2} % |",
            soak.runtime,
            soak.growth_per_100k(),
            soak.late_growth_per_100k(),
            soak.late_anonymous_growth_per_100k()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample whose VmRSS is `anonymous` + 100 KiB of files.
    fn sample(requests: usize, anonymous: u64) -> Sample {
        Sample {
            requests,
            resident: anonymous + 100,
            anonymous,
            file: 100,
        }
    }

    #[test]
    fn growth_is_relative_to_the_first_sample_and_scaled_to_100k() {
        let soak = Soak {
            runtime: "alpha",
            samples: vec![sample(0, 900), sample(100_000, 905), sample(200_000, 920)],
        };
        // The line through (0, 1000), (100k, 1005), (200k, 1020) rises 10 per 100,000.
        assert!((soak.growth_per_100k() - 1.0).abs() < 1e-9);
        // From 1005 to 1020 over the last 100,000, all of it anonymous.
        assert!((soak.late_growth_per_100k() - 1500.0 / 1005.0).abs() < 1e-9);
        assert!((soak.late_anonymous_growth_per_100k() - 1500.0 / 1005.0).abs() < 1e-9);
        let flat = Soak {
            runtime: "beta",
            samples: vec![sample(0, 900)],
        };
        assert_eq!(flat.growth_per_100k(), 0.0);
    }

    #[test]
    fn one_sample_off_the_line_moves_the_growth_less_than_the_ends_would() {
        // Flat at 1000 but the last sample 10 higher: the ends would say +1 % per 100,000
        // over these 100,000 requests.
        let samples = [0, 20_000, 40_000, 60_000, 80_000, 100_000]
            .map(|requests| sample(requests, 900))
            .to_vec();
        let mut soak = Soak {
            runtime: "delta",
            samples,
        };
        soak.samples[5].resident += 10;
        // The line's slope: 10 × 50,000 / 7 × 10⁹ per request, 0.71 % per 100,000.
        let growth = soak.growth_per_100k();
        assert!((growth - 5.0 / 7.0).abs() < 1e-9, "{growth}");
    }

    #[test]
    fn file_pages_are_not_anonymous_growth() {
        let mut later = sample(200_000, 900);
        later.file += 10;
        later.resident += 10;
        let soak = Soak {
            runtime: "gamma",
            samples: vec![sample(0, 900), sample(100_000, 900), later],
        };
        assert!((soak.late_growth_per_100k() - 1.0).abs() < 1e-9);
        assert_eq!(soak.late_anonymous_growth_per_100k(), 0.0);
    }
}
