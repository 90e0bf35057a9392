//! The report: every figure as a markdown table, and the project's targets marked met or missed.

use crate::in_process::{self, RuntimeFigures};
use crate::machine::Machine;
use crate::stats::Summary;
use crate::through_apache::{
    self, Handler, LoadFigures, Workload, ECHO_BYTES, HELLO_BODY, LARGE_BYTES,
};
use crate::Plan;
use std::fmt::Write as _;

pub struct Report<'a> {
    pub plan: &'a Plan,
    pub command: &'a str,
    pub machine: &'a Machine,
    pub through_apache: &'a through_apache::Results,
    pub in_process: &'a in_process::Results,
}

/// One of the project's speed targets, as measured.
pub struct Target {
    pub goal: String,
    pub measured: String,
    pub met: Option<bool>,
}

impl Target {
    fn ratio(goal: String, ratio: Option<f64>, met: impl Fn(f64) -> bool, unit: &str) -> Self {
        Self {
            goal,
            measured: ratio.map_or("not measured".to_owned(), |r| format!("{r:.2}{unit}")),
            met: ratio.map(met),
        }
    }

    fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        }
    }
}

/// The busiest client count: where the targets through Apache are set.
const MANY: usize = 16;

impl Report<'_> {
    fn hello_rps(&self, handler: &Handler) -> Option<f64> {
        self.through_apache
            .find(handler, Workload::Hello, MANY)
            .map(|figures| figures.requests_per_second.median)
    }

    fn figures(&self, runtime: &str) -> Option<&RuntimeFigures> {
        self.in_process
            .runtimes
            .iter()
            .find(|figures| figures.runtime == runtime)
    }

    /// A runtime's kernel time over native's, per MiB.
    pub fn kernel_ratio(&self, figures: &RuntimeFigures) -> f64 {
        figures.kernel.millis_per_mib() / self.in_process.native_kernel.millis_per_mib()
    }

    pub fn targets(&self) -> Vec<Target> {
        /// The most one instantiation and run of hello may take in process, per runtime.
        const PER_RUN_TARGETS: [(&str, f64); 3] = [
            ("wasmer", 40.0),
            ("wasmedge", 30.0),
            ("wasmedge-interpreter", 60.0),
        ];
        let wasmtime = Handler::Wasm("wasmtime");
        let hello = self.hello_rps(&wasmtime);
        let over = |baseline: Handler| Some(hello? / self.hello_rps(&baseline)?);
        let mut targets = vec![
            Target::ratio(
                format!("hello under wasmtime: at least 50 % of the static file's requests/s ({MANY} clients)"),
                over(Handler::StaticFile).map(|r| r * 100.0),
                |percent| percent >= 50.0,
                " %",
            ),
            Target::ratio(
                format!("hello under wasmtime: at least 5 × mod_cgid's native hello ({MANY} clients)"),
                over(Handler::NativeCgi),
                |ratio| ratio >= 5.0,
                " ×",
            ),
        ];
        for figures in self.in_process.runtimes.iter().filter(|f| !f.interprets) {
            targets.push(Target::ratio(
                format!("SHA-256 under {}: within 1.3 × native", figures.runtime),
                Some(self.kernel_ratio(figures)),
                |ratio| ratio <= 1.3,
                " ×",
            ));
        }
        let aot_over_wasmtime =
            self.figures("wasmedge")
                .zip(self.figures("wasmtime"))
                .map(|(wasmedge, wasmtime)| {
                    wasmedge.kernel.millis_per_mib() / wasmtime.kernel.millis_per_mib()
                });
        for cost in self
            .through_apache
            .counting
            .iter()
            .filter(|cost| cost.clients == MANY)
        {
            targets.push(Target::ratio(
                format!(
                    "hello under {} counted for the status page: within 5 % of not counted \
                     ({MANY} clients)",
                    cost.handler.label()
                ),
                Some(cost.counted.median / cost.uncounted.median),
                |ratio| ratio >= 0.95,
                " ×",
            ));
        }
        targets.push(Target::ratio(
            "SHA-256 under WasmEdge (ahead-of-time): within 1.5 × wasmtime".to_owned(),
            aot_over_wasmtime,
            |ratio| ratio <= 1.5,
            " ×",
        ));
        for (runtime, most_us) in PER_RUN_TARGETS {
            targets.push(Target::ratio(
                format!(
                    "in process, instantiate and run hello under {runtime}: at most {most_us} µs"
                ),
                self.figures(runtime)
                    .map(|figures| figures.hello_run_us.median),
                move |us| us <= most_us,
                " µs",
            ));
        }
        for runtime in ["wasmer", "wasmedge"] {
            let share = self
                .hello_rps(&Handler::Wasm(runtime))
                .zip(hello)
                .map(|(theirs, wasmtime)| theirs / wasmtime * 100.0);
            targets.push(Target::ratio(
                format!(
                    "hello under {runtime}: at least 50 % of wasmtime's requests/s ({MANY} clients)"
                ),
                share,
                |percent| percent >= 50.0,
                " %",
            ));
        }
        targets
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let plan = self.plan;
        md.push_str("# mod_wasm benchmark report\n\n");
        md.push_str(
            "Generated by the benchmark; method and analysis in [README.md](README.md).\n\n",
        );
        if plan.quick {
            md.push_str(
                "> **Quick mode**: every measurement ran briefly to check that the benchmark \
                 works. These numbers mean nothing.\n\n",
            );
        }
        let _ = writeln!(md, "Command: `{}`  ", self.command);
        let _ = writeln!(
            md,
            "Each figure is the median of {} runs (compiling the large module: {}); \
             the range after it is the fastest and slowest run.\n",
            plan.runs, plan.slow_runs
        );
        self.machine_section(&mut md);
        self.targets_section(&mut md);
        md.push_str("![Requests per second and kernel time](report.svg)\n\n");
        self.apache_section(&mut md);
        self.in_process_section(&mut md);
        md
    }

    fn machine_section(&self, md: &mut String) {
        let m = self.machine;
        md.push_str("## Machine\n\n| | |\n|---|---|\n");
        for (key, value) in [
            ("Date", m.date.clone()),
            ("CPU", m.cpu.clone()),
            ("Cores", m.cores.to_string()),
            ("Memory", m.memory.clone()),
            ("System", format!("{}, Linux {}", m.system, m.kernel)),
            ("Apache", m.apache.clone()),
            ("Rust", m.rustc.clone()),
            ("Build", m.build.to_owned()),
        ] {
            let _ = writeln!(md, "| {key} | {value} |");
        }
        for (runtime, version) in &m.runtimes {
            let _ = writeln!(md, "| `{runtime}` | {version} |");
        }
        md.push('\n');
    }

    fn targets_section(&self, md: &mut String) {
        md.push_str("## Targets\n\n| Target | Measured | |\n|---|---:|---|\n");
        for target in self.targets() {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                target.goal,
                target.measured,
                target.verdict()
            );
        }
        md.push('\n');
    }

    fn apache_section(&self, md: &mut String) {
        let results = self.through_apache;
        let _ = writeln!(
            md,
            "## Through Apache\n\n\
             A load generator in a second process keeps each client's connection alive and sends \
             the next request when the previous response is complete; every response is checked. \
             Each handler runs in its own server: event MPM, one child with 32 threads.\n\n\
             ### hello: GET, {}-byte response\n",
            HELLO_BODY.len()
        );
        load_table(
            md,
            results
                .loads
                .iter()
                .filter(|f| f.workload == Workload::Hello),
        );
        let _ = writeln!(
            md,
            "### echo: POST of {} KiB, answered with the same bytes (CGI)\n",
            ECHO_BYTES / 1024
        );
        load_table(
            md,
            results
                .loads
                .iter()
                .filter(|f| f.workload == Workload::Echo),
        );
        let _ = writeln!(
            md,
            "### large response: GET of {} MiB, streamed by the guest as it generates it\n\n\
             The probe guest writes a pattern in 64 KiB pieces (without CGI); the static file \
             handler sends a file of the same size. Each handler has a server of its own, and \
             the peak resident memory (VmHWM) is its child's after all of these requests.\n\n\
             | Handler | Clients | MB/s | p50 | p99 | Child's peak RSS |\n\
             |---|---:|---:|---:|---:|---:|",
            LARGE_BYTES >> 20
        );
        for figures in results
            .loads
            .iter()
            .filter(|f| f.workload == Workload::Large)
        {
            let peak = results
                .large_memory
                .iter()
                .find(|m| m.handler == figures.handler)
                .map_or(0.0, |m| m.peak_rss_kib as f64 / 1024.0);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {peak:.1} MiB |",
                figures.handler.label(),
                figures.clients,
                summary(
                    figures.requests_per_second.scaled(LARGE_BYTES as f64 / 1e6),
                    "",
                    0
                ),
                summary(figures.p50_ms, "ms", 1),
                summary(figures.p99_ms, "ms", 1),
            );
        }
        md.push('\n');
        let _ = writeln!(
            md,
            "### hello with and without statistics\n\n\
             Two new servers, alike but for `WasmStatistics Off`: one counts every request \
             for the status page, the other does not. They are measured in alternating runs.\n\n\
             In process, counting one request takes {:.0} ns on one thread, and {:.0} ns on \
             each of two threads counting at the same location at once.\n\n\
             | Handler | Clients | counted (req/s) | not counted (req/s) | counted / not |\n\
             |---|---:|---:|---:|---:|",
            self.in_process.counting.one_thread_ns, self.in_process.counting.two_threads_ns,
        );
        for cost in &results.counting {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.0} | {:.3} |",
                cost.handler.label(),
                cost.clients,
                cost.counted.median,
                cost.uncounted.median,
                cost.counted.median / cost.uncounted.median
            );
        }
        md.push('\n');
        md.push_str(
            "### Memory\n\nPeak resident memory (VmHWM) of the serving child after all of its \
             load.\n\n| Server | Peak RSS |\n|---|---:|\n",
        );
        for memory in &results.memory {
            let _ = writeln!(
                md,
                "| {} | {:.1} MiB |",
                memory.handler.label(),
                memory.peak_rss_kib as f64 / 1024.0
            );
        }
        md.push('\n');
    }

    fn in_process_section(&self, md: &mut String) {
        let results = self.in_process;
        let plan = self.plan;
        let _ = writeln!(
            md,
            "## In process\n\n\
             Through the same `runtime_api` calls mod_wasm makes, without Apache. Compiling \
             includes checking imports (and, for WasmEdge, its forked compiler process); the \
             large module is generated ({:.1} MiB: {} functions of loops, arithmetic, \
             memory access and calls). A run is instantiation, WASI set-up and `_start`. The \
             kernel hashes {} MiB with SHA-256, the same Rust source built for the host and for \
             wasm32-wasip1. Native runs as a process: from each kernel time, the median time of \
             a run on an empty input (process start: {:.1} ms; instantiation for the runtimes) \
             is subtracted.\n",
            results.large_module_bytes as f64 / (1024.0 * 1024.0),
            results.large_module_functions,
            plan.kernel_mib,
            results.native_kernel.overhead_ms,
        );
        let _ = writeln!(
            md,
            "| Runtime | Compile hello ({} KiB) | Compile large | Instantiate and run hello | SHA-256, {} MiB | × native |\n\
             |---|---:|---:|---:|---:|---:|",
            results.small_module_bytes / 1024,
            plan.kernel_mib
        );
        let native = &results.native_kernel;
        let _ = writeln!(
            md,
            "| native | | | | {} | 1.00 |",
            summary(native.millis, "ms", 1)
        );
        let mut interpreted = Vec::new();
        for figures in &results.runtimes {
            if figures.interprets {
                interpreted.push(figures);
                continue;
            }
            self.runtime_row(md, figures);
        }
        md.push('\n');
        for figures in self.in_process.runtimes.iter() {
            if let Some(component) = figures.component_hello_us {
                let _ = writeln!(
                    md,
                    "Under {}, instantiating the wasi:http hello component (`examples/http-hello`, \
                     built for wasm32-wasip2) and handing it a GET takes {}, next to {} for \
                     the core module's hello above.\n",
                    figures.runtime,
                    summary(component, "µs", 0),
                    summary(figures.hello_run_us, "µs", 0),
                );
            }
        }
        if !interpreted.is_empty() {
            let _ = writeln!(
                md,
                "### Interpreters\n\n\
                 An interpreter runs the kernel on {} MiB; the time for {} MiB is that, scaled.\n\n\
                 | Runtime | Compile hello | Compile large | Instantiate and run hello | SHA-256, {} MiB | × native |\n\
                 |---|---:|---:|---:|---:|---:|",
                plan.interpreter_kernel_mib, plan.kernel_mib, plan.kernel_mib
            );
            for figures in interpreted {
                self.runtime_row(md, figures);
            }
            md.push('\n');
        }
    }
}

