//! PHP reaches MariaDB through both of its MySQL drivers (mysqli and pdo_mysql, on mysqlnd)
//! over a connection the location grants: `examples/php/mysql/notes.php` served under every
//! runtime with sockets, by the flavour of PHP that connects there (WASIX's under Wasmer,
//! WasmEdge's socket extension under WasmEdge, the WASI 0.2 component's `wasi:sockets` under
//! wasmtime), configured as the README's "Connecting to a database" does. Without the grant
//! PHP gets an error it reports, and the refusal is in the log; a granted name is looked up,
//! another is not.

use mod_wasm_tests::mariadb::MariaDb;
use mod_wasm_tests::{
    php_socket_runtimes, php_with_sockets, runtime as runtime_info, shared_cache_dir,
    workspace_root, Apache, Config,
};

const PASSWORD: &str = "notes-secret";

/// Connects to `?host=` and `?port=` with PHP's own sockets (`fsockopen`), by name or address.
const CONNECT: &str = "<?php\n\
    $socket = @fsockopen($_GET['host'], (int) $_GET['port'], $errno, $error, 5);\n\
    echo $socket ? \"connected\\n\" : \"not connected: $error\\n\";\n";

/// An Apache serving the notes at /notes/ under `runtime`, on a new database named
/// `database` (also its user's), reached at `db_host`, with the given grants.
fn notes(runtime: &str, db: &MariaDb, database: &str, db_host: &str, grants: &[String]) -> Apache {
    db.create_database(database, database, PASSWORD);
    let grants: String = grants
        .iter()
        .map(|grant| format!("  WasmAllowConnect {grant}\n"))
        .collect();
    let config = Config::new("");
    let site = config.scratch.path().join("notes");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::copy(
        workspace_root().join("examples/php/mysql/notes.php"),
        site.join("index.php"),
    )
    .unwrap();
    std::fs::write(site.join("connect.php"), CONNECT).unwrap();
    let body = format!(
        "{alias}{dir}WasmCacheDir {cache}
Alias /notes {site}
<Directory {site}>
  AddHandler wasm-handler .php
  DirectoryIndex index.php
  WasmModule {php}
  WasmRuntime {runtime}
  WasmEnableCGI On
  WasmMapCGIFileNames On
  WasmMapDir /site {site} ro
  WasmEnv DB_HOST {db_host}
  WasmEnv DB_PORT {port}
  WasmEnv DB_USER {database}
  WasmEnv DB_PASSWORD {PASSWORD}
  WasmEnv DB_NAME {database}
{grants}</Directory>
",
        alias = mod_wasm_tests::load_module("alias"),
        dir = mod_wasm_tests::load_module("dir"),
        cache = shared_cache_dir().display(),
        site = site.display(),
        php = php_with_sockets(runtime).unwrap().display(),
        port = db.port,
    );
    config.with_body(&body).start()
}

