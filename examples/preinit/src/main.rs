//! A module with an init for `WasmPreinit`, and a CGI program that says what its init left.
//!
//! `wizer-initialize` runs once, when Apache reads its configuration: it reads the greeting in
//! `/data/greeting.txt` and its environment's `MODE`, tries to write beside the greeting (its
//! directories are read-only), and counts its runs. Every request then starts from that state:
//! the greeting stays what the file said at the configuration read, and the count stays 1.
//! Without `WasmPreinit` the init never runs. `INIT=trap` makes the init panic, `INIT=spin`
//! makes it loop forever, `INIT=exit` makes it exit with status 3.
//!
//! What any init has to do: forget the environment and the preopened directories it looked at
//! before it returns (wasi-libc's `__wasilibc_deinitialize_environ` and
//! `__wasilibc_reset_preopens`), so that each run reads its own. A snapshot would otherwise
//! keep the init's, and a run would see no request's variables.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// What the init found.
struct Initialised {
    greeting: String,
    mode: String,
    write: String,
}

static INITIALISED: OnceLock<Initialised> = OnceLock::new();
static INIT_RUNS: AtomicU32 = AtomicU32::new(0);

extern "C" {
    fn __wasilibc_deinitialize_environ();
    fn __wasilibc_reset_preopens();
}

#[export_name = "wizer-initialize"]
pub extern "C" fn init() {
    INIT_RUNS.fetch_add(1, Ordering::Relaxed);
    match std::env::var("INIT").as_deref() {
        Ok("trap") => panic!("the init was told to fail"),
        Ok("spin") => loop {
            std::hint::spin_loop();
        },
        Ok("exit") => std::process::exit(3),
        _ => {}
    }
    let greeting = std::fs::read_to_string("/data/greeting.txt")
        .unwrap_or_else(|e| format!("(no greeting: {e})"));
    let write = match std::fs::write("/data/init-was-here", "written by the init") {
        Ok(()) => "allowed".to_owned(),
        Err(e) => format!("refused ({e})"),
    };
    let _ = INITIALISED.set(Initialised {
        greeting: greeting.trim().to_owned(),
        mode: std::env::var("MODE").unwrap_or_default(),
        write,
    });
    // SAFETY: wasi-libc's functions for pre-initialisation, called once nothing of the
    // environment or of the preopens is borrowed any more.
    unsafe {
        __wasilibc_deinitialize_environ();
        __wasilibc_reset_preopens();
    }
}

fn main() {
    print!("Content-Type: text/plain\n\n");
    match INITIALISED.get() {
        Some(init) => {
            println!("initialised: yes");
            println!("greeting: {}", init.greeting);
            println!("mode at init: {}", init.mode);
            println!("write at init: {}", init.write);
        }
        None => println!("initialised: no"),
    }
    println!("init runs: {}", INIT_RUNS.load(Ordering::Relaxed));
    println!(
        "request: {}",
        std::env::var("REQUEST_URI").unwrap_or_else(|_| "(no REQUEST_URI)".into())
    );
    let greeting = std::fs::read_to_string("/data/greeting.txt");
    println!(
        "greeting now: {}",
        greeting.map_or_else(|e| format!("({e})"), |g| g.trim().to_owned())
    );
}
