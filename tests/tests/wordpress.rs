//! Debian's WordPress on a real MariaDB, served through Apache under every runtime with
//! sockets (but an interpreter), by the flavour of PHP that connects there, with the
//! configuration the README
//! gives an admin (`examples/wordpress/wordpress.conf`, included as it is) and the packages
//! unpacked by `examples/wordpress/unpack` as apt would install them. A person in headless
//! Chromium (`tests/browser/wordpress.mjs`) runs the install wizard, logs in, publishes a post
//! with the block editor, sees it on the front page, and leaves a comment as a visitor; the
//! database then holds both.
//!
//! And what the sandbox buys: a plugin gone bad (a must-use plugin, which WordPress runs on
//! every request) tries to read the server's files, write into WordPress's program, and
//! connect somewhere other than the database. It can do none of that; it can still write
//! uploads and use its database, and each refusal is in the error log.

use mod_wasm_tests::mariadb::MariaDb;
use mod_wasm_tests::{
    browser_test, load_module, php_socket_runtimes, php_with_sockets, runtime as runtime_info,
    shared_cache_dir, unpack_wordpress, workspace_root, Config,
};

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const DB_PASSWORD: &str = "wordpress-secret";

/// What a compromised plugin would try, on `?sandbox-probe`: each attempt's outcome, as JSON.
/// PHP's warnings about what failed go to the error log.
const PROBE: &str = r#"<?php
if (isset($_GET['sandbox-probe'])) {
    header('Content-Type: application/json');
    $elsewhere = fsockopen('127.0.0.1', (int) $_SERVER['SERVER_PORT'], $errno, $errstr, 5);
    echo json_encode([
        'read_passwd' => file_get_contents('/etc/passwd') !== false,
        'write_program' => file_put_contents(ABSPATH . 'backdoor.php', '<?php') !== false,
        'write_config' => file_put_contents('/etc/wordpress/config-default.php', '<?php') !== false,
        'write_uploads' => file_put_contents(WP_CONTENT_DIR . '/uploads/probe.txt', 'probe') !== false,
        'query_database' => $GLOBALS['wpdb']->get_var('SELECT 6 * 7'),
        'connect_elsewhere' => $elsewhere !== false,
        'connect_error' => $errstr,
    ]), "\n";
    exit;
}
"#;

