//! WASI `wasi:http` handlers under mod_wasm against `wasmtime serve`, the anchor: the same hello
//! components (WASI 0.2's `examples/http-hello`, WASI 0.3's `examples/http-service`) on the
//! same machine, in one run. mod_wasm serves each with a fresh instance per request, and the
//! 0.3 one also with `WasmReuse On`; `wasmtime serve` (the CLI at the version this module links,
//! `MOD_WASM_WASMTIME_CLI`) serves them with its defaults: a fresh instance per request for
//! 0.2, and for 0.3 an instance reused for up to 128 requests, 16 of them at once.

use crate::in_process;
use crate::load::{self, Target};
use crate::stats::quantile;
use crate::through_apache::SERVER_SETTINGS;
use mod_wasm_tests::{component, free_port, Config};
use runtime_api::Runtime;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the components benchmark runs.
pub struct ComponentsPlan {
    pub clients: &'static [usize],
    pub warmup: Duration,
    pub load_duration: Duration,
}

impl ComponentsPlan {
    pub const FULL: ComponentsPlan = ComponentsPlan {
        clients: &[1, 16],
        warmup: Duration::from_secs(1),
        load_duration: Duration::from_secs(5),
    };
    pub const QUICK: ComponentsPlan = ComponentsPlan {
        clients: &[1, 16],
        warmup: Duration::from_millis(100),
        load_duration: Duration::from_millis(300),
    };
}

/// The hello components, with what they answer.
const HANDLERS: [(&str, &str, &[u8]); 2] = [
    (
        "WASI 0.2",
        "http_hello",
        b"Hello from a wasi:http component!\n",
    ),
    (
        "WASI 0.3",
        "http_service",
        b"Hello from a WASI 0.3 wasi:http component!\n",
    ),
];

/// Who serves a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    WasmtimeServe,
    ModWasm {
        reuse: bool,
    },
    /// The same Apache as mod_wasm's, serving a file of the hello's length: what a request
    /// through Apache costs before any handler runs.
    StaticFile,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::WasmtimeServe => "`wasmtime serve`",
            Server::ModWasm { reuse: false } => "mod_wasm, a fresh instance per request",
            Server::ModWasm { reuse: true } => "mod_wasm, `WasmReuse On`",
            Server::StaticFile => "Apache, a static file of the same length",
        }
    }
}

/// mod_wasm's call of a handler alone, in the benchmark's process: what a request costs
/// besides Apache's and the connection's work.
pub struct InProcess {
    pub handler: &'static str,
    pub reuse: bool,
    pub micros_per_request: f64,
}

/// What the benchmark measured.
pub struct Figures {
    pub loads: Vec<Figure>,
    pub in_process: Vec<InProcess>,
}

/// One load: a server, a handler and a number of clients.
pub struct Figure {
    pub server: Server,
    pub handler: &'static str,
    pub clients: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
}

/// `wasmtime serve` on a free loopback port, stopped when dropped.
struct WasmtimeServe {
    child: Child,
    port: u16,
}

