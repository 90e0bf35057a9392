//! PHP for WASI (php-cgi.wasm, built by `examples/php/build` from Debian's PHP source) serves a
//! site through Apache under every runtime, configured as the README tells an admin to: the
//! scripts granted read-only, one directory read-write for sessions and uploads, a php.ini
//! found through PHPRC. Each part of PHP a site relies on is tried: the request in `$_SERVER`,
//! forms, headers, cookies, sessions across requests, uploads, includes, the extensions the
//! build has, and errors, fatal ones included. Next to it, the host's php-cgi (Debian's) under
//! mod_cgid runs the same vulnerable script, to show what the sandbox is for.
//!
//! The runtimes that run components serve it a second time with PHP's WASI 0.2 flavour
//! (`wasip2/php-cgi.wasm`, the one with MySQL; tests/php_mysql.rs tries that part), which must
//! do everything the core module does.
//!
//! The same site is served by PHP started once (`WasmPreinit On`): PHP's start-up runs when
//! the configuration is read, and every request starts from its snapshot.

use mod_wasm_tests::{
    load_module, php_cgi_wasm_for, php_component, runtime as runtime_info, runtimes,
    shared_cache_dir, workspace_root, Apache, Config,
};
use std::path::PathBuf;

/// Scripts beside the shipped example site, each trying one thing.
const SCRIPTS: [(&str, &str); 16] = [
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
        "access.php",
        // What access() says of granted paths: applications ask before they read a directory
        // (WordPress lists its theme's patterns only if the directory is readable) or write.
        "<?php header('Content-Type: application/json');\n\
         $ask = fn ($path) => [is_readable($path), is_writable($path)];\n\
         echo json_encode(['site' => $ask('/site'), 'lib' => $ask('/site/lib'), \
         'script' => $ask('/site/access.php'), 'data' => $ask('/data'), \
         'listed' => count(glob('/site/lib/*.php'))]);\n",
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

/// One copy of the example site: at `/<name>/`, in the scratch directory `<name>`, with its
/// own writable `data-<name>`, served by one flavour of php-cgi under one runtime.
struct Site {
    name: String,
    runtime: &'static str,
    php: PathBuf,
}

/// A site for each runtime with the core module, and one more with the component for each
/// runtime that runs components, unless PHP starts once: snapshots are of core modules.
fn sites(runtimes: &[&'static str], php_starts: Start) -> Vec<Site> {
    let mut sites = Vec::new();
    for &runtime in runtimes {
        sites.push(Site {
            name: runtime.to_owned(),
            runtime,
            php: php_cgi_wasm_for(runtime),
        });
        if runtime_info(runtime).components && php_starts == Start::PerRequest {
            sites.push(Site {
                name: format!("{runtime}-wasip2"),
                runtime,
                php: php_component(),
            });
        }
    }
    sites
}

/// A server with the example site for each of `sites`, as the README configures it.
fn start(sites: &[Site], php_starts: Start) -> Apache {
    let config = Config::new("");
    let scratch = &config.scratch;
    let mut body = format!(
        "{}{}WasmCacheDir {}\n",
        load_module("cgid"),
        load_module("alias"),
        shared_cache_dir().display()
    );
    let ini = scratch.file("php-ini/php.ini", example("php.ini"));
    let ini_dir = ini.parent().unwrap().to_path_buf();
    for Site { name, runtime, php } in sites {
        for file in ["hello.php", "show.php", "readme.txt"] {
            scratch.file(&format!("{name}/{file}"), example(&format!("site/{file}")));
        }
        for (file, script) in SCRIPTS {
            scratch.file(&format!("{name}/{file}"), script);
        }
        let data = scratch.php_data_dir(&format!("data-{name}"));
        let site = scratch.path().join(name);
        body += &format!(
            "Alias /{name} {site}\n\
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
    let sites = sites(&runtimes(), Start::PerRequest);
    let apache = start(&sites, Start::PerRequest);
    serve_each_at_once(&apache, &sites);

    // The same script, run by the host's php-cgi, shows any file the server can read: what
    // the sandbox prevents.
    let leaked = apache.get("/cgi-bin/show.php?file=/etc/passwd");
    assert_eq!(
        leaked.status,
        200,
        "{}\nerror log:\n{}",
        leaked.text(),
        apache.error_log()
    );
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
    let sites = sites(&runtimes, Start::Once);
    let apache = start(&sites, Start::Once);
    serve_each_at_once(&apache, &sites);
}

fn serve_each_at_once(apache: &Apache, sites: &[Site]) {
    std::thread::scope(|scope| {
        for site in sites {
            scope.spawn(move || serves_a_site(apache, site));
        }
    });
}

#[test]
fn php_started_once_reads_php_ini_again_when_the_configuration_is_read_again() {
    // One runtime: what is tried is when the init runs, which does not depend on it.
    let runtime = runtimes()[0];
    let apache = start(&sites(&[runtime], Start::Once), Start::Once);
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

fn serves_a_site(apache: &Apache, site: &Site) {
    let Site { name, runtime, .. } = site;
    let at = |path: &str| format!("/{name}/{path}");

    let json = apache.get(&at("hello.php?format=json&name=Ada"));
    assert_eq!(json.status, 200, "{name}: {}", json.text());
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    for expected in [
        r#""greeting": "Hello, Ada!""#,
        r#""php": "8.2."#,
        r#""sapi": "cgi-fcgi""#,
        &format!(r#""runtime": "{runtime}""#),
        r#""name_sha256": "99a563ab2f6e21e96998f9fddd2a2bab82b70ac019579502b8d7fc0032ff62bb""#,
    ] {
        assert!(json.text().contains(expected), "{name}: {}", json.text());
    }
    let posted = apache
        .request("POST", &at("hello.php"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=Grace+Hopper")
        .send();
    assert_eq!(posted.status, 200, "{name}: {}", posted.text());
    assert!(
        posted
            .text()
            .contains("<h1 id=\"greeting\">Hello, Grace Hopper!</h1>"),
        "{name}: {}",
        posted.text()
    );

    // A query string that looks like php-cgi's options is a query string: no source shown.
    let dashed = apache.get(&at("hello.php?-s"));
    assert_eq!(dashed.status, 200, "{name}: {}", dashed.text());
    assert!(
        dashed
            .text()
            .contains("<h1 id=\"greeting\">Hello, world!</h1>"),
        "{name}: {}",
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
    assert_eq!(server.status, 200, "{name}: {}", server.text());
    let text = server.text();
    for expected in [
        format!(r#""SCRIPT_NAME":"\/{name}\/server.php""#),
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
        assert!(text.contains(&expected), "{name}: {expected} in {text}");
    }

    let headers = apache.get(&at("headers.php"));
    assert_eq!(headers.status, 201, "{name}: {}", headers.text());
    assert_eq!(headers.header("X-Answer"), Some("42"), "{name}");
    assert_eq!(
        headers.headers_named("Set-Cookie"),
        ["flavour=oatmeal%20raisin; path=/; HttpOnly", "size=large"],
        "{name}"
    );
    assert_eq!(headers.text(), "created\n", "{name}");
    let redirect = apache.get(&at("redirect.php"));
    assert_eq!(redirect.status, 302, "{name}");
    assert_eq!(redirect.header("Location"), Some("/elsewhere"), "{name}");

    // A session lives in the read-write directory, from one request to the next.
    let first = apache.get(&at("session.php"));
    assert_eq!(first.status, 200, "{name}: {}", first.text());
    let cookie = first
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("PHPSESSID="))
        .unwrap_or_else(|| panic!("{name}: no session cookie"))
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        first.text().starts_with("visits=1 "),
        "{name}: {}",
        first.text()
    );
    let second = apache
        .request("GET", &at("session.php"))
        .header("Cookie", &cookie)
        .send();
    let id = cookie.trim_start_matches("PHPSESSID=");
    assert_eq!(second.text(), format!("visits=2 id={id}\n"), "{name}");
    let stored = apache
        .scratch()
        .path()
        .join(format!("data-{name}/sessions/sess_{id}"));
    assert_eq!(
        std::fs::read_to_string(&stored).unwrap(),
        "visits|i:2;",
        "{name}"
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
    assert_eq!(upload.status, 200, "{name}: {}", upload.text());
    let moved = apache
        .scratch()
        .path()
        .join(format!("data-{name}/uploads/notes.txt"));
    assert_eq!(std::fs::read_to_string(&moved).unwrap(), content, "{name}");
    assert!(
        upload.text().starts_with("notes.txt 15000 ") && upload.text().ends_with(" gone\n"),
        "{name}: {}",
        upload.text()
    );

    let include = apache.get(&at("include.php"));
    assert_eq!(include.text(), "hello, includes 2\n", "{name}");

    // What access() tells PHP: every granted directory is readable, and writable where the
    // grant is read-write. wasmtime's WASI reports the same rights for every directory, so
    // there a read-only grant is said to be writable too (writing there fails all the same).
    let read_only_writable = *runtime == "wasmtime";
    assert_eq!(
        apache.get(&at("access.php")).text(),
        format!(
            r#"{{"site":[true,{0}],"lib":[true,{0}],"script":[true,{0}],"data":[true,true],"listed":1}}"#,
            read_only_writable
        ),
        "{name}"
    );

    let extensions = apache.get(&at("extensions.php"));
    assert_eq!(extensions.status, 200, "{name}: {}", extensions.text());
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
            "{name}: {expected} in {}",
            extensions.text()
        );
    }

    let info = apache.get(&at("info.php"));
    assert_eq!(info.status, 200, "{name}");
    for expected in [
        "PHP Version 8.2.",
        "Server API </td><td class=\"v\">CGI/FastCGI",
        "pdo_sqlite",
        "libxml2 Version",
    ] {
        assert!(
            info.text().contains(expected),
            "{name}: no {expected} in phpinfo()"
        );
    }

    // Errors: a caught exception is the script's business; an uncaught one, a call to an
    // undefined function, a parse error and memory_limit are PHP fatal errors: PHP's own 500
    // (with what the script wrote before, as PHP sends it) and PHP's message in the error
    // log, never a trap.
    assert_eq!(
        apache.get(&at("exception.php")).text(),
        "caught\n",
        "{name}"
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
        assert_eq!(failed.status, 500, "{name} {path}: {}", failed.text());
        assert_eq!(failed.text(), written, "{name} {path}");
        let log = apache.wait_for_log(&format!("{stderr}{message}"));
        assert!(
            !log.contains("unreachable") && !log.contains("trapped"),
            "{name} {path}: {log}"
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
    assert!(warnings.is_empty(), "{name}: {warnings:#?}");

    // A file of the site, through the granted directory; nothing outside it exists.
    let readme = apache.get(&at("show.php"));
    assert_eq!(readme.text(), example("site/readme.txt"), "{name}");
    let passwd = apache.get(&at("show.php?file=/etc/passwd"));
    assert_eq!(passwd.status, 200, "{name}");
    assert!(
        passwd.text().starts_with("cannot read /etc/passwd") && !passwd.text().contains("root:"),
        "{name}: {}",
        passwd.text()
    );
}
