//! mod_wasm: an Apache httpd 2.4 module that answers requests with WebAssembly programs.
//!
//! This crate is the thin half that speaks Apache's C API: the module record, the command
//! table, the hooks, and the conversion of Apache's structures (`request_rec`, configuration
//! vectors) into the plain values of `mod_wasm_core`, which does the rest. Which runtimes
//! exist is decided by the `builtin-runtimes` crate's features.

mod apache;
mod directives;
mod hooks;
mod process;
mod request;
mod sections;
mod status;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unnecessary_transmutes,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
mod ffi {
    include!(concat!(env!("OUT_DIR"), "/apache.rs"));
}

/// The module record Apache looks up by name (`LoadModule wasm_module ...`).
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
    create_server_config: Some(hooks::create_server_config),
    merge_server_config: Some(hooks::merge_server_config),
    cmds: directives::COMMANDS.as_ptr(),
    register_hooks: Some(hooks::register_hooks),
    flags: 0,
};
