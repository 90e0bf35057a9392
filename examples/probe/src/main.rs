//! A guest for mod_wasm's integration tests: its first argument (WasmArg) picks a behaviour.
//!
//!   env           print argv and the environment, one per line (no CGI headers)
//!   exit N        exit with code N after printing a line
//!   trap          execute `unreachable`
//!   oob           load from far outside linear memory
//!   recurse       recurse until the stack is exhausted
//!   nest [N]      recurse N levels deep, a frame of the engine's own stack each (nothing in
//!                 linear memory), and print "nested N" (no CGI headers); without N, recurse
//!                 until the engine's stack is exhausted
//!   stderr        write three lines to stderr, then "ok"
//!   bytes         print every byte value 0..=255 (no CGI headers)
//!   big N         print N bytes of a fixed pattern (no CGI headers)
//!   read PATH     print the file at PATH, or "error: ..."
//!   write PATH    create PATH with some text; print "wrote" or "error: ..."
//!   ls PATH       print the names in directory PATH, sorted, one per line, or "error: ..."
//!   stat PATH     print "directory" or "file of N bytes" for PATH, or "error: ..."
//!   mkdir PATH    create directory PATH; print "created" or "error: ..."
//!   lock PATH MS [file]
//!                 CGI: take a lock made of a directory, as SQLite does under WASI: `mkdir
//!                 PATH` until it succeeds (every 10 ms, for up to 10 s), hold it MS ms,
//!                 remove it; print "acquired after N tries", or "never acquired: ERROR".
//!                 With `file`, the lock is a file created with `O_EXCL` instead
//!   symlink T L   create a symbolic link L pointing to T; print "linked" or "error: ..."
//!   listen        try what a guest with outbound TCP must not do: listen on 127.0.0.1 (an
//!                 address of its choosing), on any address, and bind a UDP socket; print
//!                 "WHAT: listening on ADDRESS" or "WHAT: error: ..." for each (no CGI headers)
//!   script        CGI: print SCRIPT_FILENAME and the contents of that file (interpreter mode)
//!   headers       CGI: repeated Set-Cookie and a custom header
//!   malformed     CGI: output without a header block
//!   spin          loop forever (for time limits)
//!   reserve MIB   reserve memory 1 MiB at a time, up to MIB MiB, handling refusals; print
//!                 "reserved N MiB" (no CGI headers)
//!   bomb MIB      allocate MIB MiB at once, aborting (a trap) when refused, as most
//!                 programs do
//!   chatter N     write N bytes to stderr, then print "ok" (no CGI headers)
//!   pipe          CGI: copy the request body to the response as it arrives, 64 KiB at a time
//!   raw           CGI: the request body is the whole output, header block included (for
//!                 output that the tests write byte by byte)
//!   drip S        CGI: print "first", wait S seconds, print "last"
//!   nap S         CGI: wait S seconds, then print "awake" (a guest that waits before it answers)
//!   sleeps        CGI: sleep 200 ms the ways C programs do: `usleep` (a relative wait on the
//!                 realtime clock: SQLite's busy wait) and `clock_nanosleep` to an absolute
//!                 time on the monotonic clock (CPython's `time.sleep`); print
//!                 "NAME: returned R after N ms" for each
//!   poll0         CGI: poll no descriptors with a timeout of 0 ms, as C's `poll(NULL, 0, 0)`
//!                 (WASI: a relative clock of 0 ns, "do not wait"); print "polled N"
//!   trickle KIB   CGI: print KIB KiB, wait 50 ms, and again, until stopped (a response sent
//!                 by the flusher of idle responses, piece by piece)
//!   cut N         CGI: print N bytes of the body, then trap
//!   residue PATH  count this run in a static, list the open descriptors, then open PATH and
//!                 leave it open; print "runs N", "open FD FD …" and "opened FD" (no CGI
//!                 headers). In a fresh instance with fresh WASI state, every run prints the
//!                 same: what one run leaves behind must not reach the next.
//!
//! It also exports `alt_entry` (see build.rs) for WasmEntryPoint.
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs of `residue` in this instance: in linear memory, so 1 in a fresh one.
static RUNS: AtomicU32 = AtomicU32::new(0);

/// Whether descriptor `fd` is open: wasi-libc's `fcntl(F_GETFD)` asks WASI's `fd_fdstat_get`.
#[cfg(target_os = "wasi")]
fn is_open(fd: i32) -> bool {
    use std::ffi::c_int;
    const F_GETFD: c_int = 1;
    extern "C" {
        fn fcntl(fd: c_int, command: c_int, ...) -> c_int;
    }
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { fcntl(fd, F_GETFD) != -1 }
}

