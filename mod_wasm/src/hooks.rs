//! The functions Apache calls outside request handling: per-directory configuration creation and
//! merging, hook registration, and the configuration check that compiles every module.

use crate::apache::{self, guard, Level};
use crate::config::SectionConfig;
use crate::modules::{Compiled, ModuleKey, Provenance};
use crate::{cache_dir, ffi, handler, runtimes};
use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::Mutex;
use std::time::Instant;

/// What the configuration check has to report that is not an error: which modules were
/// compiled or reused, and problems with the cache. Apache opens its error log after the check,
/// and drops such messages until then, so they wait here for `post_config`.
static REPORT: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

fn report(level: Level, message: String) {
    REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((level, message));
}

pub unsafe extern "C" fn create_dir_config(
    pool: *mut ffi::apr_pool_t,
    _dir: *mut c_char,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        apache::pool_owned(pool, SectionConfig::default()).cast()
    })
}

pub unsafe extern "C" fn merge_dir_config(
    pool: *mut ffi::apr_pool_t,
    outer: *mut c_void,
    inner: *mut c_void,
) -> *mut c_void {
    // On a panic, fall back to the inner section as it was written: a usable configuration.
    guard(inner, || {
        let (Some(outer), Some(inner)) = (
            (outer as *const SectionConfig).as_ref(),
            (inner as *const SectionConfig).as_ref(),
        ) else {
            return inner;
        };
        apache::pool_owned(pool, SectionConfig::merge(outer, inner)).cast()
    })
}

