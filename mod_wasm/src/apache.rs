//! Small helpers over Apache's C API: strings, tables, pools, logging, configuration vectors,
//! and the guard that keeps panics from crossing into Apache.

use crate::ffi;
use mod_wasm_core::{Level, SectionConfig, ServerConfig};
use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Whether the configuration being read is a running server's again (it was signalled to
/// restart), rather than its start or a configuration test: Apache's configuration
/// generation counts the preflight read at a start as 0 and the real one as 1.
pub fn restarting() -> bool {
    // SAFETY: ap_state_query only reads the server's process state.
    let query = |code: u32| unsafe { ffi::ap_state_query(code as c_int) };
    query(ffi::AP_SQ_RUN_MODE) == ffi::AP_SQ_RM_NORMAL as c_int && query(ffi::AP_SQ_CONFIG_GEN) > 1
}

/// Whether Apache only tests its configuration (`apachectl -t`, `-S`, `-M`, `-D DUMP_…`), and
/// will exit without serving.
pub fn testing_configuration() -> bool {
    // SAFETY: ap_state_query only reads the server's process state.
    let mode = unsafe { ffi::ap_state_query(ffi::AP_SQ_RUN_MODE as c_int) };
    mode == ffi::AP_SQ_RM_CONFIG_TEST as c_int || mode == ffi::AP_SQ_RM_CONFIG_DUMP as c_int
}

/// Whether the MPM serves requests on threads (event, worker), rather than one per process
/// (prefork).
pub fn mpm_is_threaded() -> bool {
    let mut threaded: c_int = 0;
    // SAFETY: ap_mpm_query writes one int through the pointer it is given.
    let status = unsafe { ffi::ap_mpm_query(ffi::AP_MPMQ_IS_THREADED as c_int, &mut threaded) };
    status == ffi::APR_SUCCESS as c_int && threaded != ffi::AP_MPMQ_NOT_SUPPORTED as c_int
}

/// Runs `f`, turning a panic into `fallback` (the panic message has already gone to stderr,
/// which is Apache's error log). Every function Apache calls goes through this.
pub fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// A C string from Apache as text, invalid UTF-8 replaced; `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn text<'a>(p: *const c_char) -> Option<Cow<'a, str>> {
    // SAFETY: the caller promises a NUL-terminated string living for 'a when non-NULL.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy())
}

/// Like [`text`], owned, with NULL as the empty string.
///
/// # Safety
/// As for [`text`].
pub unsafe fn owned_text(p: *const c_char) -> String {
    // SAFETY: passed through from the caller.
    unsafe { text(p) }.map(Cow::into_owned).unwrap_or_default()
}

/// A NUL-terminated copy of `s` in `pool`. Interior NULs cannot be represented and end the
/// string, which is what C would see anyway.
///
/// # Safety
/// `pool` is a live APR pool.
pub unsafe fn pool_str(pool: *mut ffi::apr_pool_t, s: &str) -> *const c_char {
    let bytes = s.split('\0').next().unwrap_or("");
    // SAFETY: `pool` is live; apr_pstrmemdup copies `len` bytes from a valid slice.
    unsafe { ffi::apr_pstrmemdup(pool, bytes.as_ptr().cast(), bytes.len()) }
}

/// The entries of an APR table, in order.
///
/// # Safety
/// `table` is NULL or a live APR table.
pub unsafe fn table_entries(table: *const ffi::apr_table_t) -> Vec<(String, String)> {
    if table.is_null() {
        return Vec::new();
    }
    // SAFETY: a live table's array header describes `nelts` entries at `elts`, whose keys and
    // values are NULL or NUL-terminated strings in the table's pool.
    unsafe {
        let array = &*ffi::apr_table_elts(table);
        let entries = array.elts as *const ffi::apr_table_entry_t;
        (0..array.nelts.max(0) as usize)
            .map(|i| &*entries.add(i))
            .filter(|entry| !entry.key.is_null())
            .map(|entry| (owned_text(entry.key), owned_text(entry.val)))
            .collect()
    }
}

