//! PHP for WASI (php-cgi.wasm, built by `examples/php/build` from Debian's PHP source) serves a
//! site through Apache under every runtime, configured as the README tells an admin to: the
//! scripts granted read-only, one directory read-write for sessions and uploads, a php.ini
//! found through PHPRC. Each part of PHP a site relies on is tried: the request in `$_SERVER`,
//! forms, headers, cookies, sessions across requests, uploads, includes, the extensions the
//! build has, and errors, fatal ones included. Next to it, the host's php-cgi (Debian's) under
//! mod_cgid runs the same vulnerable script, to show what the sandbox is for.
//!
//! The same site is served by PHP started once (`WasmPreinit On`): PHP's start-up runs when
//! the configuration is read, and every request starts from its snapshot.

use mod_wasm_tests::{
    for_each_runtime_at_once, load_module, php_cgi_wasm, runtimes, shared_cache_dir,
    workspace_root, Apache, Config,
};

/// Scripts beside the shipped example site, each trying one thing.
const SCRIPTS: [(&str, &str); 15] = [
    (
        "server.php",
        "<?php header('Content-Type: application/json');\n\
         echo json_encode(['SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'], \
         'PATH_INFO' => $_SERVER['PATH_INFO'] ?? null, 'HTTPS' => $_SERVER['HTTPS'] ?? null, \
         'REMOTE_ADDR' => $_SERVER['REMOTE_ADDR'], 'REQUEST_METHOD' => $_SERVER['REQUEST_METHOD'], \
         'QUERY_STRING' => $_SERVER['QUERY_STRING'], 'HTTP_X_TEST' => $_SERVER['HTTP_X_TEST'] ?? null, \
         'SCRIPT_FILENAME' => $_SERVER['SCRIPT_FILENAME'], 'get' => $_GET, 'post' => $_POST, \
         'cookie' => $_COOKIE, 'input' => file_get_contents('php://input')]);\n",
    ),
    (
        "headers.php",
        "<?php http_response_code(201);\nheader('X-Answer: 42');\n\
         setcookie('flavour', 'oatmeal raisin', ['path' => '/', 'httponly' => true]);\n\
         setcookie('size', 'large');\necho \"created\\n\";\n",
    ),
    (
        "redirect.php",
        "<?php header('Location: /elsewhere', true, 302);\n",
    ),
    (
        "session.php",
        "<?php session_start();\n$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;\n\
         echo 'visits=', $_SESSION['visits'], ' id=', session_id(), \"\\n\";\n",
    ),
    (
        "upload.php",
        "<?php $file = $_FILES['upload'] ?? null;\n\
         if (!$file || $file['error'] !== UPLOAD_ERR_OK) { http_response_code(400); \
         echo 'no upload: ', json_encode($_FILES), \"\\n\"; return; }\n\
         @mkdir('/data/uploads');\n$target = '/data/uploads/' . basename($file['name']);\n\
         if (!move_uploaded_file($file['tmp_name'], $target)) { http_response_code(500); \
         echo \"not moved\\n\"; return; }\n\
         echo $file['name'], ' ', $file['size'], ' ', hash_file('sha256', $target), ' ', \
         file_exists($file['tmp_name']) ? 'left' : 'gone', \"\\n\";\n",
    ),
    (
        "include.php",
        "<?php require __DIR__ . '/lib/greet.php';\ninclude 'lib/greet.php';\n\
         echo greet('includes'), ' ', count(get_included_files()), \"\\n\";\n",
    ),
    (
        "lib/greet.php",
        "<?php if (!function_exists('greet')) { function greet($who) { return \"hello, $who\"; } }\n",
    ),
    (
        "extensions.php",
        // What applications use, one answer each; SQLite and XML through their real libraries.
        "<?php header('Content-Type: application/json');\n\
         $db = new PDO('sqlite:/data/test.sqlite');\n\
         $db->exec('CREATE TABLE IF NOT EXISTS t (v TEXT)');\n\
         $db->prepare('INSERT INTO t VALUES (?)')->execute(['row']);\n\
         $rows = (int) $db->query('SELECT count(*) FROM t')->fetchColumn();\n\
         $xml = simplexml_load_string('<a><b n=\"1\">x</b><b n=\"2\">y</b></a>');\n\
         $dom = new DOMDocument(); $dom->loadXML('<p><q>dom</q></p>');\n\
         $fiber = 'ran';\n\
         try { (new Fiber(fn () => 1))->start(); } catch (Error $e) { $fiber = $e->getMessage(); }\n\
         echo json_encode(['sqlite' => $rows, 'sqlite_version' => SQLite3::version()['versionString'], \
         'simplexml' => (string) $xml->b[1]['n'], 'dom' => $dom->getElementsByTagName('q')->item(0)->textContent, \
         'mbstring' => mb_strtoupper('grüße'), 'ctype' => ctype_digit('123'), \
         'zlib' => gzuncompress(gzcompress('squeezed')), 'iconv' => iconv('UTF-8', 'ISO-8859-1', 'é') === \"\\xe9\", \
         'filter' => filter_var('a@example.org', FILTER_VALIDATE_EMAIL), \
         'fileinfo' => (new finfo(FILEINFO_MIME_TYPE))->buffer(\"GIF89a\\x01\\x00\\x01\\x00\\x00\\x00\\x00\"), \
         'fiber' => $fiber]);\n",
    ),
    (
        "exception.php",
        "<?php try { throw new RuntimeException('caught'); } catch (RuntimeException $e) { echo $e->getMessage(), \"\\n\"; }\n",
    ),
    (
        "uncaught.php",
        "<?php echo \"partial output\\n\";\nthrow new LogicException('nobody catches this');\n",
    ),
    ("parse-error.php", "<?php echo \"partial output\\n\";\nundefined_function_("),
    (
        "fatal-call.php",
        "<?php register_shutdown_function(fn () => error_log('shutdown function ran'));\n\
         echo \"partial output\\n\";\nundefined_function_called();\necho \"after\\n\";\n",
    ),
    (
        "memory.php",
        "<?php ini_set('memory_limit', '16M');\n$hog = [];\n\
         while (true) { $hog[] = str_repeat('x', 1 << 20); }\n",
    ),
    ("info.php", "<?php phpinfo();\n"),
    ("ini.php", "<?php echo ini_get('precision'), \"\\n\";\n"),
];

