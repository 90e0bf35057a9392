//! The CGI layer through Apache: meta-variables in, Status/Location/headers out, bad output.

use mod_wasm_tests::{for_each_runtime, guest, load_module, Apache, Config};

fn cgi_location(path: &str, runtime: &str, module: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n{extra}\n</Location>\n",
        guest(module).display()
    )
}

fn variables(apache: &Apache, request: mod_wasm_tests::Request) -> Vec<(String, String)> {
    let response = request.send();
    assert_eq!(response.status, 200, "{}", apache.error_log());
    response
        .text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn get<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn requests_become_cgi_meta_variables() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "{}SetEnv FROM_SETENV yes\n{}",
            load_module("env"),
            cgi_location("/env", runtime, "cgi-env", "  WasmEnv FROM_WASMENV yes")
        ))
        .start();
        let port = apache.port().to_string();
        let request = apache
            .request("POST", "/env/extra/path?a=1&b=%20")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Custom-Header", "custom value")
            .header("X_Spoofed", "dropped")
            .header("Proxy", "http://attacker.invalid")
            .body("name=value");
        let vars = variables(&apache, request);
        for (name, value) in [
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("REQUEST_METHOD", "POST"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_ADDR", "127.0.0.1"),
            ("SERVER_PORT", port.as_str()),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("REQUEST_SCHEME", "http"),
            ("SCRIPT_NAME", "/env"),
            ("PATH_INFO", "/extra/path"),
            ("QUERY_STRING", "a=1&b=%20"),
            ("REQUEST_URI", "/env/extra/path?a=1&b=%20"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("CONTENT_LENGTH", "10"),
            ("HTTP_X_CUSTOM_HEADER", "custom value"),
            ("FROM_SETENV", "yes"),
            ("FROM_WASMENV", "yes"),
            ("REDIRECT_STATUS", "200"),
            ("argv[0]", "cgi-env.wasm"),
        ] {
            assert_eq!(
                get(&vars, name),
                Some(value),
                "{runtime}: {name} in {vars:?}"
            );
        }
        let document_root = apache.config().htdocs().display().to_string();
        assert_eq!(
            get(&vars, "DOCUMENT_ROOT"),
            Some(document_root.as_str()),
            "{runtime}"
        );
        assert_eq!(
            get(&vars, "PATH_TRANSLATED"),
            Some(format!("{document_root}/extra/path").as_str()),
            "{runtime}"
        );
        assert!(
            get(&vars, "REMOTE_PORT").is_some_and(|p| p.parse::<u16>().is_ok()),
            "{runtime}"
        );
        assert!(
            get(&vars, "SERVER_SOFTWARE").is_some_and(|s| s.starts_with("Apache")),
            "{runtime}"
        );
        for absent in ["HTTP_X_SPOOFED", "HTTP_PROXY", "HTTP_CONTENT_TYPE", "PATH"] {
            assert_eq!(
                get(&vars, absent),
                None,
                "{runtime}: {absent} must not be set"
            );
        }
        assert!(
            apache
                .request("POST", "/env")
                .body("12345")
                .send()
                .text()
                .contains("stdin: 5 bytes"),
            "{runtime}: request body is stdin"
        );
    });
}

/// SCRIPT_NAME and PATH_INFO the guest saw for `path`.
fn script_name_and_path_info(apache: &Apache, path: &str) -> (String, String) {
    let vars = variables(apache, apache.request("GET", path));
    let var = |name| get(&vars, name).unwrap_or_default().to_owned();
    (var("SCRIPT_NAME"), var("PATH_INFO"))
}

fn pair(script_name: &str, path_info: &str) -> (String, String) {
    (script_name.to_owned(), path_info.to_owned())
}