impl Report<'_> {
    /// A runtime's row of the in-process table. An interpreter's kernel, measured on a smaller
    /// input, is scaled to the size the compiled runtimes hashed.
    fn runtime_row(&self, md: &mut String, figures: &RuntimeFigures) {
        let (kernel_decimals, ratio_decimals) = if figures.interprets { (0, 0) } else { (1, 2) };
        let scale = self.plan.kernel_mib as f64 / figures.kernel.mib as f64;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.*} |",
            figures.runtime,
            summary(figures.compile_small_ms, "ms", 1),
            summary(figures.compile_large_ms, "ms", 0),
            summary(figures.hello_run_us, "µs", 0),
            summary(figures.kernel.millis.scaled(scale), "ms", kernel_decimals),
            ratio_decimals,
            self.kernel_ratio(figures)
        );
    }
}

fn load_table<'a>(md: &mut String, rows: impl Iterator<Item = &'a LoadFigures>) {
    md.push_str("| Handler | Clients | Requests/s | p50 | p99 |\n|---|---:|---:|---:|---:|\n");
    for figures in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            figures.handler.label(),
            figures.clients,
            summary(figures.requests_per_second, "", 0),
            summary(figures.p50_ms, "ms", 2),
            summary(figures.p99_ms, "ms", 2),
        );
    }
    md.push('\n');
}

/// "median unit (min–max)".
fn summary(summary: Summary, unit: &str, decimals: usize) -> String {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    format!(
        "{:.*}{unit} ({:.*}–{:.*})",
        decimals, summary.median, decimals, summary.min, decimals, summary.max
    )
}