fn example(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("examples/php").join(name)).unwrap()
}

/// How php-cgi starts.
#[derive(Clone, Copy, PartialEq)]
enum Start {
    /// For each request, as php-cgi does.
    PerRequest,
    /// Once, when the configuration is read (`WasmPreinit On`).
    Once,
}

/// A server with the example site under `/<runtime>/` for each runtime, as the README
/// configures it.
fn start(runtimes: &[&str], php_starts: Start) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let php = php_cgi_wasm();
    let mut body = format!(
        "{}{}WasmCacheDir {}\n",
        load_module("cgid"),
        load_module("alias"),
        shared_cache_dir().display()
    );
    let ini = scratch.file("php-ini/php.ini", example("php.ini"));
    let ini_dir = ini.parent().unwrap().to_path_buf();
    for runtime in runtimes {
        for name in ["hello.php", "show.php", "readme.txt"] {
            scratch.file(
                &format!("{runtime}/{name}"),
                example(&format!("site/{name}")),
            );
        }
        for (name, script) in SCRIPTS {
            scratch.file(&format!("{runtime}/{name}"), script);
        }
        let data = scratch.php_data_dir(&format!("data-{runtime}"));
        let site = scratch.path().join(runtime);
        body += &format!(
            "Alias /{runtime} {site}\n\
             <Directory {site}>\n  AddHandler wasm-handler .php\n  WasmModule {php}\n  \
             WasmRuntime {runtime}\n  WasmEnableCGI On\n  WasmMapDir /site {site} ro\n  \
             WasmMapDir /data {data} rw\n  WasmMapDir /etc/php {ini} ro\n  WasmEnv PHPRC /etc/php\n  \
             WasmMapCGIFileNames On\n  WasmEnv MOD_WASM_RUNTIME {runtime}\n{preinit}</Directory>\n",
            preinit = if php_starts == Start::Once {
                "  WasmPreinit On\n"
            } else {
                ""
            },
            site = site.display(),
            php = php.display(),
            data = data.display(),
            ini = ini_dir.display(),
        );
    }
    // The host's php-cgi (Debian's php-cgi package) runs the same script as a CGI program.
    // Run directly rather than through an Apache Action, it is told that this is intended.
    body += &scratch.host_cgi_script(
        "show.php",
        &format!(
            "#!/usr/bin/php-cgi -dcgi.force_redirect=0\n{}",
            example("site/show.php")
        ),
        &[("readme.txt", example("site/readme.txt"))],
    );
    config.with_body(&body).start()
}

