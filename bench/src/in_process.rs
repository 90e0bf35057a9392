//! Measurements without Apache, through the same `runtime_api` calls mod_wasm makes: compiling
//! a module, instantiating and running one, and a CPU-bound kernel against its native build.

use crate::stats::Summary;
use crate::{large_module, Plan};
use runtime_api::stdio::OutputBuffer;
use runtime_api::{Capability, ExecutionConfig, HttpRequest, LoadedModule, Runtime, Stdio};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The figures of one runtime.
pub struct RuntimeFigures {
    pub runtime: &'static str,
    pub interprets: bool,
    pub compile_small_ms: Summary,
    pub compile_large_ms: Summary,
    /// One instantiation and run of hello, in microseconds.
    pub hello_run_us: Summary,
    /// One instantiation of the wasi:http hello component and its answer to a GET, in
    /// microseconds, under a runtime that runs components.
    pub component_hello_us: Option<Summary>,
    pub kernel: Kernel,
}

/// SHA-256 over `mib` MiB, in milliseconds, without the cost of a run on an empty input
/// (starting a process, or instantiating a module), which is `overhead_ms`.
pub struct Kernel {
    pub mib: usize,
    pub millis: Summary,
    pub overhead_ms: f64,
}

impl Kernel {
    /// Milliseconds per MiB, so kernels measured on different sizes compare.
    pub fn millis_per_mib(&self) -> f64 {
        self.millis.median / self.mib as f64
    }
}

pub struct Results {
    pub small_module_bytes: usize,
    pub large_module_bytes: usize,
    pub large_module_functions: u32,
    pub native_kernel: Kernel,
    pub runtimes: Vec<RuntimeFigures>,
    pub counting: CountingCost,
}

/// What counting one request for the status page costs, in nanoseconds: on one thread, and on
/// each of two threads counting at the same location at once (which share its counters).
pub struct CountingCost {
    pub one_thread_ns: f64,
    pub two_threads_ns: f64,
}

pub fn measure(
    plan: &Plan,
    runtimes: &[&dyn Runtime],
    guests: &Path,
    components: &Path,
    native: &Path,
) -> Results {
    let hello = read(&guests.join("hello.wasm"));
    let kernel = read(&guests.join("sha256.wasm"));
    let (large, large_module_functions) = large_module::generate(plan.large_module_bytes);
    eprintln!("== in process: native SHA-256 over {} MiB", plan.kernel_mib);
    let native_kernel = native_kernel(plan, &native.join("sha256"));
    let runtimes = runtimes
        .iter()
        .map(|runtime| {
            eprintln!("== in process: {}", runtime.name());
            let component = runtime
                .capabilities()
                .has(Capability::Components)
                .then(|| read(&components.join("http_hello.wasm")));
            measure_runtime(
                plan,
                *runtime,
                &hello,
                component.as_deref(),
                &large,
                &kernel,
            )
        })
        .collect();
    Results {
        small_module_bytes: hello.len(),
        large_module_bytes: large.len(),
        large_module_functions,
        native_kernel,
        runtimes,
        counting: counting_cost(),
    }
}

/// Counts a million requests at one location, on one thread and then on two at once.
fn counting_cost() -> CountingCost {
    use mod_wasm_core::stats::{Place, Statistics, Tally};
    use mod_wasm_core::Origin;
    const COUNTS: u32 = 1_000_000;
    eprintln!("== in process: counting requests for the status page");
    let statistics = Statistics::new().expect("the statistics' shared memory");
    let origin = Origin {
        file: "/etc/apache2/sites-enabled/app.conf".into(),
        line: 12,
        section: "<Location /app>".into(),
        mount: None,
    };
    let tally = Tally {
        status: Some(200),
        ..Tally::default()
    };
    let count = || {
        let place = Place {
            runtime: "wasmtime",
            origin: &origin,
            module: Path::new("/srv/app/app.wasm"),
        };
        let started = Instant::now();
        for _ in 0..COUNTS {
            statistics.count(&place, &tally, Duration::from_micros(40));
        }
        started.elapsed().as_nanos() as f64 / f64::from(COUNTS)
    };
    let one_thread_ns = count();
    let two_threads_ns = std::thread::scope(|scope| {
        let other = scope.spawn(count);
        let this = count();
        (this + other.join().expect("the counting thread")) / 2.0
    });
    eprintln!("   {one_thread_ns:.0} ns on one thread, {two_threads_ns:.0} ns on each of two");
    CountingCost {
        one_thread_ns,
        two_threads_ns,
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (scripts/bench builds the guests)",
            path.display()
        )
    })
}

