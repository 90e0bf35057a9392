//! A private MariaDB server for tests that need a database: its own data directory in a temp
//! dir, listening on a free loopback port (and a socket in that dir), stopped on drop.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MariaDb {
    dir: tempfile::TempDir,
    server: Child,
    pub port: u16,
}

impl MariaDb {
    /// Initialises a data directory and starts `mariadbd` on it.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mod_wasm-mariadb-")
            .tempdir()
            .expect("creating a MariaDB directory");
        let data = dir.path().join("data");
        // Its own temp dir too: servers started in parallel must not share temp file names.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("creating MariaDB's temp dir");
        let install = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--skip-test-db", "--user=root"])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .output()
            .expect("running mariadb-install-db (install mariadb-server, e.g. with scripts/setup)");
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&install.stdout),
            String::from_utf8_lossy(&install.stderr)
        );
        let port = super::free_port();
        let server = Command::new("mariadbd")
            .args([
                "--no-defaults",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
            ])
            // Ignored unless started as root, which mariadbd otherwise refuses.
            .arg("--user=root")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", dir.path().join("socket").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mariadbd");
        let mut db = Self { dir, server, port };
        db.wait_until_ready();
        db
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                panic!("mariadbd exited ({status}):\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.socket().exists() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not listen in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs SQL as the server's root user (over the socket) and returns the output.
    pub fn sql(&self, statements: &str) -> String {
        let output = Command::new("mariadb")
            .args([
                "--no-defaults",
                "--user=root",
                "--batch",
                "--skip-column-names",
            ])
            .arg(format!("--socket={}", self.socket().display()))
            .arg("--execute")
            .arg(statements)
            .output()
            .expect("running the mariadb client");
        assert!(
            output.status.success(),
            "SQL failed: {statements}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates a database and a user who may use it from loopback, with a password.
    pub fn create_database(&self, database: &str, user: &str, password: &str) {
        self.sql(&format!(
            "CREATE DATABASE `{database}`;
             CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';
             GRANT ALL ON `{database}`.* TO '{user}'@'127.0.0.1';"
        ));
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        // SIGTERM is mariadbd's clean shutdown; SIGKILL if it takes too long.
        let _ = Command::new("kill")
            .arg(self.server.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