#[test]
fn php_serves_a_site_under_every_runtime() {
    let runtimes = runtimes();
    let apache = start(&runtimes, Start::PerRequest);
    for_each_runtime_at_once(&runtimes, |runtime| serves_a_site(&apache, runtime));

    // The same script, run by the host's php-cgi, shows any file the server can read: what
    // the sandbox prevents.
    let leaked = apache.get("/cgi-bin/show.php?file=/etc/passwd");
    assert_eq!(leaked.status, 200, "{}", leaked.text());
    assert!(leaked.text().contains("root:"), "{}", leaked.text());
}

#[test]
fn php_started_once_serves_the_same_site() {
    // Each run makes new snapshots (their directories are new), which each runtime compiles.
    // WasmEdge's ahead-of-time compiler takes more than 6 minutes for one: it is left out
    // here. What it would try is tried elsewhere: WasmEdge's WASI under wasmedge-interpreter
    // below, the snapshot's code (php-cgi's own) by the test above, and snapshots under it
    // by tests/preinit.rs.
    let runtimes: Vec<_> = runtimes()
        .into_iter()
        .filter(|runtime| *runtime != "wasmedge")
        .collect();
    let apache = start(&runtimes, Start::Once);
    for_each_runtime_at_once(&runtimes, |runtime| serves_a_site(&apache, runtime));
}

#[test]
fn php_started_once_reads_php_ini_again_when_the_configuration_is_read_again() {
    // One runtime: what is tried is when the init runs, which does not depend on it.
    let runtime = runtimes()[0];
    let apache = start(&[runtime], Start::Once);
    let precision = || apache.get(&format!("/{runtime}/ini.php")).text();
    assert_eq!(precision(), "14\n", "{runtime}");

    // php.ini was read once, by the init: a change is not seen by the requests that follow,
    // but by those after the configuration is read again, which makes a new snapshot.
    let ini = apache.scratch().path().join("php-ini/php.ini");
    let settings = std::fs::read_to_string(&ini).unwrap() + "precision = 5\n";
    std::fs::write(&ini, settings).unwrap();
    assert_eq!(precision(), "14\n", "{runtime}: php.ini was read again");
    apache.signal("graceful");
    assert_eq!(
        precision(),
        "5\n",
        "{runtime}: the new php.ini was not read"
    );
}

