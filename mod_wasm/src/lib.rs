//! mod_wasm: an Apache httpd 2.4 module that answers requests with WebAssembly programs.
//!
//! This crate is the Apache glue only: directives ([`directives`]), per-section configuration
//! and its merge ([`config`]), the configuration check that compiles modules, and the request
//! handler. Engines are reached through `runtime_api`; which ones exist is decided by cargo
//! features in [`runtimes`].

mod config;
mod runtimes;

// The Apache-facing half needs Apache's symbols, which only exist inside httpd: unit tests
// build without it.
#[cfg(not(test))]
mod apache;
#[cfg(not(test))]
mod cache_dir;
#[cfg(not(test))]
mod directives;
#[cfg(not(test))]
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unnecessary_transmutes,
    clippy::all
)]
mod ffi {
    include!(concat!(env!("OUT_DIR"), "/apache.rs"));
}
#[cfg(not(test))]
mod handler;
#[cfg(not(test))]
mod hooks;
#[cfg(not(test))]
mod modules;

/// The module record Apache looks up by name (`LoadModule wasm_module ...`).
#[cfg(not(test))]
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut wasm_module: ffi::module = ffi::module {
    version: ffi::MODULE_MAGIC_NUMBER_MAJOR as _,
    minor_version: ffi::MODULE_MAGIC_NUMBER_MINOR as _,
    module_index: -1,
    name: c"mod_wasm.c".as_ptr(),
    dynamic_load_handle: std::ptr::null_mut(),
    next: std::ptr::null_mut(),
    magic: ffi::MODULE_MAGIC_COOKIE as _,
    rewrite_args: None,
    create_dir_config: Some(hooks::create_dir_config),
    merge_dir_config: Some(hooks::merge_dir_config),
    create_server_config: None,
    merge_server_config: None,
    cmds: directives::COMMANDS.as_ptr(),
    register_hooks: Some(hooks::register_hooks),
    flags: 0,
};
