//! The status page (`SetHandler wasm-status`): the figures of every runtime's requests at each
//! location, across all children, as HTML, JSON and Prometheus's exposition format; mod_wasm's
//! section of mod_status; and the request notes for the access log.

use mod_wasm_tests::{
    for_each_runtime, guest, load_module, runtimes, Apache, Config, Mpm, APACHE_MODULES,
};
use serde_json::Value;

const STATUS: &str = "<Location /wasm-status>\n  SetHandler wasm-status\n</Location>\n";

fn probe(path: &str, runtime: &str, args: &[&str]) -> String {
    let args: String = args.iter().map(|a| format!("  WasmArg {a}\n")).collect();
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n{args}</Location>\n",
        guest("probe").display()
    )
}

fn status_json(apache: &Apache) -> Value {
    let response = apache.get("/wasm-status?format=json");
    assert_eq!(response.status, 200, "{}", apache.error_log());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    serde_json::from_slice(&response.body).unwrap()
}

/// The figures of `runtime` in `status`.
fn runtime_of<'a>(status: &'a Value, runtime: &str) -> &'a Value {
    status["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == runtime)
        .unwrap_or_else(|| panic!("no {runtime} in {status:#}"))
}

/// The figures of the location whose section starts with `section` under `runtime`.
fn location_of<'a>(status: &'a Value, runtime: &str, section: &str) -> &'a Value {
    runtime_of(status, runtime)["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["location"].as_str().unwrap().starts_with(section))
        .unwrap_or_else(|| panic!("no {section} under {runtime} in {status:#}"))
}

#[test]
fn the_status_page_counts_each_runtimes_requests_where_they_were_configured() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let scripts = config.scratch.dir("scripts");
        let sockets = mod_wasm_tests::runtime(runtime).socket_abi.clone();
        let mut body = format!(
            "{STATUS}{}{}{}Alias /scripts {dir}\n<Directory {dir}>\n  AddHandler wasm-handler .py\n  \
             WasmRuntime {runtime}\n  WasmModule {probe}\n</Directory>\n",
            probe("/ok", runtime, &["exit", "0"]),
            probe("/trap", runtime, &["trap"]),
            load_module("alias"),
            dir = scripts.display(),
            probe = guest("probe").display(),
        );
        if let Some(abi) = &sockets {
            // The guestbook connects to its database, which this location does not grant.
            body.push_str(&format!(
                "<Location /refused>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  \
                 WasmModule {}\n  WasmEnableCGI On\n  WasmEnv DB_HOST 127.0.0.1\n  \
                 WasmEnv DB_PORT 9\n  WasmEnv DB_USER guest\n  WasmEnv DB_PASSWORD secret\n  \
                 WasmEnv DB_NAME guestbook\n</Location>\n",
                guest(&format!("guestbook-{abi}")).display()
            ));
        }
        let apache = config.with_body(&body).start();
        for _ in 0..3 {
            assert_eq!(apache.get("/ok").status, 200, "{runtime}");
        }
        assert_eq!(apache.get("/trap").status, 500, "{runtime}");
        assert_eq!(apache.get("/scripts/missing.py").status, 404, "{runtime}");
        if sockets.is_some() {
            apache.get("/refused");
        }

        let status = status_json(&apache);
        let ok = location_of(&status, runtime, "<Location /ok>");
        assert_eq!(ok["requests"], 3, "{runtime}: {ok:#}");
        assert_eq!(ok["responses"]["2xx"], 3, "{runtime}: {ok:#}");
        assert_eq!(ok["module"], guest("probe").display().to_string());
        let trap = location_of(&status, runtime, "<Location /trap>");
        assert_eq!(trap["responses"]["5xx"], 1, "{runtime}: {trap:#}");
        assert_eq!(trap["failures"]["trap"], 1, "{runtime}: {trap:#}");
        let scripts = location_of(&status, runtime, "<Directory");
        assert_eq!(scripts["responses"]["4xx"], 1, "{runtime}: {scripts:#}");
        assert_eq!(
            scripts["failures"]["not_found"], 1,
            "{runtime}: {scripts:#}"
        );
        let expected = if sockets.is_some() {
            let refused = location_of(&status, runtime, "<Location /refused>");
            assert_eq!(
                refused["refusals"],
                1,
                "{runtime}: {}\n{}",
                refused["failures"],
                apache.error_log()
            );
            6
        } else {
            5
        };
        let this = runtime_of(&status, runtime);
        assert_eq!(this["totals"]["requests"], expected, "{runtime}: {this:#}");
        assert!(this["version"].as_str().unwrap().len() > 1);
        // The check compiled each module once (or found it in the cache).
        let compiles = &this["compiles"];
        let obtained =
            compiles["compiled"].as_u64().unwrap() + compiles["from_cache"].as_u64().unwrap();
        assert!(obtained >= 1, "{runtime}: {compiles:#}");
        for other in runtimes().into_iter().filter(|r| *r != runtime) {
            assert_eq!(
                runtime_of(&status, other)["totals"]["requests"],
                0,
                "{other}"
            );
        }

        let prometheus = apache.get("/wasm-status?format=prometheus");
        assert_eq!(
            prometheus.header("Content-Type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = prometheus.text();
        assert_exposition_format(&text);
        let ok_line = text
            .lines()
            .find(|l| {
                l.starts_with("mod_wasm_requests_total{")
                    && l.contains(&format!("runtime=\"{runtime}\""))
                    && l.contains("location=\"<Location /ok>")
            })
            .unwrap_or_else(|| panic!("{runtime}: no requests of /ok in:\n{text}"));
        assert!(ok_line.ends_with(" 3"), "{ok_line}");
        assert!(text.contains(&format!(
            "mod_wasm_failures_total{{runtime=\"{runtime}\",location=\"{}\",module=\"{}\",kind=\"trap\"}} 1",
            trap["location"].as_str().unwrap(),
            guest("probe").display()
        )), "{runtime}:\n{text}");

        let page = apache.get("/wasm-status");
        assert_eq!(
            page.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        let html = page.text();
        assert!(html.contains("<h1>mod_wasm status</h1>"), "{html}");
        assert!(html.contains("&lt;Location /ok&gt;"), "{html}");
    });
}