fn measure_runtime(
    plan: &Plan,
    runtime: &dyn Runtime,
    hello: &[u8],
    component: Option<&[u8]>,
    large: &[u8],
    kernel: &[u8],
) -> RuntimeFigures {
    let name = runtime.name();
    let compile = |wasm: &[u8], what: &str, runs: usize| {
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                runtime
                    .compile(wasm)
                    .unwrap_or_else(|e| panic!("{name} cannot compile the {what} module: {e}"));
                start.elapsed()
            })
            .collect();
        Summary::of_millis(&times)
    };
    let compile_small_ms = compile(hello, "hello", plan.runs);
    let compile_large_ms = compile(large, "large", plan.slow_runs);
    eprintln!(
        "   compile: hello {:.1} ms, large {:.0} ms",
        compile_small_ms.median, compile_large_ms.median
    );

    let loaded_hello = load(runtime, hello, "hello");
    let hello_run_us = Summary::of(
        &(0..plan.runs)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..plan.hello_iterations {
                    let output = run(&*loaded_hello, &["hello.wasm"], name);
                    assert!(
                        output.ends_with(crate::through_apache::HELLO_BODY),
                        "{name}: hello printed {:?}",
                        String::from_utf8_lossy(&output)
                    );
                }
                start.elapsed().as_secs_f64() * 1e6 / plan.hello_iterations as f64
            })
            .collect::<Vec<_>>(),
    );
    eprintln!(
        "   instantiate and run hello: {:.0} µs",
        hello_run_us.median
    );

    let component_hello_us = component.map(|component| {
        let loaded = load(runtime, component, "the wasi:http hello component");
        let handler = loaded
            .as_http_handler()
            .unwrap_or_else(|| panic!("{name}: http_hello is no wasi:http handler"));
        let figure = Summary::of(
            &(0..plan.runs)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..plan.hello_iterations {
                        let body = handle(handler, name);
                        assert!(body.starts_with(b"Hello from a wasi:http component!"));
                    }
                    start.elapsed().as_secs_f64() * 1e6 / plan.hello_iterations as f64
                })
                .collect::<Vec<_>>(),
        );
        eprintln!(
            "   instantiate the wasi:http hello component and handle a GET: {:.0} µs",
            figure.median
        );
        figure
    });

    let mib = if runtime.interprets() {
        plan.interpreter_kernel_mib
    } else {
        plan.kernel_mib
    };
    let loaded_kernel = load(runtime, kernel, "sha256");
    let kernel = time_kernel(name, plan.runs, mib, |mib| {
        let mib = mib.to_string();
        run(&*loaded_kernel, &["sha256.wasm", &mib], name)
    });
    eprintln!("   SHA-256 over {mib} MiB: {:.1} ms", kernel.millis.median);

    RuntimeFigures {
        runtime: name,
        interprets: runtime.interprets(),
        compile_small_ms,
        compile_large_ms,
        hello_run_us,
        component_hello_us,
        kernel,
    }
}

/// Runs hello under `runtime` over and over for `duration`, printing the time per run each
/// second: a steady load for a profiler.
pub fn hello_loop(runtime: &dyn Runtime, guests: &Path, duration: Duration) {
    let name = runtime.name();
    let loaded = load(runtime, &read(&guests.join("hello.wasm")), "hello");
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < Duration::from_secs(1) {
            run(&*loaded, &["hello.wasm"], name);
            runs += 1;
        }
        println!(
            "{name}: {:.1} µs per run of hello",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
        );
    }
}

