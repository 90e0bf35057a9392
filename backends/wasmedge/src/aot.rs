//! Ahead-of-time compilation in a forked process.
//!
//! WasmEdge's LLVM compiler keeps worker threads in the process that first compiles. Apache
//! forks after reading its configuration (to daemonize, then for every child), and a copy of
//! the process without those threads hangs in its next compilation: a graceful restart would
//! never finish. Each compilation therefore runs in a short-lived child of the process that asks
//! for it, which writes the compiled module to a file and exits; the asking process never starts
//! the compiler's threads.

use runtime_api::{descriptor_path, Code};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmedge_sdk::config::Config;
use wasmedge_sdk::{Compiler, Module};

/// Compiles `wasm` to a shared library of native code that embeds the module, as `config`
/// asks (its output format).
pub(crate) fn compile_in_subprocess(wasm: &[u8], config: &Config) -> Result<Vec<u8>, String> {
    let out_dir = std::env::temp_dir();
    let stem = format!(
        "mod_wasm-wasmedge-{}-{}",
        std::process::id(),
        unique_suffix()
    );
    let output = out_dir.join(format!("{stem}.so"));
    let error_file = out_dir.join(format!("{stem}.error"));
    let result =
        run_forked(|| compile(wasm, config, &stem, &out_dir, &error_file)).and_then(|()| {
            std::fs::read(&output).map_err(|e| format!("cannot read {}: {e}", output.display()))
        });
    let failure = std::fs::read_to_string(&error_file).ok();
    let _ = std::fs::remove_file(&output);
    let _ = std::fs::remove_file(&error_file);
    match (result, failure) {
        (Err(_), Some(reason)) => Err(reason),
        (result, _) => result,
    }
}

/// A module loaded from a library [`compile_in_subprocess`] produced.
pub(crate) struct Library {
    pub(crate) module: Module,
    /// The descriptor the dynamic loader opened the library through, open for as long as the
    /// module is used. The loader knows libraries by path and hands out the one it has for a
    /// path it has seen: `/proc/self/fd/N` must name no other library while this one is
    /// loaded, so N is not given back.
    _descriptor: File,
}

/// Loads a library [`compile_in_subprocess`] produced. WasmEdge hands a library's path to the
/// dynamic loader, which maps its code: from the cache file it is shared with every process
/// that loads the same file; bytes without a file get a file in memory, private to this process.
pub(crate) fn load_library(config: &Config, code: Code<'_>) -> Result<Library, String> {
    let file = match code {
        Code::File(file) => file,
        Code::Bytes(bytes) => file_in_memory(bytes)?,
    };
    let module =
        Module::from_file(Some(config), descriptor_path(&file)).map_err(|e| e.to_string())?;
    Ok(Library {
        module,
        _descriptor: file,
    })
}

fn file_in_memory(bytes: &[u8]) -> Result<File, String> {
    let error = |e: std::io::Error| format!("cannot hold the compiled library in memory: {e}");
    // SAFETY: the name is a NUL-terminated string; the returned descriptor is new and owned
    // by the `File` made from it below.
    let fd = unsafe { libc::memfd_create(c"mod_wasm-wasmedge".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(error(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a valid descriptor that nothing else owns.
    let mut file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    file.write_all(bytes).map_err(error)?;
    Ok(file)
}

/// The compilation itself, in the forked process: failures go to `error_file`.
fn compile(wasm: &[u8], config: &Config, stem: &str, out_dir: &Path, error_file: &PathBuf) -> bool {
    let outcome = Compiler::new(Some(config))
        .map_err(|e| format!("cannot create WasmEdge's compiler: {e}"))
        .and_then(|compiler| {
            compiler
                .compile_from_bytes(wasm, stem, out_dir)
                .map_err(|e| format!("ahead-of-time compilation failed: {e}"))
        });
    match outcome {
        Ok(_) => true,
        Err(reason) => {
            let _ = std::fs::write(error_file, reason);
            false
        }
    }
}

/// Runs `work` in a forked copy of this process and waits for it. The copy dies with this
/// process: nobody else would read what it compiles.
fn run_forked(work: impl FnOnce() -> bool) -> Result<(), String> {
    match runtime_api::forked::fork(work) {
        Err(e) => Err(format!("cannot fork the compiler process: {e}")),
        Ok(pid) => {
            let mut status = 0;
            loop {
                // SAFETY: waits for the child forked above.
                let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
                if waited == pid {
                    break;
                }
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("cannot wait for the compiler process: {error}"));
                }
            }
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else if libc::WIFSIGNALED(status) {
                Err(format!(
                    "the compiler process died of signal {}",
                    libc::WTERMSIG(status)
                ))
            } else {
                Err("the compiler process failed".into())
            }
        }
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