/// Checks `text` line by line against the exposition format: `# HELP`/`# TYPE` comments, and
/// samples `name{label="value",...} number` of the family the last `# TYPE` named.
fn assert_exposition_format(text: &str) {
    let mut family = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = name.to_owned();
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(line.starts_with(&family) && !family.is_empty(), "{line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
    }
}

#[test]
fn figures_add_up_across_children_and_the_access_log_has_the_notes() {
    let runtime = runtimes()[0];
    let config = Config::new("");
    let log = config.scratch.path().join("access.log");
    let body = format!(
        "LogFormat \"%P %U %{{wasm-runtime}}n %{{wasm-run-us}}n\" wasm\n\
         CustomLog {} wasm\n\
         StartServers 3\nMinSpareServers 3\nMaxSpareServers 6\n{STATUS}{}",
        log.display(),
        probe("/ok", runtime, &["exit", "0"]),
    );
    let apache = config.with_body(&body).mpm(Mpm::Prefork).start();
    let port = apache.port();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let response = mod_wasm_tests::http::Request::new(port, "GET", "/ok").send();
                    assert_eq!(response.status, 200);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let status = status_json(&apache);
    let ok = location_of(&status, runtime, "<Location /ok>");
    assert_eq!(ok["requests"], 40, "{ok:#}");

    let log = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = log
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|fields| fields[1] == "/ok")
        .collect();
    assert_eq!(lines.len(), 40, "{log}");
    let mut pids: Vec<&str> = lines.iter().map(|fields| fields[0]).collect();
    pids.sort();
    pids.dedup();
    assert!(pids.len() > 1, "one child served every request: {log}");
    for fields in &lines {
        assert_eq!(fields[2], runtime, "{log}");
        assert!(fields[3].parse::<u64>().is_ok(), "{log}");
    }
}

#[test]
fn the_status_page_is_there_only_where_it_is_configured() {
    let runtime = runtimes()[0];
    let apache = Config::new(&probe("/ok", runtime, &["exit", "0"])).start();
    assert_eq!(apache.get("/ok").status, 200);
    assert_eq!(apache.get("/wasm-status").status, 404);
    assert_eq!(apache.get("/wasm-status?format=json").status, 404);
    drop(apache);

    let apache = Config::new(STATUS).start();
    assert_eq!(apache.get("/wasm-status?format=xml").status, 400);
    assert_eq!(apache.request("POST", "/wasm-status").send().status, 405);
}

#[test]
fn mod_status_shows_a_mod_wasm_section() {
    let runtime = runtimes()[0];
    let body = format!(
        "LoadModule status_module {APACHE_MODULES}/mod_status.so\n\
         <Location /server-status>\n  SetHandler server-status\n</Location>\n{}",
        probe("/ok", runtime, &["exit", "0"]),
    );
    let apache = Config::new(&body).start();
    assert_eq!(apache.get("/ok").status, 200);
    let page = apache.get("/server-status").text();
    assert!(page.contains("<h1>mod_wasm</h1>"), "{page}");
    assert!(page.contains("&lt;Location /ok&gt;"), "{page}");
    let auto = apache.get("/server-status?auto").text();
    assert!(auto.lines().any(|l| l == "WasmRequests: 1"), "{auto}");
}