/// How long `runtime` takes to answer a GET of `/` with the `wasi:http` handler `wasm` in
/// process, without Apache, as mod_wasm calls it: microseconds per request, over `duration`
/// after a warm-up, with a fresh instance per request or (`reuse`) instances reused as
/// `WasmReuse On` reuses them.
pub fn handler_call_us(
    runtime: &dyn Runtime,
    wasm: &[u8],
    reuse: bool,
    expected: &[u8],
    duration: Duration,
) -> f64 {
    let name = runtime.name();
    let loaded = load(runtime, wasm, "the wasi:http handler");
    let handler = loaded
        .as_http_handler()
        .unwrap_or_else(|| panic!("{name}: not a wasi:http handler"));
    let config = ExecutionConfig {
        reuse: if reuse {
            runtime_api::Reuse::UpTo(mod_wasm_core::settings::reuse::DEFAULT_REQUESTS)
        } else {
            runtime_api::Reuse::Off
        },
        ..ExecutionConfig::default()
    };
    let call = || {
        let body = handle_with(handler, &config, name);
        assert_eq!(body, expected, "{name}: the handler answered otherwise");
    };
    for _ in 0..100 {
        call();
    }
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < duration {
        call();
        calls += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

/// Hands `handler` a GET of `/` the way mod_wasm does, and returns the body it answered with.
fn handle(handler: &dyn runtime_api::HttpHandler, runtime: &str) -> Vec<u8> {
    handle_with(handler, &ExecutionConfig::default(), runtime)
}

/// Hands `handler` a GET of `/` in the sandbox `config`, and returns the body it answered with.
fn handle_with(
    handler: &dyn runtime_api::HttpHandler,
    config: &ExecutionConfig,
    runtime: &str,
) -> Vec<u8> {
    /// A response kept in memory.
    struct Kept(OutputBuffer);
    impl std::io::Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl runtime_api::HttpResponse for Kept {
        fn head(&mut self, status: u16, _: Vec<(String, String)>) {
            assert_eq!(status, 200);
        }
        fn trailers(&mut self, _: Vec<(String, String)>) {}
    }
    let request = HttpRequest {
        method: "GET".into(),
        scheme: "http".into(),
        authority: "localhost".into(),
        path_with_query: "/".into(),
        headers: vec![("host".into(), "localhost".into())],
    };
    let body = OutputBuffer::unlimited();
    let report = handler.handle(
        config,
        request,
        Box::new(std::io::empty()),
        Stdio::null(),
        Box::new(Kept(body.clone())),
    );
    match report.outcome {
        Ok(code) if code.is_success() => body.take(),
        Ok(code) => panic!("{runtime}: the handler exited with {}", code.0),
        Err(e) => panic!("{runtime}: the handler failed: {e}"),
    }
}

fn load(runtime: &dyn Runtime, wasm: &[u8], what: &str) -> Arc<dyn LoadedModule> {
    let name = runtime.name();
    let precompiled = runtime
        .compile(wasm)
        .unwrap_or_else(|e| panic!("{name} cannot compile {what}: {e}"));
    runtime
        .load(&precompiled)
        .unwrap_or_else(|e| panic!("{name} cannot load {what}: {e}"))
}

/// Runs `module` with `args` the way mod_wasm does, and returns what it printed.
fn run(module: &dyn LoadedModule, args: &[&str], runtime: &str) -> Vec<u8> {
    let config = ExecutionConfig {
        args: args.iter().map(|arg| arg.to_string()).collect(),
        ..ExecutionConfig::default()
    };
    let stdout = OutputBuffer::unlimited();
    let stdio = Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(std::io::sink()),
    };
    match module.run(&config, stdio).outcome {
        Ok(code) if code.is_success() => stdout.take(),
        Ok(code) => panic!("{runtime}: {} exited with {}", args[0], code.0),
        Err(e) => panic!("{runtime}: {} failed: {e}", args[0]),
    }
}

fn native_kernel(plan: &Plan, program: &Path) -> Kernel {
    time_kernel("native", plan.runs, plan.kernel_mib, |mib| {
        Command::new(program)
            .arg(mib.to_string())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
            .stdout
    })
}

/// Times `runs` runs of the kernel on `mib` MiB (`hash(mib)` returns what it printed) and
/// subtracts the median time of as many runs on an empty input. Every digest is checked.
fn time_kernel(
    who: &str,
    runs: usize,
    mib: usize,
    mut hash: impl FnMut(usize) -> Vec<u8>,
) -> Kernel {
    let mut timed = |mib: usize, expected: &str| -> f64 {
        let start = Instant::now();
        let output = hash(mib);
        let elapsed = start.elapsed();
        check_digest(&output, expected, who);
        elapsed.as_secs_f64() * 1e3
    };
    let empty = expected_digest(0);
    let overhead_ms = Summary::of(&(0..runs).map(|_| timed(0, &empty)).collect::<Vec<_>>()).median;
    let expected = expected_digest(mib);
    let millis: Vec<f64> = (0..runs)
        .map(|_| timed(mib, &expected) - overhead_ms)
        .collect();
    Kernel {
        mib,
        millis: Summary::of(&millis),
        overhead_ms,
    }
}

fn check_digest(output: &[u8], expected: &str, who: &str) {
    let printed = String::from_utf8_lossy(output);
    assert_eq!(
        printed.trim(),
        expected,
        "{who}: the SHA-256 kernel printed a wrong digest"
    );
}

/// The digest the kernel must print for `mib` MiB: its input stream (xorshift64, seed 1, eight
/// little-endian bytes per step) hashed by the `sha2` crate.
pub fn expected_digest(mib: usize) -> String {
    let mut hasher = Sha256::new();
    let mut state: u64 = 1;
    let mut block = [0u8; 64];
    for _ in 0..mib * 1024 * 1024 / 64 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        hasher.update(block);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_expected_digest_is_sha256_of_the_kernel_input() {
        // The empty input, and a value computed independently (Python's hashlib).
        assert_eq!(
            super::expected_digest(0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            super::expected_digest(16),
            "44e74d146ed8c4015c8032d8d207dab95b083a78ad1cd85166a9c737fb3d1395"
        );
    }
}
