//! The functions Apache calls outside request handling: configuration creation and merging,
//! hook registration, the configuration check that compiles every module, and the runtime
//! listing of `apachectl -t -D DUMP_WASM_RUNTIMES`.

use crate::apache::{self, guard};
use crate::{ffi, process, request, sections};
use mod_wasm_core::check::{Compiling, ConfigRead};
use mod_wasm_core::describe::describe_runtimes;
use mod_wasm_core::server::Compile;
use mod_wasm_core::{Level, SectionConfig, ServerConfig};
use runtime_api::sync::lock;
use runtime_api::RunAs;
use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::path::PathBuf;
use std::ptr;
use std::sync::Mutex;

const OK: c_int = ffi::OK as c_int;

/// What the configuration check has to report that is not an error: which modules were
/// compiled or reused, and problems with the cache. Apache opens its error log after the check,
/// and drops such messages until then, so they wait here for `post_config`.
static REPORT: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

fn report() -> std::sync::MutexGuard<'static, Vec<(Level, String)>> {
    lock(&REPORT)
}

/// # Safety
/// Called by Apache with a live pool.
pub unsafe extern "C" fn create_dir_config(
    pool: *mut ffi::apr_pool_t,
    _dir: *mut c_char,
) -> *mut c_void {
    // SAFETY: `pool` is live and owns the configuration it lives in.
    guard(ptr::null_mut(), || unsafe {
        apache::pool_owned(pool, SectionConfig::default()).cast()
    })
}

/// # Safety
/// Called by Apache with a live pool and two configurations made by this module.
pub unsafe extern "C" fn merge_dir_config(
    pool: *mut ffi::apr_pool_t,
    outer: *mut c_void,
    inner: *mut c_void,
) -> *mut c_void {
    // On a panic, fall back to the inner section as it was written: a usable configuration.
    guard(inner, || {
        // SAFETY: both are SectionConfigs made by create_dir_config or merge_dir_config, alive
        // for at least as long as `pool`.
        let configs = unsafe {
            (
                (outer as *const SectionConfig).as_ref(),
                (inner as *const SectionConfig).as_ref(),
            )
        };
        let (Some(outer), Some(inner)) = configs else {
            return inner;
        };
        // SAFETY: `pool` is live.
        unsafe { apache::pool_owned(pool, SectionConfig::merge(outer, inner)).cast() }
    })
}

/// # Safety
/// Called by Apache with a live pool.
pub unsafe extern "C" fn create_server_config(
    pool: *mut ffi::apr_pool_t,
    _server: *mut ffi::server_rec,
) -> *mut c_void {
    // SAFETY: `pool` is live and owns the configuration it lives in.
    guard(ptr::null_mut(), || unsafe {
        apache::pool_owned(pool, ServerConfig::default()).cast()
    })
}

/// # Safety
/// Called by Apache with a live pool and two configurations made by this module.
pub unsafe extern "C" fn merge_server_config(
    pool: *mut ffi::apr_pool_t,
    main: *mut c_void,
    virtual_host: *mut c_void,
) -> *mut c_void {
    guard(virtual_host, || {
        // SAFETY: both are ServerConfigs made by create_server_config, alive with `pool`.
        let configs = unsafe {
            (
                (main as *const ServerConfig).as_ref(),
                (virtual_host as *const ServerConfig).as_ref(),
            )
        };
        let (Some(main), Some(virtual_host)) = configs else {
            return virtual_host;
        };
        // SAFETY: `pool` is live.
        unsafe { apache::pool_owned(pool, ServerConfig::merge(main, virtual_host)).cast() }
    })
}

