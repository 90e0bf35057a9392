//! WasmAllowConnect against a real MariaDB: the guestbook example reaches its database only
//! where a location grants the connection, on the runtimes that have sockets. And a database
//! that never answers, or cannot be reached, does not hold a run past its time limit.

use mod_wasm_tests::mariadb::MariaDb;
use mod_wasm_tests::{component, guest, runtime as runtime_info, runtimes, Apache, Config};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The runtimes whose guests can open connections, each with the guestbook built for it: a
/// core module for the runtime's socket ABI (`guestbook-<abi>`; examples/guestbook has a build
/// per ABI), or else the WASI 0.2 component, whose sockets are `wasi:sockets`.
fn socket_runtimes() -> Vec<(&'static str, PathBuf)> {
    runtimes()
        .into_iter()
        .filter_map(|runtime| {
            let info = runtime_info(runtime);
            match &info.socket_abi {
                Some(abi) => Some((runtime, guest(&format!("guestbook-{abi}")))),
                None if info.components => Some((runtime, component("guestbook"))),
                None => None,
            }
        })
        .collect()
}

/// The errno a refused connection gives the guestbook: EPERM through the socket ABIs of WASI
/// preview1, EACCES (`access-denied`) through `wasi:sockets`.
fn refusal_errno(runtime: &str) -> u16 {
    match runtime_info(runtime).socket_abi {
        Some(_) => 63,
        None => 2,
    }
}

const PASSWORD: &str = "guest-secret";

/// An Apache serving the guestbook at /guestbook, on a new database named `database` (also
/// the user's name), reached through `db_host`, with the given grants.
fn guestbook(
    runtime: &str,
    module: &Path,
    db: &MariaDb,
    database: &str,
    db_host: &str,
    grants: &[String],
) -> Apache {
    db.create_database(database, database, PASSWORD);
    let grants: String = grants
        .iter()
        .map(|grant| format!("  WasmAllowConnect {grant}\n"))
        .collect();
    Config::new(&format!(
        "<Location /guestbook>
  SetHandler wasm-handler
  WasmRuntime {runtime}
  WasmModule {module}
  WasmEnableCGI On
  WasmEnv DB_HOST {db_host}
  WasmEnv DB_PORT {port}
  WasmEnv DB_USER {database}
  WasmEnv DB_PASSWORD {PASSWORD}
  WasmEnv DB_NAME {database}
{grants}</Location>
",
        module = module.display(),
        port = db.port,
    ))
    .start()
}

fn sign(apache: &Apache, form: &str) -> mod_wasm_tests::http::Response {
    apache
        .request("POST", "/guestbook")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
}

#[test]
fn a_post_then_a_get_shows_the_new_entry() {
    let db = MariaDb::start();
    let runtimes = socket_runtimes();
    assert!(!runtimes.is_empty(), "no runtime with sockets is built in");
    for (runtime, module) in runtimes {
        eprintln!("== runtime {runtime}");
        let grant = format!("127.0.0.1:{}", db.port);
        let database = runtime.replace('-', "_");
        let apache = guestbook(runtime, &module, &db, &database, "127.0.0.1", &[grant]);
        let empty = apache.get("/guestbook");
        assert_eq!(empty.status, 200, "{runtime}: {}", apache.error_log());
        assert!(empty.text().contains("No entries yet."), "{runtime}");

        let posted = sign(&apache, "name=Ada&message=Hello+from+%3Cwasm%3E%21");
        assert_eq!(posted.status, 303, "{runtime}: {}", apache.error_log());
        let page = apache.get("/guestbook").text();
        assert!(
            page.contains("<b>Ada</b>") && page.contains("Hello from &lt;wasm&gt;!"),
            "{runtime}: {page}"
        );
        // The row is in the database, not in some cache of the guest's.
        let stored = db.sql(&format!("SELECT name, message FROM `{database}`.entries"));
        assert_eq!(stored, "Ada\tHello from <wasm>!\n", "{runtime}");
    }
}

