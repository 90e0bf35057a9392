//! `SetHandler wasm-status`: the figures of the server's requests per runtime and per location,
//! for people (HTML) and for machines (`?format=json`, `?format=prometheus`); and mod_wasm's
//! section of mod_status's `/server-status`, when mod_status is loaded.

use crate::apache::{self, guard};
use crate::{ffi, process};
use mod_wasm_core::stats::{self, About, CacheState, ModuleState};
use mod_wasm_core::Level;
use std::ffi::{c_int, CStr};

pub const HANDLER_NAME: &CStr = c"wasm-status";

const OK: c_int = ffi::OK as c_int;

/// The forms of the figures a request can ask for.
enum Format {
    Html,
    Json,
    Prometheus,
}

impl Format {
    /// The form `query` asks for (`format=json`), HTML without one; `None` for an unknown one.
    fn of(query: &str) -> Option<Format> {
        let asked = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("format="));
        match asked {
            None | Some("html") => Some(Format::Html),
            Some("json") => Some(Format::Json),
            Some("prometheus") => Some(Format::Prometheus),
            Some(_) => None,
        }
    }
}

/// Answers a request for the status page: GET (and HEAD) only.
pub fn handle(r: &mut ffi::request_rec) -> c_int {
    r.allowed = 1 << ffi::M_GET;
    if r.method_number != ffi::M_GET as c_int {
        return ffi::HTTP_METHOD_NOT_ALLOWED as c_int;
    }
    // SAFETY: args is NULL or a string in the request pool.
    let query = unsafe { apache::owned_text(r.args) };
    let Some(format) = Format::of(&query) else {
        return ffi::HTTP_BAD_REQUEST as c_int;
    };
    let Some(statistics) = process::statistics() else {
        // SAFETY: r is the live request.
        unsafe {
            apache::log_request(
                r,
                Level::Error,
                "mod_wasm: no figures: their shared memory could not be mapped at start",
            )
        };
        return ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;
    };
    let snapshot = statistics.snapshot();
    let about = about();
    let (content_type, body) = match format {
        Format::Html => ("text/html; charset=utf-8", stats::html(&snapshot, &about)),
        Format::Json => ("application/json", stats::json(&snapshot, &about)),
        Format::Prometheus => (
            "text/plain; version=0.0.4; charset=utf-8",
            stats::prometheus(&snapshot, &about),
        ),
    };
    // SAFETY: the request is live; the content type is copied into its pool, the body written
    // through its output filters.
    unsafe {
        ffi::ap_set_content_type(r, apache::pool_str(r.pool, content_type));
        if r.header_only == 0 {
            ffi::ap_rwrite(body.as_ptr().cast(), body.len() as c_int, r);
        }
    }
    OK
}

/// The server as this process sees it: runtimes, modules, cache.
fn about() -> About {
    let registry = process::registry();
    let modules = process::modules();
    About {
        runtimes: registry
            .iter()
            .map(|runtime| (runtime.name().to_owned(), runtime.version()))
            .collect(),
        cache: modules.disk_cache().map(|cache| {
            let (entries, bytes) = cache.usage().unwrap_or((0, 0));
            CacheState {
                dir: cache.dir().display().to_string(),
                entries,
                bytes,
            }
        }),
        modules: modules
            .modules()
            .into_iter()
            .map(|(key, loaded_here)| ModuleState {
                module: key.path.display().to_string(),
                runtime: key.runtime.to_owned(),
                loaded_here,
            })
            .collect(),
    }
}

/// mod_status's hook: mod_wasm's section of `/server-status`.
///
/// # Safety
/// Called by mod_status with the live request.
pub unsafe extern "C" fn status_hook(r: *mut ffi::request_rec, flags: c_int) -> c_int {
    guard(OK, || {
        let Some(statistics) = process::statistics() else {
            return OK;
        };
        let snapshot = statistics.snapshot();
        let text = if flags & ffi::AP_STATUS_SHORT as c_int != 0 {
            // `?auto`: one `Key: value` line per figure.
            let requests: u64 = snapshot.locations.iter().map(|l| l.figures.requests).sum();
            format!("WasmRequests: {requests}\n")
        } else {
            format!(
                "<hr>\n<h1>mod_wasm</h1>\n{}",
                stats::html_tables(&snapshot, &about())
            )
        };
        // SAFETY: r is the live request mod_status is answering.
        unsafe { ffi::ap_rwrite(text.as_ptr().cast(), text.len() as c_int, r) };
        OK
    })
}