fn add(apache: &Apache, note: &str) -> mod_wasm_tests::http::Response {
    apache
        .request("POST", "/notes/?format=json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("note={note}"))
        .send()
}

#[test]
fn php_reaches_mariadb_through_mysqli_and_pdo_over_a_granted_connection() {
    let db = MariaDb::start();
    for runtime in php_socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let database = format!("notes_{}", runtime.replace('-', "_"));
        let grant = format!("127.0.0.1:{}", db.port);
        let apache = notes(runtime, &db, &database, "127.0.0.1", &[grant]);

        let empty = apache.get("/notes/?format=json");
        assert_eq!(empty.status, 200, "{runtime}: {}", empty.text());
        assert!(
            empty
                .text()
                .starts_with(r#"{"notes":[],"server":"mysqli: "#),
            "{runtime}: {}",
            empty.text()
        );
        assert!(
            empty.text().contains("MariaDB") && empty.text().contains(", PDO: mysql "),
            "{runtime}: {}",
            empty.text()
        );
        // Written by mysqli in one request, read by PDO in that one and the next.
        let first = add(&apache, "first+note");
        assert_eq!(first.status, 200, "{runtime}: {}", first.text());
        assert!(
            first.text().starts_with(r#"{"notes":["first note"]"#),
            "{runtime}: {}",
            first.text()
        );
        add(&apache, "gr%C3%BC%C3%9Fe+%3Cb%3E");
        let page = apache.get("/notes/");
        assert_eq!(page.status, 200, "{runtime}: {}", page.text());
        assert!(
            page.text()
                .contains("<li>first note</li>\n<li>grüße &lt;b&gt;</li>"),
            "{runtime}: {}",
            page.text()
        );
        // The rows are in the database, as any client sees them.
        assert_eq!(
            db.sql(&format!("SELECT body FROM `{database}`.notes ORDER BY id")),
            "first note\ngrüße <b>\n",
            "{runtime}"
        );
    }
}

#[test]
fn without_a_grant_php_gets_an_error_it_reports_and_the_refusal_is_logged() {
    let db = MariaDb::start();
    for runtime in php_socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let database = format!("refused_{}", runtime.replace('-', "_"));
        // A grant for another port of the same address is no grant for the database's.
        let other = format!("127.0.0.1:{}", db.port.wrapping_add(1).max(1));
        let apache = notes(runtime, &db, &database, "127.0.0.1", &[other]);
        let refused = apache.get("/notes/?format=json");
        assert_eq!(refused.status, 503, "{runtime}: {}", refused.text());
        // The socket ABIs of Wasmer and WasmEdge refuse with EPERM, wasi:sockets with EACCES.
        let errno = match runtime_info(runtime).socket_abi {
            Some(_) => "Operation not permitted",
            None => "Permission denied",
        };
        assert!(
            refused.text().contains(errno),
            "{runtime}: {}",
            refused.text()
        );
        let line = format!("refused a connection to 127.0.0.1:{}", db.port);
        let log = apache.wait_for_log(&line);
        assert!(
            log.lines()
                .any(|l| l.contains(&line) && l.contains(&format!("runtime {runtime}"))),
            "{runtime}: {log}"
        );
        // PHP's own message is logged too, as the script's stderr.
        apache.wait_for_log("stderr: notes: ");
    }
}

#[test]
fn a_database_named_localhost_is_a_unix_socket_which_no_grant_opens() {
    // mysqlnd, like libmysqlclient, takes the host `localhost` to mean the server's Unix
    // socket. WASI has no Unix sockets: the page says so, and `127.0.0.1` is what works.
    let db = MariaDb::start();
    for runtime in php_socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let database = format!("local_{}", runtime.replace('-', "_"));
        let grant = format!("localhost:{}", db.port);
        let apache = notes(runtime, &db, &database, "localhost", &[grant]);
        let response = apache.get("/notes/?format=json");
        assert_eq!(response.status, 503, "{runtime}: {}", response.text());
        assert_eq!(
            response.text(),
            "{\"error\":\"Failed to create unix socket\"}\n",
            "{runtime}"
        );
        // No TCP connection was tried, so none was refused.
        assert!(
            !apache.error_log().contains("refused a connection"),
            "{runtime}: {}",
            apache.error_log()
        );
    }
}

#[test]
fn php_looks_up_a_granted_name_and_no_other() {
    let db = MariaDb::start();
    for runtime in php_socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let database = format!("names_{}", runtime.replace('-', "_"));
        let grants = [format!("localhost:{}", db.port)];
        let apache = notes(runtime, &db, &database, "127.0.0.1", &grants);
        let by_name = apache.get(&format!(
            "/notes/connect.php?host=localhost&port={}",
            db.port
        ));
        assert_eq!(by_name.text(), "connected\n", "{runtime}");

        // A name no grant names is not looked up: the lookup is refused, and logged.
        let other = apache.get(&format!(
            "/notes/connect.php?host=elsewhere.invalid&port={}",
            db.port
        ));
        assert!(
            other.text().starts_with("not connected: "),
            "{runtime}: {}",
            other.text()
        );
        apache.wait_for_log("refused to resolve 'elsewhere.invalid'");
    }
}