#[test]
fn an_app_that_answers_its_location_is_mounted_there() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let htdocs = config.htdocs();
        config.scratch.dir("htdocs/files");
        let cgi_env = guest("cgi-env");
        let body = format!(
            // The handler and runtime for a whole tree, an app in one branch of it (the
            // server's own split would give SCRIPT_NAME=/rt, the first segment not on disk).
            "<Location /rt>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmEnableCGI On\n</Location>\n\
             <Location /rt/env>\n  WasmModule {env}\n</Location>\n\
             <LocationMatch \"^/users/[0-9]+\">\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {env}\n  WasmEnableCGI On\n</LocationMatch>\n\
             <Location ~ \"^/items/[a-z]+\">\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {env}\n  WasmEnableCGI On\n</Location>\n\
             <Directory {htdocs}/files>\n  AddHandler wasm-handler .env\n  WasmRuntime {runtime}\n  WasmModule {env}\n  WasmEnableCGI On\n</Directory>\n",
            env = cgi_env.display(),
            htdocs = htdocs.display(),
        );
        config.scratch.file("htdocs/files/show.env", "");
        let apache = config.with_body(&body).start();
        for (path, expected) in [
            ("/rt/env/some/path?x=1", pair("/rt/env", "/some/path")),
            ("/rt/env", pair("/rt/env", "")),
            ("/rt/env/", pair("/rt/env", "/")),
            ("/users/42/profile", pair("/users/42", "/profile")),
            ("/items/books/7", pair("/items/books", "/7")),
            // An interpreter keeps the server's split, which follows the file system.
            ("/files/show.env/extra", pair("/files/show.env", "/extra")),
        ] {
            assert_eq!(
                script_name_and_path_info(&apache, path),
                expected,
                "{runtime}: {path}"
            );
        }
    });
}

#[test]
fn status_location_and_headers_come_from_the_program() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "{}{}{}",
            cgi_location("/redirect", runtime, "redirect", ""),
            cgi_location("/hello", runtime, "hello", ""),
            cgi_location("/headers", runtime, "probe", "  WasmArg headers"),
        ))
        .start();

        let response = apache.get("/redirect?status=404");
        assert_eq!(response.status, 404, "{runtime}");
        assert_eq!(response.reason, "Chosen By Guest", "{runtime}");
        assert_eq!(response.text(), "status 404\n", "{runtime}");

        // Without a reason phrase the server gives its own, even for a status it has no name
        // for, instead of turning that status into a 500.
        for (status, reason) in [(404, "Not Found"), (418, "Status 418")] {
            let response = apache.get(&format!("/redirect?bare-status={status}"));
            assert_eq!(
                (response.status, response.reason.as_str()),
                (status, reason),
                "{runtime}: {}",
                apache.error_log()
            );
            assert_eq!(response.text(), format!("status {status}\n"), "{runtime}");
        }

        let response = apache.get("/redirect?to=http://example.invalid/next");
        assert_eq!(response.status, 302, "{runtime}");
        assert_eq!(
            response.header("Location"),
            Some("http://example.invalid/next"),
            "{runtime}"
        );

        // A local path: Apache answers with that URL's response, the client sees no redirect.
        let response = apache.get("/redirect?to=/hello");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.text(), "Hello from WebAssembly!\n", "{runtime}");
        assert_eq!(response.header("Location"), None, "{runtime}");

        let response = apache.get("/headers");
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(
            response.headers_named("Set-Cookie"),
            ["a=1", "b=2"],
            "{runtime}"
        );
        assert_eq!(response.header("X-Probe"), Some("yes"), "{runtime}");
        assert_eq!(response.text(), "headers\n", "{runtime}");
    });
}

#[test]
fn output_without_a_header_block_is_a_bad_gateway() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&cgi_location(
            "/bad",
            runtime,
            "probe",
            "  WasmArg malformed",
        ))
        .start();
        let response = apache.get("/bad");
        assert_eq!(response.status, 502, "{runtime}");
        assert!(
            !response.text().contains("this is not a header block"),
            "{runtime}: guest output leaked"
        );
        let log = apache.wait_for_log("malformed CGI response");
        assert!(
            log.contains("malformed CGI response: header line 1 is not 'Name: value'"),
            "{runtime}: {log}"
        );
        assert!(log.contains("probe.wasm with runtime"), "{runtime}: {log}");
    });
}