fn serves_a_site(apache: &Apache, runtime: &str) {
    let at = |path: &str| format!("/{runtime}/{path}");

    let json = apache.get(&at("hello.php?format=json&name=Ada"));
    assert_eq!(json.status, 200, "{runtime}: {}", json.text());
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    for expected in [
        r#""greeting": "Hello, Ada!""#,
        r#""php": "8.2."#,
        r#""sapi": "cgi-fcgi""#,
        &format!(r#""runtime": "{runtime}""#),
        r#""name_sha256": "99a563ab2f6e21e96998f9fddd2a2bab82b70ac019579502b8d7fc0032ff62bb""#,
    ] {
        assert!(json.text().contains(expected), "{runtime}: {}", json.text());
    }
    let posted = apache
        .request("POST", &at("hello.php"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=Grace+Hopper")
        .send();
    assert_eq!(posted.status, 200, "{runtime}: {}", posted.text());
    assert!(
        posted
            .text()
            .contains("<h1 id=\"greeting\">Hello, Grace Hopper!</h1>"),
        "{runtime}: {}",
        posted.text()
    );

    // A query string that looks like php-cgi's options is a query string: no source shown.
    let dashed = apache.get(&at("hello.php?-s"));
    assert_eq!(dashed.status, 200, "{runtime}: {}", dashed.text());
    assert!(
        dashed
            .text()
            .contains("<h1 id=\"greeting\">Hello, world!</h1>"),
        "{runtime}: {}",
        dashed.text()
    );

    // The request as PHP sees it.
    let server = apache
        .request("POST", &at("server.php/extra/path?a=1&b[]=2"))
        .header("X-Test", "yes")
        .header("Cookie", "c=3")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("field=value")
        .send();
    assert_eq!(server.status, 200, "{runtime}: {}", server.text());
    let text = server.text();
    for expected in [
        format!(r#""SCRIPT_NAME":"\/{runtime}\/server.php""#),
        r#""PATH_INFO":"\/extra\/path""#.into(),
        r#""HTTPS":null"#.into(),
        r#""REMOTE_ADDR":"127.0.0.1""#.into(),
        r#""REQUEST_METHOD":"POST""#.into(),
        r#""QUERY_STRING":"a=1&b[]=2""#.into(),
        r#""HTTP_X_TEST":"yes""#.into(),
        r#""SCRIPT_FILENAME":"\/site\/server.php""#.into(),
        r#""get":{"a":"1","b":["2"]}"#.into(),
        r#""post":{"field":"value"}"#.into(),
        r#""cookie":{"c":"3"}"#.into(),
        r#""input":"field=value""#.into(),
    ] {
        assert!(text.contains(&expected), "{runtime}: {expected} in {text}");
    }

    let headers = apache.get(&at("headers.php"));
    assert_eq!(headers.status, 201, "{runtime}: {}", headers.text());
    assert_eq!(headers.header("X-Answer"), Some("42"), "{runtime}");
    assert_eq!(
        headers.headers_named("Set-Cookie"),
        ["flavour=oatmeal%20raisin; path=/; HttpOnly", "size=large"],
        "{runtime}"
    );
    assert_eq!(headers.text(), "created\n", "{runtime}");
    let redirect = apache.get(&at("redirect.php"));
    assert_eq!(redirect.status, 302, "{runtime}");
    assert_eq!(redirect.header("Location"), Some("/elsewhere"), "{runtime}");

    // A session lives in the read-write directory, from one request to the next.
    let first = apache.get(&at("session.php"));
    assert_eq!(first.status, 200, "{runtime}: {}", first.text());
    let cookie = first
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("PHPSESSID="))
        .unwrap_or_else(|| panic!("{runtime}: no session cookie"))
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        first.text().starts_with("visits=1 "),
        "{runtime}: {}",
        first.text()
    );
    let second = apache
        .request("GET", &at("session.php"))
        .header("Cookie", &cookie)
        .send();
    let id = cookie.trim_start_matches("PHPSESSID=");
    assert_eq!(second.text(), format!("visits=2 id={id}\n"), "{runtime}");
    let stored = apache
        .scratch()
        .path()
        .join(format!("data-{runtime}/sessions/sess_{id}"));
    assert_eq!(
        std::fs::read_to_string(&stored).unwrap(),
        "visits|i:2;",
        "{runtime}"
    );

    // An upload, moved into the read-write directory; its temporary file is gone after.
    let content = "uploaded bytes\n".repeat(1000);
    let boundary = "mod-wasm-boundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let upload = apache
        .request("POST", &at("upload.php"))
        .header(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send();
    assert_eq!(upload.status, 200, "{runtime}: {}", upload.text());
    let moved = apache
        .scratch()
        .path()
        .join(format!("data-{runtime}/uploads/notes.txt"));
    assert_eq!(
        std::fs::read_to_string(&moved).unwrap(),
        content,
        "{runtime}"
    );
    assert!(
        upload.text().starts_with("notes.txt 15000 ") && upload.text().ends_with(" gone\n"),
        "{runtime}: {}",
        upload.text()
    );

    let include = apache.get(&at("include.php"));
    assert_eq!(include.text(), "hello, includes 2\n", "{runtime}");

    let extensions = apache.get(&at("extensions.php"));
    assert_eq!(extensions.status, 200, "{runtime}: {}", extensions.text());
    for expected in [
        r#""sqlite":1"#,
        r#""sqlite_version":"3."#,
        r#""simplexml":"2""#,
        r#""dom":"dom""#,
        r#""mbstring":"GR\u00dcSSE""#,
        r#""ctype":true"#,
        r#""zlib":"squeezed""#,
        r#""iconv":true"#,
        r#""filter":"a@example.org""#,
        r#""fileinfo":"image\/gif""#,
        r#""fiber":"Fibers are not available: WebAssembly cannot switch stacks""#,
    ] {
        assert!(
            extensions.text().contains(expected),
            "{runtime}: {expected} in {}",
            extensions.text()
        );
    }

    let info = apache.get(&at("info.php"));
    assert_eq!(info.status, 200, "{runtime}");
    for expected in [
        "PHP Version 8.2.",
        "Server API </td><td class=\"v\">CGI/FastCGI",
        "pdo_sqlite",
        "libxml2 Version",
    ] {
        assert!(
            info.text().contains(expected),
            "{runtime}: no {expected} in phpinfo()"
        );
    }

    // Errors: a caught exception is the script's business; an uncaught one, a call to an
    // undefined function, a parse error and memory_limit are PHP fatal errors: PHP's own 500
    // (with what the script wrote before, as PHP sends it) and PHP's message in the error
    // log, never a trap.
    assert_eq!(
        apache.get(&at("exception.php")).text(),
        "caught\n",
        "{runtime}"
    );
    let stderr = format!("with runtime {runtime}: stderr: ");
    for (path, written, message) in [
        (
            "uncaught.php",
            "partial output\n",
            "PHP Fatal error:  Uncaught LogicException: nobody catches this",
        ),
        (
            "fatal-call.php",
            "partial output\n",
            "PHP Fatal error:  Uncaught Error: Call to undefined function undefined_function_called()",
        ),
        ("parse-error.php", "", "PHP Parse error:  syntax error, unexpected end of file"),
        ("memory.php", "", "PHP Fatal error:  Allowed memory size of 16777216 bytes exhausted"),
    ] {
        let failed = apache.get(&at(path));
        assert_eq!(failed.status, 500, "{runtime} {path}: {}", failed.text());
        assert_eq!(failed.text(), written, "{runtime} {path}");
        let log = apache.wait_for_log(&format!("{stderr}{message}"));
        assert!(
            !log.contains("unreachable") && !log.contains("trapped"),
            "{runtime} {path}: {log}"
        );
    }
    // The request ended as PHP ends it after a fatal error: shutdown functions ran.
    apache.wait_for_log(&format!("{stderr}shutdown function ran"));

    // Nothing a site does above had PHP warn that the sandbox lacks something.
    let warnings: Vec<_> = apache
        .error_log()
        .lines()
        .filter(|line| line.contains(&stderr) && line.contains("PHP Warning"))
        .map(str::to_owned)
        .collect();
    assert!(warnings.is_empty(), "{runtime}: {warnings:#?}");

    // A file of the site, through the granted directory; nothing outside it exists.
    let readme = apache.get(&at("show.php"));
    assert_eq!(readme.text(), example("site/readme.txt"), "{runtime}");
    let passwd = apache.get(&at("show.php?file=/etc/passwd"));
    assert_eq!(passwd.status, 200, "{runtime}");
    assert!(
        passwd.text().starts_with("cannot read /etc/passwd") && !passwd.text().contains("root:"),
        "{runtime}: {}",
        passwd.text()
    );
}