/// # Safety
/// Called by Apache while it loads the module.
pub unsafe extern "C" fn register_hooks(_pool: *mut ffi::apr_pool_t) {
    let middle = ffi::APR_HOOK_MIDDLE as c_int;
    // SAFETY: registering hooks with functions of the right signatures, while Apache loads
    // modules.
    guard((), || unsafe {
        ffi::ap_hook_pre_config(Some(pre_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_check_config(Some(check_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_test_config(Some(test_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_post_config(Some(post_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_handler(Some(request::handle), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_child_stopping(Some(child_stopping), ptr::null(), ptr::null(), middle);
        // mod_status's optional hook: called if mod_status is loaded, ignored otherwise.
        let status_hook: unsafe extern "C" fn(*mut ffi::request_rec, c_int) -> c_int =
            crate::status::status_hook;
        ffi::apr_optional_hook_add(
            c"status_hook".as_ptr(),
            // SAFETY: APR keeps hooks as plain function pointers and mod_status calls this one
            // with its own signature, as APR_OPTIONAL_HOOK casts it.
            Some(std::mem::transmute::<
                unsafe extern "C" fn(*mut ffi::request_rec, c_int) -> c_int,
                unsafe extern "C" fn(),
            >(status_hook)),
            ptr::null(),
            ptr::null(),
            middle,
        );
    })
}

/// Apache is stopping this child. Stopping without waiting for requests (`apachectl stop`, a
/// restart that is not graceful), a threaded MPM closes the connections and then waits for its
/// worker threads: the guests they run are ended now rather than at their time limits.
/// Stopping gracefully, requests in progress are served to their end.
///
/// prefork calls this from its signal handler, right before the process exits and its guest
/// with it: there is nothing to end there, and little that is safe to do in a signal handler.
///
/// # Safety
/// Called by Apache.
unsafe extern "C" fn child_stopping(_pool: *mut ffi::apr_pool_t, graceful: c_int) {
    guard((), || {
        if graceful == 0 && apache::mpm_is_threaded() {
            process::registry().stop_runs();
        }
    })
}

/// Runs before each configuration read: the previous read's report is dropped.
///
/// # Safety
/// Called by Apache.
unsafe extern "C" fn pre_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
) -> c_int {
    guard(OK, || {
        report().clear();
        OK
    })
}

/// Compiles every module the configuration names with the runtime that will run it, so that
/// a module that cannot run fails `apachectl -t` and the start, not the first request; under
/// `WasmCompile background`, what the cache lacks is left to a process of its own.
///
/// # Safety
/// Called by Apache with the live configuration pool and main server.
unsafe extern "C" fn check_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    main: *mut ffi::server_rec,
) -> c_int {
    let failed = ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;
    guard(failed, || {
        let gateway = process::gateway();
        // SAFETY: `main` is the live main server of the configuration just read.
        let (cache_dir, compile) = unsafe { apache::server_config(main) }
            .map(|config| (config.cache_dir.clone(), config.compile))
            .unwrap_or_default();
        let compiling = match compile {
            Compile::Start => Compiling::Now,
            Compile::Background if apache::testing_configuration() => Compiling::Later,
            Compile::Background => Compiling::InBackground,
        };
        // SAFETY: `pconf` is live; Apache has read `User` into ap_unixd_config by now.
        let (default_dir, group) = unsafe { (default_cache_dir(pconf), children_group()) };
        let cache = cache_dir
            .prepare(|| default_dir, group)
            .unwrap_or_else(|problem| {
                report().push((Level::Warning, problem));
                None
            });
        gateway.modules.use_disk_cache(cache);
        // SAFETY: as above.
        gateway.modules.run_inits_as(unsafe { children_user() });
        // SAFETY: as above; the sections live as long as the configuration.
        let servers = unsafe { sections::servers(main) };
        let read = if apache::restarting() {
            ConfigRead::Restart
        } else {
            ConfigRead::Start
        };
        // Said at once, on the console of `apachectl -t` and of a start (the error log is not
        // open yet): a compilation can keep the check busy for minutes.
        let outcome = gateway.check_compiling(&servers, read, compiling, &mut |level, message| {
            // SAFETY: `main` is the live main server.
            unsafe { apache::log_server(main, level, true, message) }
        });
        for (server, error) in &outcome.errors {
            // SAFETY: `server` is one of the configuration's live server records.
            unsafe { apache::log_server(*server, Level::Error, true, error) };
        }
        report().extend(outcome.notes);
        if outcome.errors.is_empty() {
            OK
        } else {
            failed
        }
    })
}

/// Where the cache goes without `WasmCacheDir`: under Apache's runtime directory.
///
/// # Safety
/// `pconf` is the live configuration pool.
unsafe fn default_cache_dir(pconf: *mut ffi::apr_pool_t) -> Option<PathBuf> {
    let name = mod_wasm_core::server::DEFAULT_CACHE_DIR_NAME;
    // SAFETY: `pconf` is live; the result is NULL or a string in it.
    unsafe {
        let path = ffi::ap_runtime_dir_relative(pconf, name.as_ptr());
        apache::text(path).map(|p| PathBuf::from(p.into_owned()))
    }
}

/// The group Apache's children run as, when Apache starts as root and so will switch to it.
///
/// # Safety
/// Apache has read its `Group` directive (any time after the configuration is read).
unsafe fn children_group() -> Option<u32> {
    // SAFETY: geteuid has no preconditions; ap_unixd_config is filled by then, as promised.
    unsafe { (libc::geteuid() == 0).then(|| (*ptr::addr_of!(ffi::ap_unixd_config)).group_id) }
}

/// The user and group Apache's children serve as, when Apache starts as root and so will
/// switch to them: what a module's init (`WasmPreinit`) runs as.
///
/// # Safety
/// Apache has read its `User` and `Group` directives (any time after the configuration is
/// read).
unsafe fn children_user() -> Option<RunAs> {
    // SAFETY: geteuid has no preconditions; ap_unixd_config is filled by then, as promised.
    unsafe {
        (libc::geteuid() == 0).then(|| {
            let config = &*ptr::addr_of!(ffi::ap_unixd_config);
            RunAs {
                uid: config.user_id,
                gid: config.group_id,
            }
        })
    }
}

/// With `apachectl -t -D DUMP_WASM_RUNTIMES`, lists the runtimes built in, as Apache's own
/// `DUMP_MODULES` lists modules.
///
/// # Safety
/// Called by Apache.
unsafe extern "C" fn test_config(_pconf: *mut ffi::apr_pool_t, _main: *mut ffi::server_rec) {
    guard((), || {
        // SAFETY: Apache's defines are set before the configuration is read.
        if unsafe { ffi::ap_exists_config_define(c"DUMP_WASM_RUNTIMES".as_ptr()) } != 0 {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(describe_runtimes(process::registry()).as_bytes());
            let _ = stdout.flush();
        }
    })
}

/// Runs once the error log is open: logs what the configuration check reported.
///
/// # Safety
/// Called by Apache with the live main server.
unsafe extern "C" fn post_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    main: *mut ffi::server_rec,
) -> c_int {
    guard(OK, || {
        let notes = std::mem::take(&mut *report());
        for (level, message) in notes {
            // SAFETY: `main` is live.
            unsafe { apache::log_server(main, level, false, &message) };
        }
        OK
    })
}