impl WasmtimeServe {
    fn start(cli: &Path, wasm: &Path) -> WasmtimeServe {
        let port = free_port();
        let child = Command::new(cli)
            .arg("serve")
            // The components import wasi:cli (their environment, stdio), which `serve` grants
            // only when asked.
            .arg("-Scli")
            .arg(format!("--addr=127.0.0.1:{port}"))
            .arg(wasm)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", cli.display()));
        let server = WasmtimeServe { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "wasmtime serve did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `wasmtime` CLI the benchmark compares with (`MOD_WASM_WASMTIME_CLI`, which
/// `scripts/bench --components` installs).
pub fn wasmtime_cli() -> PathBuf {
    std::env::var_os("MOD_WASM_WASMTIME_CLI")
        .map(PathBuf::from)
        .expect("MOD_WASM_WASMTIME_CLI: the wasmtime CLI (scripts/bench --components installs it)")
}

/// Measures every load, and, with `wasmtime` (the runtime under mod_wasm here), each
/// handler's call in process.
pub fn run(plan: &ComponentsPlan, wasmtime: &dyn Runtime) -> Figures {
    let cli = wasmtime_cli();
    let mut figures = Vec::new();
    let mut in_process = Vec::new();
    for (handler, name, body) in HANDLERS {
        let wasm = component(name);
        eprintln!("== components: {handler}, wasmtime serve");
        let serve = WasmtimeServe::start(&cli, &wasm);
        measure(
            plan,
            Server::WasmtimeServe,
            handler,
            serve.port,
            "/",
            body,
            &mut figures,
        );
        drop(serve);
        let reuses: &[bool] = if name == "http_service" {
            &[false, true]
        } else {
            &[false]
        };
        for &reuse in reuses {
            eprintln!("== components: {handler}, in process, reuse {reuse}");
            let micros_per_request = in_process::handler_call_us(
                wasmtime,
                &std::fs::read(&wasm).expect("the component"),
                reuse,
                body,
                plan.load_duration,
            );
            eprintln!("   {micros_per_request:.0} µs per request");
            in_process.push(InProcess {
                handler,
                reuse,
                micros_per_request,
            });
            eprintln!("== components: {handler}, mod_wasm, reuse {reuse}");
            let directive = if reuse { "  WasmReuse On\n" } else { "" };
            let server = Config::new(&format!(
                "{SERVER_SETTINGS}<Location /app>\n  SetHandler wasm-handler\n  WasmRuntime wasmtime\n  \
                 WasmModule {}\n{directive}</Location>\n",
                wasm.display()
            ))
            .start();
            std::fs::write(server.config().htdocs().join("hello.txt"), body)
                .expect("writing the static file");
            let first = server.get("/app/");
            assert!(
                first.status == 200 && first.body == body,
                "{handler}: {} {:?}; error log:\n{}",
                first.status,
                first.text(),
                server.error_log()
            );
            measure(
                plan,
                Server::ModWasm { reuse },
                handler,
                server.port(),
                "/app/",
                body,
                &mut figures,
            );
            if reuse {
                eprintln!("== components: {handler}, a static file from the same Apache");
                measure(
                    plan,
                    Server::StaticFile,
                    handler,
                    server.port(),
                    "/hello.txt",
                    body,
                    &mut figures,
                );
            }
        }
    }
    Figures {
        loads: figures,
        in_process,
    }
}

fn measure(
    plan: &ComponentsPlan,
    server: Server,
    handler: &'static str,
    port: u16,
    path: &str,
    body: &[u8],
    figures: &mut Vec<Figure>,
) {
    let target = Target::get(port, path, body.len());
    for &clients in plan.clients {
        let label = format!("{handler}, {}", server.label());
        load::run(&target, clients, plan.warmup)
            .unwrap_or_else(|e| panic!("{label}, {clients} clients, warming up: {e}"));
        let run = load::run(&target, clients, plan.load_duration)
            .unwrap_or_else(|e| panic!("{label}, {clients} clients: {e}"));
        let p50_ms = quantile(&run.latencies, 0.5).as_secs_f64() * 1e3;
        eprintln!(
            "   {label:<60} {clients:>2} clients: {:>8.0} req/s, p50 {p50_ms:.2} ms",
            run.requests_per_second()
        );
        figures.push(Figure {
            server,
            handler,
            clients,
            requests_per_second: run.requests_per_second(),
            p50_ms,
        });
    }
}

/// The figures as Markdown: each load beside `wasmtime serve`'s on the same component and
/// clients, and the target's verdict (with reuse on, at least 0.8 × `wasmtime serve`).
pub fn markdown(figures: &Figures) -> String {
    let Figures {
        loads: figures,
        in_process,
    } = figures;
    let anchor = |handler: &str, clients: usize| {
        figures
            .iter()
            .find(|f| {
                f.server == Server::WasmtimeServe && f.handler == handler && f.clients == clients
            })
            .map(|f| f.requests_per_second)
    };
    let mut out = String::from(
        "| handler | server | clients | requests/s | p50 (ms) | × `wasmtime serve` |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for f in figures {
        let ratio = anchor(f.handler, f.clients).map_or("—".to_owned(), |a| {
            format!("{:.2}", f.requests_per_second / a)
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.2} | {ratio} |",
            f.handler,
            f.server.label(),
            f.clients,
            f.requests_per_second,
            f.p50_ms
        );
    }
    out.push_str("\n| target | clients | figure | verdict |\n|---|---:|---:|---|\n");
    for f in figures
        .iter()
        .filter(|f| f.server == (Server::ModWasm { reuse: true }))
    {
        if let Some(anchor) = anchor(f.handler, f.clients) {
            let ratio = f.requests_per_second / anchor;
            let _ = writeln!(
                out,
                "| {}, `WasmReuse On` ≥ 0.8 × `wasmtime serve` | {} | {ratio:.2} × | {} |",
                f.handler,
                f.clients,
                if ratio >= 0.8 { "met" } else { "**missed**" }
            );
        }
    }
    out.push_str(
        "\n| handler | instance | mod_wasm's call of the handler in process, without Apache (µs per request) |\n\
         |---|---|---:|\n",
    );
    for call in in_process {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} |",
            call.handler,
            if call.reuse {
                "reused (`WasmReuse On`)"
            } else {
                "fresh per request"
            },
            call.micros_per_request
        );
    }
    out
}
