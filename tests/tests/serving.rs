//! Serving requests: every runtime, both MPMs, HEAD, large and binary bodies, concurrency.

use mod_wasm_tests::{for_each_runtime, guest, Config, Mpm};

fn hello_config(runtime: &str) -> String {
    format!(
        "<Location /hello>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
        guest("hello").display()
    )
}

#[test]
fn a_location_is_answered_by_its_module_under_each_runtime() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&hello_config(runtime)).start();
        let response = apache.get("/hello");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.text(), "Hello from WebAssembly!\n");
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
    });
}

#[test]
fn the_prefork_mpm_serves_too() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&hello_config(runtime))
            .mpm(Mpm::Prefork)
            .start();
        for _ in 0..3 {
            let response = apache.get("/hello");
            assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
            assert_eq!(response.text(), "Hello from WebAssembly!\n");
        }
    });
}

#[test]
fn head_requests_get_headers_without_a_body() {
    for_each_runtime(|runtime| {
        // Buffered, the response's length is known before its head goes out. Streamed, it is
        // only when the guest exits within the idle flush's 10 ms of its last write, which a
        // busy machine does not promise.
        let buffered =
            hello_config(runtime).replace("</Location>", "  WasmBufferResponse On\n</Location>");
        for (config, length) in [(hello_config(runtime), None), (buffered, Some("24"))] {
            let apache = Config::new(&config).start();
            let response = apache.request("HEAD", "/hello").send();
            assert_eq!(response.status, 200, "{runtime}");
            assert_eq!(response.header("Content-Type"), Some("text/plain"));
            if let Some(length) = length {
                assert_eq!(response.header("Content-Length"), Some(length), "{runtime}");
            }
            assert!(response.body.is_empty(), "{runtime}");
        }
    });
}

#[test]
fn concurrent_requests_each_get_their_own_sandbox() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "<Location /env>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
            guest("cgi-env").display()
        ))
        .start();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let apache = &apache;
                    scope.spawn(move || {
                        let response = apache.get(&format!("/env?request={i}"));
                        assert_eq!(response.status, 200, "{runtime}");
                        // Each guest sees its own request, never another's.
                        assert!(
                            response
                                .text()
                                .contains(&format!("QUERY_STRING=request={i}\n")),
                            "{runtime}: request {i} got {}",
                            response.text()
                        );
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
        });
    });
}

fn echo_config(runtime: &str) -> String {
    format!(
        "<Location /echo>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
        guest("echo").display()
    )
}

/// Bytes that are not text and do not repeat within a chunk: any corruption shows.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e3779b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn ten_mib_request_and_response_bodies_are_byte_exact() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&echo_config(runtime)).start();
        let body = noise(10 * 1024 * 1024);
        let response = apache
            .request("POST", "/echo")
            .header("Content-Type", "application/octet-stream")
            .body(body.clone())
            .send();
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.header("X-Echo-Length"), Some("10485760"));
        assert_eq!(
            response.header("Content-Type"),
            Some("application/octet-stream")
        );
        assert!(response.body == body, "{runtime}: echoed body differs");
    });
}

#[test]
fn chunked_request_bodies_reach_the_guest_whole() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&echo_config(runtime)).start();
        let body = noise(3 * 1024 * 1024 + 17);
        let response = apache
            .request("POST", "/echo")
            .chunked_body(body.clone(), 100_000)
            .send();
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.header("X-Echo-Length"), Some("3145745"));
        assert!(response.body == body, "{runtime}: echoed body differs");
    });
}

#[test]
fn bodies_over_limit_request_body_are_refused_before_the_guest_runs() {
    for_each_runtime(|runtime| {
        let apache =
            Config::new(&format!("LimitRequestBody 1000\n{}", echo_config(runtime))).start();
        let response = apache
            .request("POST", "/echo")
            .body(vec![b'x'; 2000])
            .send();
        assert_eq!(response.status, 413, "{runtime}");
        let chunked = apache
            .request("POST", "/echo")
            .chunked_body(vec![b'x'; 2000], 300)
            .send();
        assert_eq!(chunked.status, 413, "{runtime}");
        let small = apache
            .request("POST", "/echo")
            .body(vec![b'x'; 1000])
            .send();
        assert_eq!(small.status, 200, "{runtime}");
    });
}

#[test]
fn binary_output_is_sent_untouched() {
    for_each_runtime(|runtime| {
        let apache = Config::new(&format!(
            "<Location /bytes>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmArg bytes\n</Location>\n\
             <Location /big>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmArg big\n  WasmArg 10485760\n</Location>\n",
            guest("probe").display(),
            guest("probe").display()
        ))
        .start();
        let response = apache.get("/bytes");
        assert_eq!(response.status, 200, "{runtime}: {}", apache.error_log());
        assert_eq!(response.body, (0..=255u8).collect::<Vec<_>>(), "{runtime}");

        let response = apache.get("/big");
        assert_eq!(response.status, 200, "{runtime}");
        assert_eq!(response.body.len(), 10 * 1024 * 1024, "{runtime}");
        let pattern: Vec<u8> = (0..=250u8).collect();
        assert!(
            response
                .body
                .chunks(pattern.len())
                .all(|c| c == &pattern[..c.len()]),
            "{runtime}: large output corrupted"
        );
    });
}

#[test]
fn restarts_pick_up_a_changed_module() {
    for_each_runtime(|runtime| {
        let config = Config::new("");
        let module = config.scratch.path().join("app.wasm");
        std::fs::copy(guest("hello"), &module).unwrap();
        let config = config.with_body(&format!(
            "<Location /app>\n  SetHandler wasm-handler\n  WasmRuntime {runtime}\n  WasmModule {}\n  WasmEnableCGI On\n</Location>\n",
            module.display()
        ));
        let apache = config.start();
        assert_eq!(
            apache.get("/app").text(),
            "Hello from WebAssembly!\n",
            "{runtime}"
        );

        // Replace the file (a new inode, as deployments do) and reload gracefully.
        let staged = apache.scratch().path().join("app.wasm.new");
        std::fs::copy(guest("echo"), &staged).unwrap();
        std::fs::rename(&staged, &module).unwrap();
        apache.signal("graceful");
        let echoed = wait_for(|| {
            let response = apache.request("POST", "/app").body("after graceful").send();
            (response.text() == "after graceful").then_some(())
        });
        assert!(
            echoed.is_some(),
            "{runtime}: the new module never answered:\n{}",
            apache.error_log()
        );

        std::fs::copy(guest("hello"), &staged).unwrap();
        std::fs::rename(&staged, &module).unwrap();
        apache.signal("restart");
        let hello =
            wait_for(|| (apache.get("/app").text() == "Hello from WebAssembly!\n").then_some(()));
        assert!(
            hello.is_some(),
            "{runtime}: the restarted server serves the old module"
        );
    });
}

/// Polls `probe` for up to ten seconds: old children finish their requests after a graceful
/// restart, so the new configuration takes over gradually.
fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