/// `apr_table_add`/`apr_table_set` with Rust strings; entries whose name or value contain NUL
/// are refused.
///
/// # Safety
/// `table` is a live APR table.
pub unsafe fn table_add(
    table: *mut ffi::apr_table_t,
    name: &str,
    value: &str,
    replace: bool,
) -> bool {
    let (Ok(name), Ok(value)) = (CString::new(name), CString::new(value)) else {
        return false;
    };
    // SAFETY: `table` is live; both functions copy key and value into the table's pool.
    unsafe {
        if replace {
            ffi::apr_table_set(table, name.as_ptr(), value.as_ptr());
        } else {
            ffi::apr_table_add(table, name.as_ptr(), value.as_ptr());
        }
    }
    true
}

// `brigade_append` relies on it.
const _: () = assert!(std::mem::offset_of!(ffi::apr_bucket, link) == 0);

/// Appends `bucket` to `brigade`, as APR's `APR_BRIGADE_INSERT_TAIL` macro does.
///
/// # Safety
/// `brigade` is a live brigade and `bucket` a live bucket in no brigade.
pub unsafe fn brigade_append(brigade: *mut ffi::apr_bucket_brigade, bucket: *mut ffi::apr_bucket) {
    // SAFETY: a brigade's list head stands for a bucket whose link is the head itself (APR's
    // ring sentinel), because a bucket's link is its first field; the four pointers are those
    // APR_RING_INSERT_TAIL sets.
    unsafe {
        let sentinel: *mut ffi::apr_bucket = std::ptr::addr_of_mut!((*brigade).list).cast();
        let last = (*brigade).list.prev;
        (*bucket).link.next = sentinel;
        (*bucket).link.prev = last;
        (*last).link.next = bucket;
        (*brigade).list.prev = bucket;
    }
}

/// Whether `brigade` holds the end of its stream (an EOS bucket), as a loop over its buckets
/// with APR's `APR_BUCKET_IS_EOS` finds out.
///
/// # Safety
/// `brigade` is a live brigade.
pub unsafe fn brigade_has_eos(brigade: *mut ffi::apr_bucket_brigade) -> bool {
    // SAFETY: the buckets of a live brigade form a ring through their links, closed by the
    // brigade's list head (the sentinel, see `brigade_append`); each bucket's type is a live
    // static of APR's.
    unsafe {
        let sentinel: *mut ffi::apr_bucket = std::ptr::addr_of_mut!((*brigade).list).cast();
        let mut bucket = (*brigade).list.next;
        while bucket != sentinel {
            if std::ptr::eq((*bucket).type_, &raw const ffi::apr_bucket_type_eos) {
                return true;
            }
            bucket = (*bucket).link.next;
        }
        false
    }
}

/// Moves `value` into memory owned by `pool`: it is dropped when the pool is cleared.
///
/// # Safety
/// `pool` is a live APR pool.
pub unsafe fn pool_owned<T>(pool: *mut ffi::apr_pool_t, value: T) -> *mut T {
    /// # Safety
    /// `data` is the pointer `pool_owned` registered, called once by the pool's cleanup.
    unsafe extern "C" fn drop_boxed<T>(data: *mut c_void) -> ffi::apr_status_t {
        // SAFETY: `data` came from Box::into_raw below and the pool runs a cleanup once.
        guard((), || drop(unsafe { Box::from_raw(data as *mut T) }));
        0
    }
    let ptr = Box::into_raw(Box::new(value));
    // SAFETY: `pool` is live; the cleanup frees `ptr` exactly once, when the pool is cleared.
    unsafe {
        ffi::apr_pool_cleanup_register(
            pool,
            ptr as *const c_void,
            Some(drop_boxed::<T>),
            Some(ffi::apr_pool_cleanup_null),
        );
    }
    ptr
}

fn severity(level: Level) -> c_int {
    (match level {
        Level::Error => ffi::APLOG_ERR,
        Level::Warning => ffi::APLOG_WARNING,
        Level::Notice => ffi::APLOG_NOTICE,
        Level::Info => ffi::APLOG_INFO,
    }) as c_int
}