#[cfg(not(target_os = "wasi"))]
fn is_open(fd: i32) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

#[no_mangle]
pub extern "C" fn alt_entry() {
    println!("alternative entry point");
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let local = std::hint::black_box([depth; 16]);
    recurse(depth + 1) + local[depth as usize % 16]
}

/// Recurses from `depth` to `end` with nothing on the linear-memory stack, so each level is a
/// frame on the engine's own stack; the work after the call keeps compilers from turning the
/// recursion into a loop.
#[inline(never)]
fn nest(depth: u64, end: u64) -> u64 {
    if depth == end {
        return 0;
    }
    nest(depth + 1, end).rotate_left(7) ^ depth
}

/// wasi-libc's `symlink`, which the standard library links in: std's own wrapper is unstable.
#[cfg(target_os = "wasi")]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    use std::ffi::{c_char, c_int, CString};
    extern "C" {
        fn symlink(target: *const c_char, link: *const c_char) -> c_int;
    }
    let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let (target, link) = (
        CString::new(target).map_err(invalid)?,
        CString::new(link).map_err(invalid)?,
    );
    // SAFETY: two NUL-terminated strings that outlive the call.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "wasi"))]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// A way C programs sleep: its name, and a call sleeping that many milliseconds that returns
/// what the C call returned.
type CSleep = (&'static str, fn(u32) -> i32);

/// The ways C programs sleep.
#[cfg(target_os = "wasi")]
fn c_sleeps() -> [CSleep; 2] {
    use std::ffi::{c_int, c_long, c_uint, c_void};
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: c_long,
    }
    extern "C" {
        fn usleep(microseconds: c_uint) -> c_int;
        fn clock_gettime(clock: *const c_void, now: *mut Timespec) -> c_int;
        fn clock_nanosleep(
            clock: *const c_void,
            flags: c_int,
            until: *const Timespec,
            remaining: *mut Timespec,
        ) -> c_int;
        // wasi-libc's clock ids are addresses: CLOCK_MONOTONIC is `&_CLOCK_MONOTONIC`.
        static _CLOCK_MONOTONIC: u8;
    }
    const TIMER_ABSTIME: c_int = 1;
    fn relative_realtime(ms: u32) -> i32 {
        // SAFETY: no pointers.
        unsafe { usleep(ms * 1000) }
    }
    fn absolute_monotonic(ms: u32) -> i32 {
        // SAFETY: the clock id is wasi-libc's own; both timespecs live across the calls.
        unsafe {
            let monotonic = std::ptr::addr_of!(_CLOCK_MONOTONIC).cast();
            let mut until = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if clock_gettime(monotonic, &mut until) != 0 {
                return -1;
            }
            let nanos = until.tv_nsec as i64 + i64::from(ms) * 1_000_000;
            until.tv_sec += nanos / 1_000_000_000;
            until.tv_nsec = (nanos % 1_000_000_000) as c_long;
            clock_nanosleep(monotonic, TIMER_ABSTIME, &until, std::ptr::null_mut())
        }
    }
    [
        ("usleep", relative_realtime),
        ("clock_nanosleep absolute", absolute_monotonic),
    ]
}

