//! The benchmark's quick mode, as CI runs it: it must measure every runtime built in and write
//! the report and the chart. Nothing here asserts a speed.

use std::process::Command;

#[test]
fn the_quick_mode_writes_a_report_and_a_chart_covering_every_runtime() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .arg("--quick")
        .arg("--out")
        .arg(out.path())
        .status()
        .expect("running the benchmark");
    assert!(status.success(), "the benchmark failed: {status}");

    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let chart = std::fs::read_to_string(out.path().join("report.svg")).unwrap();
    assert!(report.contains("**Quick mode**"), "{report}");
    for section in [
        "## Machine",
        "## Targets",
        "## Through Apache",
        "## In process",
        "### large response",
    ] {
        assert!(report.contains(section), "no {section} in:\n{report}");
    }
    for baseline in [
        "| static file | 16 |",
        "| mod_cgid, native hello | 16 |",
        "| native |",
    ] {
        assert!(
            report.contains(baseline),
            "no {baseline:?} row in:\n{report}"
        );
    }
    let runtimes = builtin_runtimes::registry().names();
    for runtime in &runtimes {
        for row in [
            format!("| mod_wasm, {runtime} | 1 |"),
            format!("| mod_wasm, {runtime} | 16 |"),
            format!("| {runtime} |"),
        ] {
            assert!(report.contains(&row), "no {row:?} row in:\n{report}");
        }
        assert!(
            chart.contains(&format!("mod_wasm, {runtime}")),
            "{runtime} is not in the chart:\n{chart}"
        );
    }
    // Every target has a verdict; a compiled runtime's kernel is always measured.
    let targets = report
        .split("## Targets")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let verdicts = targets
        .lines()
        .filter(|line| line.ends_with("| met |") || line.ends_with("| **missed** |"))
        .count();
    assert!(verdicts >= 2, "targets without verdicts:\n{targets}");
    assert!(chart.starts_with("<svg"), "not an SVG:\n{chart}");
}

#[test]
fn the_quick_soak_samples_every_runtime() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .args(["--soak", "--quick", "--out"])
        .arg(out.path())
        .status()
        .expect("running the soak");
    assert!(status.success(), "the soak failed: {status}");
    let soak = std::fs::read_to_string(out.path().join("soak.md")).unwrap();
    for runtime in builtin_runtimes::registry().names() {
        // The first sample, at the end of the warm-up, and a growth figure.
        assert!(soak.contains(&format!("| {runtime} | 0 | ")), "{soak}");
        assert!(
            soak.lines()
                .any(|line| line.starts_with(&format!("| {runtime} | ")) && line.ends_with(" % |")),
            "{soak}"
        );
    }
}

#[test]
fn the_quick_python_benchmark_measures_every_runtime_and_python3() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .args(["--python", "--quick", "--out"])
        .arg(out.path())
        .status()
        .expect("running the Python benchmark");
    assert!(status.success(), "the Python benchmark failed: {status}");
    let report = std::fs::read_to_string(out.path().join("python.md")).unwrap();
    assert!(report.contains("**Quick mode**"), "{report}");
    assert!(report.contains("| mod_cgid, python3 | 1 | "), "{report}");
    for runtime in builtin_runtimes::registry().names() {
        let label = format!("mod_wasm, {runtime}");
        assert!(report.contains(&format!("| {label} | 1 | ")), "{report}");
        assert!(
            report.contains(&format!("| first request after start < 1 s | {label} | ")),
            "{report}"
        );
    }
}

#[test]
fn the_quick_flask_benchmark_measures_each_bytecode_under_every_runtime_and_python3() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .args(["--flask", "--quick", "--out"])
        .arg(out.path())
        .status()
        .expect("running the Flask benchmark");
    assert!(status.success(), "the Flask benchmark failed: {status}");
    let report = std::fs::read_to_string(out.path().join("flask.md")).unwrap();
    assert!(report.contains("**Quick mode**"), "{report}");
    assert!(
        report.contains("| mod_cgid, python3 | compiled by pip at install | "),
        "{report}"
    );
    for runtime in builtin_runtimes::registry().names() {
        if runtime == "wasmedge-interpreter" {
            continue;
        }
        for bytecode in [
            "compiled on every request",
            "`PYTHONPYCACHEPREFIX`, read-write grant",
            "`PYTHONPYCACHEPREFIX`, read-only grant",
        ] {
            let row = format!("| mod_wasm, {runtime} | {bytecode} | ");
            assert!(report.contains(&row), "no {row:?} in:\n{report}");
        }
        let snapshot = format!("| mod_wasm, {runtime} | imported at build: a component");
        assert_eq!(
            report.contains(&snapshot),
            mod_wasm_tests::runtime(runtime).components,
            "{snapshot:?} in:\n{report}"
        );
    }
}

#[test]
fn the_quick_php_benchmark_measures_hello_and_dokuwiki_under_every_runtime_and_php_cgi() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .args(["--php", "--quick", "--out"])
        .arg(out.path())
        .status()
        .expect("running the PHP benchmark");
    assert!(status.success(), "the PHP benchmark failed: {status}");
    let report = std::fs::read_to_string(out.path().join("php.md")).unwrap();
    assert!(report.contains("**Quick mode**"), "{report}");
    assert!(
        report.contains("| mod_cgid, php-cgi | hello.php | 1 | "),
        "{report}"
    );
    let runtimes = builtin_runtimes::registry().names();
    for runtime in &runtimes {
        for page in ["hello.php", "DokuWiki, wiki:dokuwiki"] {
            let row = format!("| mod_wasm, {runtime} | {page} | 1 | ");
            assert!(report.contains(&row), "no {row:?} in:\n{report}");
        }
    }
    // Quick mode starts PHP once for hello.php under the first runtime only.
    let row = format!(
        "| mod_wasm, {}, started once | hello.php | 1 | ",
        runtimes[0]
    );
    assert!(report.contains(&row), "no {row:?} in:\n{report}");
    if runtimes.contains(&"wasmtime") {
        assert!(report.contains("| php-cgi's snapshot | "), "{report}");
    }
}

#[test]
fn the_quick_wordpress_benchmark_measures_the_front_page_under_every_runtime_with_sockets_and_php_cgi(
) {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mod_wasm-bench"))
        .args(["--wordpress", "--quick", "--out"])
        .arg(out.path())
        .status()
        .expect("running the WordPress benchmark");
    assert!(status.success(), "the WordPress benchmark failed: {status}");
    let report = std::fs::read_to_string(out.path().join("wordpress.md")).unwrap();
    assert!(report.contains("**Quick mode**"), "{report}");
    let page = "WordPress, front page";
    assert!(
        report.contains(&format!("| mod_cgid, php-cgi | {page} | 1 | ")),
        "{report}"
    );
    for runtime in mod_wasm_tests::php_socket_runtimes() {
        let row = format!("| mod_wasm, {runtime} | {page} | 1 | ");
        assert!(report.contains(&row), "no {row:?} in:\n{report}");
    }
}
