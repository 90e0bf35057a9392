use super::*;

fn ok() -> Tally {
    Tally {
        status: Some(200),
        ..Tally::default()
    }
}

/// Counts a request of `runtime` at the `WasmModule` of `section` (x.conf, line 1) running
/// `module`.
fn count(
    stats: &Statistics,
    runtime: &str,
    section: &str,
    module: &str,
    tally: &Tally,
    took: Duration,
) {
    let origin = Origin {
        file: "x.conf".into(),
        line: 1,
        section: section.into(),
        mount: None,
    };
    let place = Place {
        runtime,
        origin: &origin,
        module: Path::new(module),
    };
    stats.count(&place, tally, took);
}

fn figures<'a>(snapshot: &'a Snapshot, section: &str) -> &'a Figures {
    &snapshot
        .locations
        .iter()
        .find(|l| l.location == format!("{section} (x.conf:1)"))
        .unwrap_or_else(|| panic!("no {section} in {snapshot:?}"))
        .figures
}

#[test]
fn requests_are_counted_per_runtime_and_location() {
    let stats = Statistics::new().unwrap();
    let ms = Duration::from_millis(1);
    count(&stats, "alpha", "<Location /a>", "/a.wasm", &ok(), ms);
    count(&stats, "alpha", "<Location /a>", "/a.wasm", &ok(), ms * 3);
    let trap = Tally {
        status: Some(500),
        failure: Some(Failure::Trap),
        refusals: 2,
        load: Some((Load::Lazy, ms)),
    };
    count(&stats, "beta", "<Location /a>", "/a.wasm", &trap, ms * 2000);
    stats.count_unresolved();
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.unresolved, 1);
    assert_eq!(snapshot.locations.len(), 2);
    let alpha = &snapshot.locations[0];
    assert_eq!(
        (alpha.runtime.as_str(), alpha.module.as_str()),
        ("alpha", "/a.wasm")
    );
    assert_eq!(alpha.figures.requests, 2);
    assert_eq!(alpha.figures.responses["2xx"], 2);
    assert_eq!(alpha.figures.failures.values().sum::<u64>(), 0);
    assert_eq!(alpha.figures.p50_seconds, Some(0.001));
    assert_eq!(alpha.figures.p99_seconds, Some(0.005));
    let beta = &snapshot.locations[1].figures;
    assert_eq!(beta.responses["5xx"], 1);
    assert_eq!(beta.failures["trap"], 1);
    assert_eq!(beta.refusals, 2);
    assert_eq!(beta.loads_lazy, 1);
    assert_eq!(beta.p50_seconds, Some(2.5));
}

#[test]
fn children_add_to_the_figures_of_their_parent() {
    let stats = Statistics::new().unwrap();
    let location = "<Location /forked>";
    let mut children = Vec::new();
    for _ in 0..3 {
        // SAFETY: the child only counts (atomics in shared memory) and leaves with `_exit`.
        match unsafe { libc::fork() } {
            0 => {
                count(&stats, "alpha", location, "/m.wasm", &ok(), Duration::ZERO);
                // SAFETY: ends the child without running the test harness's exit handlers.
                unsafe { libc::_exit(0) }
            }
            pid => children.push(pid),
        }
    }
    for pid in children {
        let mut status = 0;
        // SAFETY: waits for a child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    }
    count(&stats, "alpha", location, "/m.wasm", &ok(), Duration::ZERO);
    assert_eq!(figures(&stats.snapshot(), location).requests, 4);
}

#[test]
fn compiles_are_counted_per_runtime() {
    let stats = Statistics::new().unwrap();
    stats.count_compile("alpha", Compile::Compiled, Duration::from_millis(1500));
    stats.count_compile("alpha", Compile::FromCache, Duration::from_millis(20));
    stats.count_compile("alpha", Compile::Reused, Duration::ZERO);
    let snapshot = stats.snapshot();
    let alpha = &snapshot.compiles[0];
    assert_eq!((alpha.compiled, alpha.from_cache, alpha.reused), (1, 1, 1));
    assert_eq!(alpha.compiled_seconds, 1.5);
}

#[test]
fn a_table_full_of_locations_counts_the_rest_together() {
    let stats = Statistics::new().unwrap();
    for i in 0..LOCATIONS + 10 {
        count(
            &stats,
            "alpha",
            &format!("<Location /{i}>"),
            "/m.wasm",
            &ok(),
            Duration::ZERO,
        );
    }
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.locations.len(), LOCATIONS);
    let total: u64 = snapshot.locations.iter().map(|l| l.figures.requests).sum();
    assert_eq!(total, (LOCATIONS + 10) as u64);
}