fn module_index() -> c_int {
    // SAFETY: Apache writes module_index while loading the module, before any call that logs,
    // and never again.
    unsafe { (*std::ptr::addr_of!(crate::wasm_module)).module_index }
}

const SOURCE_FILE: &CStr = c"mod_wasm";

fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs `message` for a request (Apache adds the client address and request context).
///
/// # Safety
/// `r` is the live request.
pub unsafe fn log_request(r: *const ffi::request_rec, level: Level, message: &str) {
    let message = c_message(message);
    // SAFETY: `r` is live; the format takes exactly the one string passed.
    unsafe {
        ffi::ap_log_rerror_(
            SOURCE_FILE.as_ptr(),
            0,
            module_index(),
            severity(level),
            0,
            r,
            c"%s".as_ptr(),
            message.as_ptr(),
        );
    }
}

/// Logs `message` for a server; with `startup`, without the usual prefix, as Apache does for
/// configuration problems (these go to the console when Apache has no error log yet).
///
/// # Safety
/// `s` is NULL or a live server record.
pub unsafe fn log_server(s: *const ffi::server_rec, level: Level, startup: bool, message: &str) {
    let message = c_message(message);
    let flags = if startup {
        ffi::APLOG_STARTUP as c_int
    } else {
        0
    };
    // SAFETY: `s` is NULL or live; the format takes exactly the one string passed.
    unsafe {
        ffi::ap_log_error_(
            SOURCE_FILE.as_ptr(),
            0,
            module_index(),
            severity(level) | flags,
            0,
            s,
            c"%s".as_ptr(),
            message.as_ptr(),
        );
    }
}

/// This module's configuration of a section, in a per-directory configuration vector.
///
/// # Safety
/// `vector` is a live per-directory configuration vector, whose mod_wasm entry (if any) was
/// made by `create_dir_config` or `merge_dir_config`, and outlives `'a`.
pub unsafe fn section_config<'a>(
    vector: *const ffi::ap_conf_vector_t,
) -> Option<&'a SectionConfig> {
    // SAFETY: as promised by the caller; mod_wasm's entries are SectionConfigs.
    unsafe {
        let config = ffi::ap_get_module_config(vector, std::ptr::addr_of!(crate::wasm_module));
        (config as *const SectionConfig).as_ref()
    }
}

/// This module's configuration of a server.
///
/// # Safety
/// `server` is a live server record whose mod_wasm entry (if any) was made by
/// `create_server_config` or `merge_server_config`, and outlives `'a`.
pub unsafe fn server_config<'a>(server: *const ffi::server_rec) -> Option<&'a ServerConfig> {
    // SAFETY: as promised by the caller; mod_wasm's entries are ServerConfigs.
    unsafe {
        let vector = server.as_ref()?.module_config;
        let config = ffi::ap_get_module_config(vector, std::ptr::addr_of!(crate::wasm_module));
        (config as *const ServerConfig).as_ref()
    }
}

/// The core module's per-directory configuration in a configuration vector.
///
/// # Safety
/// `vector` is a live per-directory configuration vector that outlives `'a`.
pub unsafe fn core_dir_config<'a>(
    vector: *const ffi::ap_conf_vector_t,
) -> Option<&'a ffi::core_dir_config> {
    // SAFETY: as promised by the caller; the core module's entries are core_dir_configs.
    unsafe {
        let config = ffi::ap_get_module_config(vector, std::ptr::addr_of!(ffi::core_module));
        (config as *const ffi::core_dir_config).as_ref()
    }
}

/// The configuration vectors held by an APR array of `ap_conf_vector_t *` (core's section lists).
///
/// # Safety
/// `array` is NULL or a live array of configuration vectors.
pub unsafe fn conf_vectors(
    array: *const ffi::apr_array_header_t,
) -> Vec<*const ffi::ap_conf_vector_t> {
    // SAFETY: a live array of `nelts` vector pointers at `elts`.
    unsafe {
        let Some(array) = array.as_ref() else {
            return Vec::new();
        };
        let elts = array.elts as *const *const ffi::ap_conf_vector_t;
        (0..array.nelts.max(0) as usize)
            .map(|i| *elts.add(i))
            .collect()
    }
}
