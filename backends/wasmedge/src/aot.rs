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
use std::path::Path;
use wasmedge_sdk::config::Config;
use wasmedge_sdk::{Compiler, Module};

/// Compiles `wasm` to a shared library of native code that embeds the module, as `config`
/// asks (its output format).
pub(crate) fn compile_in_subprocess(wasm: &[u8], config: &Config) -> Result<Vec<u8>, String> {
    runtime_api::forked::output(|| {
        let out_dir = std::env::temp_dir();
        let stem = format!("mod_wasm-wasmedge-{}", std::process::id());
        let output = out_dir.join(format!("{stem}.so"));
        let compiled = compile(wasm, config, &stem, &out_dir).and_then(|()| {
            std::fs::read(&output).map_err(|e| format!("cannot read {}: {e}", output.display()))
        });
        let _ = std::fs::remove_file(&output);
        compiled
    })
    .map_err(|failure| match failure {
        runtime_api::forked::Failure::Gave(reason) => reason,
        failure => format!("the compiler process failed: {failure}"),
    })
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
    let mut file = runtime_api::forked::file_in_memory(c"mod_wasm-wasmedge").map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    Ok(file)
}

/// The compilation itself, in the forked process.
fn compile(wasm: &[u8], config: &Config, stem: &str, out_dir: &Path) -> Result<(), String> {
    let compiler = Compiler::new(Some(config))
        .map_err(|e| format!("cannot create WasmEdge's compiler: {e}"))?;
    compiler
        .compile_from_bytes(wasm, stem, out_dir)
        .map(drop)
        .map_err(|e| format!("ahead-of-time compilation failed: {e}"))
}