/// Checks `text` against the exposition format: comments, then samples of the family the
/// last `# TYPE` named, each `name{labels} value` with a number for the value.
fn assert_exposition_format(text: &str) {
    let mut family = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = Some(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let family = family
            .as_deref()
            .unwrap_or_else(|| panic!("no TYPE before {line}"));
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with(family), "{line} outside {family}");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value of {line}"));
        if let Some(labels) = series.strip_prefix(family).and_then(|s| {
            let s = s.trim_start_matches("_bucket").trim_start_matches("_sum");
            s.trim_start_matches("_count").strip_prefix('{')
        }) {
            let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
            let mut rest = labels;
            while !rest.is_empty() {
                let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(
                    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                // The value ends at the first quote not escaped.
                let mut escaped = false;
                let end = after
                    .char_indices()
                    .find(|&(_, c)| {
                        let end = c == '"' && !escaped;
                        escaped = c == '\\' && !escaped;
                        end
                    })
                    .map(|(i, _)| i)
                    .unwrap_or_else(|| panic!("{line}"));
                rest = after[end + 1..].trim_start_matches(',');
            }
        }
    }
}

#[test]
fn the_prometheus_form_is_the_exposition_format() {
    let stats = Statistics::new().unwrap();
    count(
        &stats,
        "alpha",
        "<Location \"/q\\\">\n",
        "/m.wasm",
        &ok(),
        Duration::ZERO,
    );
    stats.count_compile("alpha", Compile::Compiled, Duration::from_secs(1));
    let about = About {
        runtimes: vec![("alpha".into(), "Alpha 1.0".into())],
        ..About::default()
    };
    let text = prometheus(&stats.snapshot(), &about);
    assert_exposition_format(&text);
    assert!(text.contains(
        "mod_wasm_requests_total{runtime=\"alpha\",location=\"<Location \\\"/q\\\\\\\">\\n (x.conf:1)\",module=\"/m.wasm\"} 1"
    ), "{text}");
    assert!(
        text.contains("mod_wasm_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("le=\"+Inf\"} 1"), "{text}");
}

#[test]
fn the_json_and_html_forms_total_each_runtime() {
    let stats = Statistics::new().unwrap();
    count(
        &stats,
        "alpha",
        "<Location /a>",
        "/a.wasm",
        &ok(),
        Duration::ZERO,
    );
    count(
        &stats,
        "alpha",
        "<Location /b>",
        "/b.wasm",
        &ok(),
        Duration::ZERO,
    );
    let about = About {
        runtimes: vec![
            ("alpha".into(), "Alpha 1.0".into()),
            ("beta".into(), "Beta".into()),
        ],
        ..About::default()
    };
    let value: serde_json::Value = serde_json::from_str(&json(&stats.snapshot(), &about)).unwrap();
    let alpha = &value["runtimes"][0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["version"], "Alpha 1.0");
    assert_eq!(alpha["totals"]["requests"], 2);
    assert_eq!(alpha["locations"].as_array().unwrap().len(), 2);
    assert_eq!(value["runtimes"][1]["totals"]["requests"], 0);
    let page = html(&stats.snapshot(), &about);
    assert!(
        page.contains("<td>&lt;Location /a&gt; (x.conf:1)</td>"),
        "{page}"
    );
}