#[test]
fn a_granted_name_resolves_and_connects() {
    let db = MariaDb::start();
    for (runtime, module) in socket_runtimes() {
        eprintln!("== runtime {runtime}");
        // `localhost` resolves through the host's /etc/hosts.
        let grant = format!("localhost:{}", db.port);
        let database = runtime.replace('-', "_");
        let apache = guestbook(runtime, &module, &db, &database, "localhost", &[grant]);
        let page = apache.get("/guestbook");
        assert_eq!(page.status, 200, "{runtime}: {}", apache.error_log());
        assert!(page.text().contains("No entries yet."), "{runtime}");
    }
}

#[test]
fn without_a_grant_the_guest_gets_a_refusal_it_can_report() {
    let db = MariaDb::start();
    for (runtime, module) in socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let database = runtime.replace('-', "_");
        let apache = guestbook(runtime, &module, &db, &database, "127.0.0.1", &[]);
        let response = apache.get("/guestbook");
        assert_eq!(response.status, 503, "{runtime}: {}", response.text());
        assert!(
            response
                .text()
                .contains("The guestbook cannot reach its database"),
            "{runtime}: {}",
            response.text()
        );
        let errno = format!("(WASI errno {})", refusal_errno(runtime));
        assert!(
            response.text().contains(&errno),
            "{runtime}: {errno}: {}",
            response.text()
        );
        let refused = format!("refused a connection to 127.0.0.1:{}", db.port);
        let log = apache.wait_for_log(&refused);
        let line = log
            .lines()
            .find(|line| line.contains(&refused))
            .unwrap_or_else(|| panic!("{runtime}: no refusal in the log:\n{log}"));
        assert!(
            line.contains("<Location /guestbook>") && line.contains(&format!("runtime {runtime}")),
            "{runtime}: the line names the location and runtime: {line}"
        );
        // A name nobody granted does not even resolve.
        let by_name = format!("{database}_by_name");
        let apache = guestbook(runtime, &module, &db, &by_name, "localhost", &[]);
        assert_eq!(apache.get("/guestbook").status, 503, "{runtime}");
        let log = apache.wait_for_log("refused to resolve 'localhost'");
        assert!(
            log.contains("refused to resolve 'localhost'"),
            "{runtime}: {log}"
        );
    }
}

#[test]
fn a_grant_to_another_port_does_not_open_the_database() {
    let db = MariaDb::start();
    for (runtime, module) in socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let other = format!("127.0.0.1:{}", db.port.wrapping_add(1).max(1));
        let database = runtime.replace('-', "_");
        let apache = guestbook(runtime, &module, &db, &database, "127.0.0.1", &[other]);
        assert_eq!(apache.get("/guestbook").status, 503, "{runtime}");
        let refused = format!("refused a connection to 127.0.0.1:{}", db.port);
        assert!(
            apache.wait_for_log(&refused).contains(&refused),
            "{runtime}: {}",
            apache.error_log()
        );
    }
}

#[test]
fn runtimes_without_sockets_cannot_be_granted_connections() {
    // A core module opens connections only through its runtime's socket ABI.
    let (capable, without): (Vec<&str>, Vec<&str>) = runtimes()
        .into_iter()
        .partition(|runtime| runtime_info(runtime).socket_abi.is_some());
    if without.is_empty() {
        eprintln!("every runtime built in has sockets: nothing to refuse");
    }
    for runtime in without {
        let config = Config::new(&format!(
            "<Location /guestbook>
  SetHandler wasm-handler
  WasmRuntime {runtime}
  WasmModule {}
  WasmAllowConnect 127.0.0.1:3306
</Location>
",
            guest("hello").display()
        ));
        let result = config.check();
        assert!(!result.success, "{runtime}: {}", result.output);
        for needle in [
            "WasmAllowConnect 127.0.0.1:3306 in <Location /guestbook>".to_owned(),
            format!("runtime {runtime} cannot open connections"),
        ] {
            assert!(
                result.output.contains(&needle),
                "{needle}: {}",
                result.output
            );
        }
        // The message names the runtimes that can.
        for capable in &capable {
            assert!(
                result.output.contains(capable),
                "{capable}: {}",
                result.output
            );
        }
    }
}