pub unsafe extern "C" fn register_hooks(_pool: *mut ffi::apr_pool_t) {
    guard((), || {
        let middle = ffi::APR_HOOK_MIDDLE as c_int;
        ffi::ap_hook_pre_config(Some(pre_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_check_config(Some(check_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_post_config(Some(post_config), ptr::null(), ptr::null(), middle);
        ffi::ap_hook_handler(Some(handler::handle), ptr::null(), ptr::null(), middle);
    })
}

/// A configuration that names a module, as some request will see it, with where it came from.
struct Usage {
    config: SectionConfig,
    server: *const ffi::server_rec,
}

/// Every effective configuration that can be read off the configuration tree without a
/// request: each server's defaults, and each `<Directory>`, `<Location>` and `<Files>` section
/// merged over them. Combinations that only arise per request (a `<Location>` over a
/// `<Directory>`) are compiled on first use instead.
unsafe fn usages(main: *mut ffi::server_rec) -> Vec<Usage> {
    let mut usages = Vec::new();
    let mut server = main;
    while let Some(s) = server.as_ref() {
        let defaults = apache::section_config(s.lookup_defaults)
            .cloned()
            .unwrap_or_default();
        let mut add = |config: SectionConfig| {
            if config.module.is_some() {
                usages.push(Usage { config, server: s });
            }
        };
        let files_in = |vector: *const ffi::ap_conf_vector_t| {
            apache::core_dir_config(vector)
                .map(|core| apache::conf_vectors(core.sec_file))
                .unwrap_or_default()
        };
        for file in files_in(s.lookup_defaults) {
            if let Some(section) = apache::section_config(file) {
                add(SectionConfig::merge(&defaults, section));
            }
        }
        let core = ffi::ap_get_module_config(s.module_config, ptr::addr_of!(ffi::core_module))
            as *const ffi::core_server_config;
        if let Some(core) = core.as_ref() {
            for dir in apache::conf_vectors(core.sec_dir) {
                let Some(section) = apache::section_config(dir) else {
                    continue;
                };
                let merged = SectionConfig::merge(&defaults, section);
                for file in files_in(dir) {
                    if let Some(file_section) = apache::section_config(file) {
                        add(SectionConfig::merge(&merged, file_section));
                    }
                }
                add(merged);
            }
            // `<Location>` sections nest by path, not in the configuration tree: a request for
            // a section's own path sees every literal section whose path contains it, merged
            // in configuration order (a `/app/admin` that sets only the module runs with the
            // runtime `/app` chose).
            let locations: Vec<(Option<String>, &SectionConfig)> =
                apache::conf_vectors(core.sec_url)
                    .into_iter()
                    .filter_map(|url| {
                        let section = apache::section_config(url)?;
                        let core = apache::core_dir_config(url)?;
                        let literal = (core.r.is_null())
                            .then(|| apache::text(core.d).map(|d| d.into_owned()))
                            .flatten()
                            .filter(|path| !path.contains(['*', '?', '[']));
                        Some((literal, section))
                    })
                    .collect();
            for (path, section) in &locations {
                let Some(path) = path else {
                    // A pattern: what else applies depends on the request.
                    add(SectionConfig::merge(&defaults, section));
                    continue;
                };
                let merged = locations
                    .iter()
                    .filter_map(|(outer, section)| {
                        outer
                            .as_deref()
                            .is_some_and(|outer| location_contains(outer, path))
                            .then_some(*section)
                    })
                    .fold(defaults.clone(), |merged, section| {
                        SectionConfig::merge(&merged, section)
                    });
                add(merged);
            }
        }
        add(defaults);
        server = s.next;
    }
    usages
}

/// Runs before each configuration read: server-wide settings start from their defaults.
unsafe extern "C" fn pre_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
) -> c_int {
    guard(ffi::OK as c_int, || {
        cache_dir::reset();
        REPORT.lock().unwrap_or_else(|e| e.into_inner()).clear();
        ffi::OK as c_int
    })
}

/// Runs once the error log is open: logs what the configuration check reported.
unsafe extern "C" fn post_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    main: *mut ffi::server_rec,
) -> c_int {
    guard(ffi::OK as c_int, || {
        let report = std::mem::take(&mut *REPORT.lock().unwrap_or_else(|e| e.into_inner()));
        for (level, message) in report {
            apache::log_server(main, level, false, &message);
        }
        ffi::OK as c_int
    })
}

/// Compiles every module the configuration names with the runtime that will run it, so that
/// a module that cannot run fails `apachectl -t` and the start, not the first request.
unsafe extern "C" fn check_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    main: *mut ffi::server_rec,
) -> c_int {
    let failed = ffi::HTTP_INTERNAL_SERVER_ERROR as c_int;
    guard(failed, || {
        let registry = runtimes::global();
        let compiled = Compiled::global();
        compiled.use_disk_cache(cache_dir::prepare(pconf).unwrap_or_else(|problem| {
            report(Level::Warning, problem);
            None
        }));
        let mut in_use: Vec<ModuleKey> = Vec::new();
        let mut ok = true;
        for usage in usages(main) {
            let Some(module) = &usage.config.module else {
                continue;
            };
            let runtime_name = usage.config.runtime_name();
            let runtime = match registry.get(runtime_name) {
                Ok(runtime) => runtime,
                Err(e) => {
                    // Only the default runtime can get here: WasmRuntime checks its argument.
                    apache::log_server(usage.server, Level::Error, true, &format!(
                        "mod_wasm: WasmModule {} in {}: no WasmRuntime applies, and the default: {e}",
                        module.value.display(), module.origin
                    ));
                    ok = false;
                    continue;
                }
            };
            if let Err(e) = usage.config.check_capabilities(runtime, registry) {
                apache::log_server(usage.server, Level::Error, true, &format!("mod_wasm: {e}"));
                ok = false;
                continue;
            }
            let key = ModuleKey {
                runtime: runtime.name(),
                path: module.value.clone(),
            };
            if in_use.contains(&key) {
                continue;
            }
            let started = Instant::now();
            match compiled.compile(&key, runtime) {
                Ok(obtained) => {
                    if let Some(problem) = obtained.cache_problem {
                        report(Level::Warning, format!("mod_wasm: {key}: {problem}"));
                    }
                    let what = match obtained.provenance {
                        Provenance::Compiled => "compiled",
                        Provenance::Reused => "reused the compiled",
                        Provenance::Cached => "loaded from the cache the compiled",
                    };
                    report(
                        Level::Info,
                        format!(
                            "mod_wasm: {what} {key} ({} ms)",
                            started.elapsed().as_millis()
                        ),
                    );
                    in_use.push(key);
                }
                Err(e) => {
                    apache::log_server(
                        usage.server,
                        Level::Error,
                        true,
                        &format!(
                            "mod_wasm: cannot use WasmModule {} in {}: {e}",
                            module.value.display(),
                            module.origin,
                        ),
                    );
                    ok = false;
                }
            }
        }
        compiled.retain(&in_use);
        if ok {
            ffi::OK as c_int
        } else {
            failed
        }
    })
}

/// Whether a literal `<Location outer>` applies to requests for `path`, as Apache 2.4 matches
/// it: a prefix that ends at a path segment boundary.
fn location_contains(outer: &str, path: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| outer.ends_with('/') || rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::location_contains;

    #[test]
    fn locations_contain_paths_at_segment_boundaries() {
        assert!(location_contains("/app", "/app"));
        assert!(location_contains("/app", "/app/admin"));
        assert!(location_contains("/app/", "/app/admin"));
        assert!(location_contains("/", "/anything"));
        assert!(!location_contains("/app", "/application"));
        assert!(!location_contains("/app/admin", "/app"));
    }
}