#[cfg(not(target_os = "wasi"))]
fn c_sleeps() -> [CSleep; 1] {
    fn sleep(ms: u32) -> i32 {
        std::thread::sleep(std::time::Duration::from_millis(ms.into()));
        0
    }
    [("std::thread::sleep", sleep)]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let mut out = std::io::stdout().lock();
    match arg(1) {
        "env" => {
            for (i, a) in args.iter().enumerate() {
                writeln!(out, "argv[{i}]={a}").unwrap();
            }
            for (k, v) in std::env::vars() {
                writeln!(out, "env:{k}={v}").unwrap();
            }
            let mut stdin = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut stdin);
            writeln!(out, "stdin:{}", stdin.len()).unwrap();
        }
        "exit" => {
            writeln!(out, "exiting").unwrap();
            out.flush().unwrap();
            std::process::exit(arg(2).parse().unwrap_or(1));
        }
        "trap" => {
            writeln!(out, "about to trap").unwrap();
            out.flush().unwrap();
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
            #[cfg(not(target_arch = "wasm32"))]
            std::process::abort();
        }
        "oob" => {
            writeln!(out, "about to trap").unwrap();
            out.flush().unwrap();
            // SAFETY: none; the point is to fault. In wasm this traps instead of corrupting.
            let byte = unsafe { std::ptr::read_volatile(usize::MAX as *const u8) };
            writeln!(out, "read {byte}").unwrap();
        }
        "recurse" => {
            writeln!(out, "about to trap").unwrap();
            out.flush().unwrap();
            writeln!(out, "{}", recurse(1)).unwrap();
        }
        "nest" => {
            let levels = arg(2).parse().unwrap_or(u64::MAX);
            std::hint::black_box(nest(0, levels));
            writeln!(out, "nested {levels}").unwrap();
        }
        "stderr" => {
            eprintln!("first line to stderr");
            eprintln!("second line to stderr");
            eprint!("third line without newline");
            writeln!(out, "ok").unwrap();
        }
        "bytes" => out.write_all(&(0..=255u8).collect::<Vec<_>>()).unwrap(),
        "big" => {
            // The pattern 0..=250 repeated, written 251 * 256 bytes at a time.
            let n: usize = arg(2).parse().unwrap_or(0);
            let block: Vec<u8> = (0..=250u8).cycle().take(251 * 256).collect();
            let mut left = n;
            while left > 0 {
                let chunk = left.min(block.len());
                if out.write_all(&block[..chunk]).is_err() {
                    std::process::exit(1);
                }
                left -= chunk;
            }
        }
        "read" => match std::fs::read(arg(2)) {
            Ok(bytes) => out.write_all(&bytes).unwrap(),
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "write" => match std::fs::write(arg(2), "written by probe\n") {
            Ok(()) => writeln!(out, "wrote").unwrap(),
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "ls" => match std::fs::read_dir(arg(2)) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| vec![format!("error: {e}")]);
                names.sort();
                for name in names {
                    writeln!(out, "{name}").unwrap();
                }
            }
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "stat" => match std::fs::metadata(arg(2)) {
            Ok(metadata) if metadata.is_dir() => writeln!(out, "directory").unwrap(),
            Ok(metadata) => writeln!(out, "file of {} bytes", metadata.len()).unwrap(),
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "mkdir" => match std::fs::create_dir(arg(2)) {
            Ok(()) => writeln!(out, "created").unwrap(),
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "lock" => {
            let hold: u64 = arg(3).parse().unwrap_or(0);
            let file = arg(4) == "file";
            let take = |path: &str| {
                if file {
                    std::fs::File::create_new(path).map(drop)
                } else {
                    std::fs::create_dir(path)
                }
            };
            write!(out, "Content-Type: text/plain\n\n").unwrap();
            let mut tries = 0;
            let acquired = loop {
                tries += 1;
                match take(arg(2)) {
                    Ok(()) => break Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 1000 => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(e) => break Err(e),
                }
            };
            match acquired {
                Ok(()) => {
                    std::thread::sleep(std::time::Duration::from_millis(hold));
                    if file {
                        std::fs::remove_file(arg(2)).unwrap();
                    } else {
                        std::fs::remove_dir(arg(2)).unwrap();
                    }
                    writeln!(out, "acquired after {tries} tries").unwrap();
                }
                Err(e) => writeln!(out, "never acquired: {e}").unwrap(),
            }
        }
        "symlink" => match symlink(arg(2), arg(3)) {
            Ok(()) => writeln!(out, "linked").unwrap(),
            Err(e) => writeln!(out, "error: {e}").unwrap(),
        },
        "script" => {
            let script = std::env::var("SCRIPT_FILENAME").unwrap_or_default();
            let body = std::fs::read_to_string(&script).unwrap_or_else(|e| format!("error: {e}"));
            write!(
                out,
                "Content-Type: text/plain\n\nSCRIPT_FILENAME={script}\n{body}"
            )
            .unwrap();
        }
        "headers" => {
            write!(
                out,
                "Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Probe: yes\n\nheaders\n"
            )
            .unwrap();
        }
        "malformed" => writeln!(out, "this is not a header block").unwrap(),
        "listen" => {
            for address in ["127.0.0.1:0", "0.0.0.0:0"] {
                match std::net::TcpListener::bind(address).and_then(|l| l.local_addr()) {
                    Ok(bound) => writeln!(out, "tcp {address}: listening on {bound}").unwrap(),
                    Err(e) => writeln!(out, "tcp {address}: error: {e}").unwrap(),
                }
            }
            match std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.local_addr()) {
                Ok(bound) => writeln!(out, "udp 0.0.0.0:0: listening on {bound}").unwrap(),
                Err(e) => writeln!(out, "udp 0.0.0.0:0: error: {e}").unwrap(),
            }
        }
        "spin" => loop {
            std::hint::spin_loop();
        },
        "reserve" => {
            let wanted: usize = arg(2).parse().unwrap_or(0);
            let mut held: Vec<Vec<u8>> = Vec::new();
            for _ in 0..wanted {
                let mut block = Vec::new();
                if block.try_reserve_exact(1 << 20).is_err() {
                    break;
                }
                // Touch the pages, so the memory is really there.
                block.resize(1 << 20, 1);
                held.push(block);
            }
            writeln!(out, "reserved {} MiB", held.len()).unwrap();
        }
        "bomb" => {
            let mib: usize = arg(2).parse().unwrap_or(0);
            let block = std::hint::black_box(vec![1u8; mib << 20]);
            writeln!(out, "allocated {} MiB", block.len() >> 20).unwrap();
        }
        "chatter" => {
            let n: usize = arg(2).parse().unwrap_or(0);
            let line = [b'.'; 1023];
            let mut stderr = std::io::stderr().lock();
            let mut left = n;
            while left > 0 {
                let chunk = left.min(1024);
                stderr.write_all(&line[..chunk - 1]).unwrap();
                stderr.write_all(b"\n").unwrap();
                left -= chunk;
            }
            writeln!(out, "ok").unwrap();
        }
        "pipe" => {
            write!(out, "Content-Type: application/octet-stream\n\n").unwrap();
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0; 64 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.write_all(&buf[..n]).unwrap(),
                    Err(e) => panic!("reading the request body: {e}"),
                }
            }
        }
        "raw" => {
            std::io::copy(&mut std::io::stdin().lock(), &mut out).unwrap();
        }
        "drip" => {
            let seconds: u64 = arg(2).parse().unwrap_or(1);
            write!(out, "Content-Type: text/plain\n\nfirst\n").unwrap();
            out.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_secs(seconds));
            writeln!(out, "last").unwrap();
        }
        "nap" => {
            let seconds: u64 = arg(2).parse().unwrap_or(1);
            std::thread::sleep(std::time::Duration::from_secs(seconds));
            write!(out, "Content-Type: text/plain\n\nawake\n").unwrap();
        }
        "sleeps" => {
            write!(out, "Content-Type: text/plain\n\n").unwrap();
            for (name, sleep) in c_sleeps() {
                let started = std::time::Instant::now();
                let returned = sleep(200);
                let ms = started.elapsed().as_millis();
                writeln!(out, "{name}: returned {returned} after {ms} ms").unwrap();
            }
        }
        "poll0" => {
            extern "C" {
                fn poll(fds: *mut std::ffi::c_void, count: std::ffi::c_ulong, timeout: i32) -> i32;
            }
            // SAFETY: no descriptors to read or write; only the timeout is looked at.
            let ready = unsafe { poll(std::ptr::null_mut(), 0, 0) };
            write!(out, "Content-Type: text/plain\n\npolled {ready}\n").unwrap();
        }
        "trickle" => {
            let kib: usize = arg(2).parse().unwrap_or(64);
            write!(out, "Content-Type: application/octet-stream\n\n").unwrap();
            let piece = vec![b't'; kib << 10];
            loop {
                if out.write_all(&piece).and_then(|()| out.flush()).is_err() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        "cut" => {
            let n: usize = arg(2).parse().unwrap_or(0);
            write!(out, "Content-Type: application/octet-stream\n\n").unwrap();
            out.write_all(&vec![b'x'; n]).unwrap();
            out.flush().unwrap();
            std::process::abort();
        }
        "residue" => {
            use std::os::fd::IntoRawFd;
            let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
            let open: Vec<String> = (0..64)
                .filter(|&fd| is_open(fd))
                .map(|fd| fd.to_string())
                .collect();
            writeln!(out, "runs {runs}\nopen {}", open.join(" ")).unwrap();
            match std::fs::File::open(arg(2)) {
                // Left open: only the end of the run closes it.
                Ok(file) => writeln!(out, "opened {}", file.into_raw_fd()).unwrap(),
                Err(e) => writeln!(out, "error: {e}").unwrap(),
            }
        }
        other => {
            writeln!(out, "unknown probe behaviour {other:?}").unwrap();
            std::process::exit(2);
        }
    }
}