#[test]
fn a_person_installs_wordpress_publishes_a_post_and_a_visitor_comments() {
    // WasmEdge's interpreter runs PHP too slowly for WordPress: its installer does not answer
    // within WasmTimeout's minute there.
    let runtimes: Vec<_> = php_socket_runtimes()
        .into_iter()
        .filter(|runtime| *runtime != "wasmedge-interpreter")
        .collect();
    if runtimes.is_empty() {
        return;
    }
    let db = MariaDb::start();
    let db_host = format!("127.0.0.1:{}", db.port);
    let config = Config::new("");
    let scratch = &config.scratch;
    let examples = workspace_root().join("examples");
    let ini = scratch.file(
        "php/php.ini",
        std::fs::read(examples.join("php/php.ini")).unwrap(),
    );
    let mut body = format!(
        "{}{}WasmCacheDir {}\n",
        load_module("alias"),
        load_module("dir"),
        shared_cache_dir().display()
    );
    for runtime in &runtimes {
        let database = format!("wordpress_{}", runtime.replace('-', "_"));
        db.create_database(&database, &database, DB_PASSWORD);
        let root = scratch.path().join(runtime);
        unpack_wordpress(&root, &db_host, &database, DB_PASSWORD);
        scratch.file(
            &format!("{runtime}/var/lib/wordpress/wp-content/mu-plugins/sandbox-probe.php"),
            PROBE,
        );
        // Where an admin keeps php-cgi.wasm and php.ini: readable by Apache's user.
        let php = scratch.file(
            &format!("wasm/{runtime}/php-cgi.wasm"),
            std::fs::read(php_with_sockets(runtime).unwrap()).expect("reading php-cgi.wasm"),
        );
        let data = scratch.php_data_dir(&format!("php-{runtime}"));
        body += &format!(
            "Define WORDPRESS_ROOT {root}/\nDefine WORDPRESS_URL /{runtime}\n\
             Define WORDPRESS_RUNTIME {runtime}\nDefine WORDPRESS_DB {db_host}\n\
             Define PHP_CGI_WASM {php}\nDefine PHP_INI_DIR {ini}\nDefine PHP_DATA {data}\n\
             Include {conf}\n",
            root = root.display(),
            php = php.display(),
            ini = ini.parent().unwrap().display(),
            data = data.display(),
            conf = examples.join("wordpress/wordpress.conf").display(),
        );
    }
    let apache = config.with_body(&body).start();

    let report = browser_test(
        "wordpress",
        &format!("http://127.0.0.1:{}/", apache.port()),
        [ADMIN_PASSWORD].into_iter().chain(runtimes.iter().copied()),
        || format!("error log:\n{}", apache.error_log()),
    );

    for runtime in &runtimes {
        for step in [
            "install WordPress",
            "log in as the administrator",
            "publish a post",
            "the post is on the front page",
            "leave a comment as a visitor",
        ] {
            assert!(
                report.contains(&format!("ok   {runtime}: {step}")),
                "{runtime}: {step}:\n{report}"
            );
        }
        // What the site wrote, in its database, as any client sees it.
        let database = format!("wordpress_{}", runtime.replace('-', "_"));
        assert_eq!(
            db.sql(&format!(
                "SELECT post_title FROM `{database}`.wp_posts \
                 WHERE post_type = 'post' AND post_status = 'publish' ORDER BY ID"
            )),
            format!("Hello world!\nPublished through mod_wasm on {runtime}\n"),
            "{runtime}"
        );
        assert_eq!(
            db.sql(&format!(
                "SELECT comment_author, comment_approved FROM `{database}`.wp_comments \
                 WHERE comment_author = 'A Visitor'"
            )),
            "A Visitor\t0\n",
            "{runtime}: the visitor's comment, held for moderation"
        );

        // The plugin gone bad.
        let probe = apache.get(&format!("/{runtime}/?sandbox-probe"));
        assert_eq!(probe.status, 200, "{runtime}: {}", probe.text());
        // The socket ABIs of Wasmer and WasmEdge refuse with EPERM, wasi:sockets with EACCES.
        let refused = match runtime_info(runtime).socket_abi {
            Some(_) => "Operation not permitted",
            None => "Permission denied",
        };
        assert_eq!(
            probe.text(),
            format!(
                "{{\"read_passwd\":false,\"write_program\":false,\"write_config\":false,\
                 \"write_uploads\":true,\"query_database\":\"42\",\"connect_elsewhere\":false,\
                 \"connect_error\":\"{refused}\"}}\n"
            ),
            "{runtime}"
        );
        // A script under wp-content, where uploads land, is not run, nor shown.
        let direct = apache.get(&format!(
            "/{runtime}/wp-content/mu-plugins/sandbox-probe.php?sandbox-probe"
        ));
        assert_eq!(direct.status, 403, "{runtime}: {}", direct.text());
        let uploads = apache.scratch().path().join(format!(
            "{runtime}/var/lib/wordpress/wp-content/uploads/probe.txt"
        ));
        assert_eq!(std::fs::read_to_string(uploads).unwrap(), "probe");
        let program = apache
            .scratch()
            .path()
            .join(format!("{runtime}/usr/share/wordpress/backdoor.php"));
        assert!(!program.exists(), "{runtime}");
        for refusal in [
            format!("refused a connection to 127.0.0.1:{}", apache.port()),
            "file_get_contents(/etc/passwd): Failed to open stream".to_owned(),
            "file_put_contents(/usr/share/wordpress/backdoor.php): Failed to open stream"
                .to_owned(),
        ] {
            let log = apache.wait_for_log(&refusal);
            assert!(
                log.lines()
                    .any(|line| line.contains(&refusal) && line.contains(*runtime)),
                "{runtime}: {refusal}:\n{log}"
            );
        }
    }
    let log = apache.error_log();
    assert!(!log.contains("PHP Fatal error"), "{log}");
    assert!(!log.contains("trapped"), "{log}");
    eprintln!("{report}");
}
