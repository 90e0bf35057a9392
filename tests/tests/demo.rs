//! The demo as a person sees it: headless Chromium (Debian's, driven by playwright-core) opens
//! the demo page, follows every link, submits every form and signs every guestbook, under every
//! runtime the module has (`tests/browser/demo.mjs` says what a person must see). Screenshots of
//! every page it checks are kept in `<target>/demo-screenshots`.

use mod_wasm_tests::demo::{Database, Python, Site};
use mod_wasm_tests::mariadb::MariaDb;
use mod_wasm_tests::{
    components_dir, guests_dir, python_wasm, shared_cache_dir, target_dir, workspace_root, Build,
    Config, APACHE_MODULES,
};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn a_person_can_use_every_link_and_form_of_the_demo() {
    let db = MariaDb::start();
    let database = Database {
        port: db.port,
        name: "guestbook".into(),
        user: "guestbook".into(),
        password: "demo-password".into(),
    };
    db.create_database(&database.name, &database.user, &database.password);

    let config = Config::new("");
    // What `ls` lists: a tree like the examples' (the checkout may not be readable by the user
    // Apache's children run as).
    let listing = config.scratch.dir("listing");
    config
        .scratch
        .file("listing/hello/Cargo.toml", "[package]\n");
    config
        .scratch
        .file("listing/echo/Cargo.toml", "[package]\n");
    // The Python app, where the server's children can read it.
    let app = config.scratch.dir("python");
    for name in ["hello.py", "show.py", "readme.txt"] {
        let copy = config.scratch.file(
            &format!("python/{name}"),
            std::fs::read(workspace_root().join("examples/python").join(name)).unwrap(),
        );
        // show.py is also the host's CGI script.
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let site = Site {
        build: Build::under_test(),
        guests: &guests_dir(),
        components: &components_dir(),
        listing: &listing,
        database: Some(&database),
        python: Some(Python {
            interpreter: &python_wasm(),
            app: &app,
        }),
    };
    let (sections, page) = site.render();
    config.scratch.file("htdocs/index.html", page);
    // CPython's compiled code comes from the cache the Python tests fill.
    let cache = shared_cache_dir();
    let apache = config
        .with_body(&format!(
            "LoadModule dir_module {APACHE_MODULES}/mod_dir.so\nDirectoryIndex index.html\n\
             WasmCacheDir {}\n{sections}",
            cache.display()
        ))
        .start();

    let screenshots = target_dir().join("demo-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = Command::new("node")
        .arg(workspace_root().join("tests/browser/demo.mjs"))
        .arg(format!("http://127.0.0.1:{}/", apache.port()))
        .arg(&screenshots)
        .output()
        .expect("running node (scripts/setup installs it, Chromium and playwright-core)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{report}\nerror log:\n{}",
        apache.error_log()
    );
    // Every runtime's column was clicked through, and every guestbook signed.
    for runtime in mod_wasm_tests::runtimes() {
        assert!(
            report.contains(&format!("ok   {runtime}: hello")),
            "{runtime}:\n{report}"
        );
        let contained = format!("ok   {runtime}: sandbox");
        assert!(report.contains(&contained), "{runtime}:\n{report}");
        let greeted = format!("ok   {runtime}: greeted by the Python app's form");
        assert!(report.contains(&greeted), "{runtime}:\n{report}");
        if mod_wasm_tests::runtime(runtime).socket_abi.is_some() {
            let signed = format!("ok   {runtime}: sign the guestbook and see the entry");
            assert!(report.contains(&signed), "{runtime}:\n{report}");
        }
    }
    assert!(
        report.contains("ok   python3 under mod_cgid shows /etc/passwd"),
        "{report}"
    );
    eprintln!("{report}");
}