#[test]
fn a_head_with_control_characters_or_an_interim_status_is_a_bad_gateway() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&cgi_location("/raw", runtime, "probe", "  WasmArg raw")).start();
        // What the guest writes is the request body, byte for byte.
        let answer = |output: &[u8]| apache.request("POST", "/raw").body(output).send();
        assert_eq!(
            answer(b"Content-Type: text/plain\n\nfine").text(),
            "fine",
            "{runtime}"
        );
        for (output, logged) in [
            // A bare CR would end the line for some clients and proxies: header injection.
            (
                &b"Status: 200 OK\rSet-Cookie: injected=1\nContent-Type: text/plain\n\nx"[..],
                "has a control character",
            ),
            (
                b"Content-Type: text/plain\nX-Note: a\x1b[2Jb\n\nx",
                "has a control character",
            ),
            (
                b"Content-Type: text/plain\rX: y\n\nx",
                "has a control character",
            ),
            // An interim status would leave the client waiting for a final one.
            (
                b"Status: 101 Switching Protocols\n\nx",
                "invalid Status field",
            ),
            (b"Status: 100\n\nx", "invalid Status field"),
        ] {
            let response = answer(output);
            let what = String::from_utf8_lossy(output);
            assert_eq!(response.status, 502, "{runtime}: {what:?}");
            assert!(
                response.header("Set-Cookie").is_none() && response.header("X-Note").is_none(),
                "{runtime}: {what:?} reached the client"
            );
            let log = apache.wait_for_log(logged);
            assert!(
                log.contains(&format!("malformed CGI response: {logged}"))
                    || log.contains(&format!("malformed CGI response: header line 1 {logged}"))
                    || log.contains(&format!("malformed CGI response: header line 2 {logged}")),
                "{runtime}: {what:?}: {log}"
            );
        }
    });
}

#[test]
fn an_error_document_served_by_a_guest_sees_the_status_and_the_servers_variables_win() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "{}SetEnv HTTPS on\nSetEnv REQUEST_SCHEME https\nSetEnv SCRIPT_NAME /spoofed\n\
             ErrorDocument 404 /env\n{}",
            load_module("env"),
            cgi_location("/env", runtime, "cgi-env", "")
        ))
        .start();
        // The guest answers the 404 of a missing file, as Apache's ErrorDocument redirects
        // it: REDIRECT_STATUS is the status it answers for, as under mod_cgi.
        let response = apache.get("/missing.html");
        assert_eq!(response.status, 404, "{runtime}");
        let text = response.text();
        let vars: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            get(&vars, "REDIRECT_STATUS"),
            Some("404"),
            "{runtime}: {text}"
        );
        assert_eq!(
            get(&vars, "REDIRECT_URL"),
            Some("/missing.html"),
            "{runtime}"
        );
        // What the admin set stays, but not over a variable CGI defines.
        assert_eq!(get(&vars, "HTTPS"), Some("on"), "{runtime}");
        assert_eq!(get(&vars, "REQUEST_SCHEME"), Some("https"), "{runtime}");
        assert_eq!(get(&vars, "SCRIPT_NAME"), Some("/env"), "{runtime}");
        // A request of its own still says 200.
        let vars = variables(&apache, apache.request("GET", "/env"));
        assert_eq!(get(&vars, "REDIRECT_STATUS"), Some("200"), "{runtime}");
    });
}

#[test]
fn server_timing_is_sent_only_where_turned_on() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "{}{}",
            cgi_location("/plain", runtime, "hello", ""),
            cgi_location("/timed", runtime, "hello", "  WasmServerTiming On"),
        ))
        .start();
        let plain = apache.get("/plain");
        assert_eq!(plain.status, 200, "{runtime}");
        assert_eq!(plain.header("Server-Timing"), None, "{runtime}");
        let timed = apache.get("/timed");
        assert_eq!(timed.text(), "Hello from WebAssembly!\n", "{runtime}");
        let timing = timed.header("Server-Timing").unwrap_or_default();
        let millis: f64 = timing
            .strip_prefix("wasm;dur=")
            .and_then(|rest| rest.split(';').next())
            .and_then(|dur| dur.parse().ok())
            .unwrap_or_else(|| panic!("{runtime}: {timing:?}"));
        assert!(millis > 0.0, "{runtime}: {timing}");
        assert!(
            timing.ends_with(&format!(";desc=\"{runtime}\"")),
            "{timing}"
        );
    });
}