/// A server on a loopback port that accepts connections and never says a word: a database
/// that hangs before its greeting. Stopped (its connections closed) when dropped.
struct SilentServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl SilentServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = std::thread::spawn({
            let (accepted, stop) = (accepted.clone(), stop.clone());
            move || {
                let mut held: Vec<TcpStream> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            held.push(stream);
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        });
        Self {
            port,
            accepted,
            stop,
            accepting: Some(accepting),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// A server on a loopback port whose queue of connections to accept is full: a connection to
/// it never completes (the kernel drops its SYNs), as to a database host that is down.
struct FullServer {
    port: u16,
    /// The listening socket, which accepts nothing, and the connection that fills its queue.
    _listener: socket2::Socket,
    _queued: TcpStream,
}

impl FullServer {
    fn start() -> Self {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        // A backlog of 0 holds one connection.
        listener.listen(0).unwrap();
        let port = listener.local_addr().unwrap().as_socket().unwrap().port();
        let queued = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Self {
            port,
            _listener: listener,
            _queued: queued,
        }
    }
}

/// Serves the guestbook under `runtime` with a 2 s limit and its database at `port`, and
/// asserts that the request is answered 504 at the limit, with the log line saying so.
fn assert_stopped_at_the_limit_waiting_on(runtime: &str, module: &Path, port: u16, what: &str) {
    const LIMIT: Duration = Duration::from_secs(2);
    // The deadline holds within 100 ms; a busy test machine gets the rest.
    const SLACK: Duration = Duration::from_secs(2);
    let apache = Config::new(&format!(
        "Timeout 60
<Location /guestbook>
  SetHandler wasm-handler
  WasmRuntime {runtime}
  WasmModule {module}
  WasmEnableCGI On
  WasmTimeout {limit}
  WasmEnv DB_HOST 127.0.0.1
  WasmEnv DB_PORT {port}
  WasmEnv DB_USER guest
  WasmEnv DB_PASSWORD {PASSWORD}
  WasmEnv DB_NAME guestbook
  WasmAllowConnect 127.0.0.1:{port}
</Location>
",
        module = module.display(),
        limit = LIMIT.as_secs(),
    ))
    .start();
    let started = Instant::now();
    let response = apache.get("/guestbook");
    let took = started.elapsed();
    assert_eq!(response.status, 504, "{runtime}: {}", apache.error_log());
    assert!(
        took < LIMIT + SLACK,
        "{runtime}: the run waiting on {what} ended after {took:?}"
    );
    let needle = format!(
        "the guest was stopped after WasmTimeout {} s",
        LIMIT.as_secs()
    );
    assert!(
        apache.wait_for_log(&needle).contains(&needle),
        "{runtime}: {}",
        apache.error_log()
    );
}

#[test]
fn a_database_that_never_answers_does_not_hold_the_run_past_its_limit() {
    let silent = SilentServer::start();
    for (runtime, module) in socket_runtimes() {
        eprintln!("== runtime {runtime}");
        let connected_before = silent.accepted();
        assert_stopped_at_the_limit_waiting_on(runtime, &module, silent.port, "its greeting");
        // It was stopped while it waited for the greeting, not before it connected.
        assert_eq!(silent.accepted(), connected_before + 1, "{runtime}");
    }
}

#[test]
fn a_database_that_cannot_be_reached_does_not_hold_the_run_past_its_limit() {
    let full = FullServer::start();
    for (runtime, module) in socket_runtimes() {
        eprintln!("== runtime {runtime}");
        assert_stopped_at_the_limit_waiting_on(runtime, &module, full.port, "a connection");
    }
}
