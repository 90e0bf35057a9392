//! Reads Apache's configuration tree into the plain description the configuration check
//! works on: each server's defaults and its `<Directory>`, `<Files>` and `<Location>` sections.

use crate::apache;
use crate::ffi;
use mod_wasm_core::check::{DirectorySection, LocationSection, ServerSections};
use mod_wasm_core::SectionConfig;
use std::ptr;

/// The sections of the main server and of every virtual host, each named by its server record.
///
/// # Safety
/// `main` is the live main server record of the configuration just read, which outlives `'a`.
pub unsafe fn servers<'a>(
    main: *const ffi::server_rec,
) -> Vec<ServerSections<'a, *const ffi::server_rec>> {
    let mut servers = Vec::new();
    let mut server = main;
    // SAFETY: the server list and every configuration vector in it are live for the whole
    // configuration, as the caller promises; core's section arrays hold vectors of
    // configuration sections, which have mod_wasm's and core's per-directory entries.
    unsafe {
        while let Some(s) = server.as_ref() {
            if let Some(defaults) = apache::section_config(s.lookup_defaults) {
                let core =
                    ffi::ap_get_module_config(s.module_config, ptr::addr_of!(ffi::core_module))
                        as *const ffi::core_server_config;
                let (directories, locations) = match core.as_ref() {
                    Some(core) => (directories(core), locations(core)),
                    None => Default::default(),
                };
                servers.push(ServerSections {
                    server,
                    defaults,
                    files: files_in(s.lookup_defaults),
                    directories,
                    locations,
                });
            }
            server = s.next;
        }
    }
    servers
}

/// The `<Files>` sections of a configuration vector.
///
/// # Safety
/// `vector` is a live configuration vector that outlives `'a`.
unsafe fn files_in<'a>(vector: *const ffi::ap_conf_vector_t) -> Vec<&'a SectionConfig> {
    // SAFETY: as promised by the caller; sec_file holds section vectors.
    unsafe {
        apache::core_dir_config(vector)
            .map(|core| apache::conf_vectors(core.sec_file))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|file| apache::section_config(file))
            .collect()
    }
}

/// # Safety
/// `core` is a live core server configuration that outlives `'a`.
unsafe fn directories<'a>(core: &ffi::core_server_config) -> Vec<DirectorySection<'a>> {
    // SAFETY: as promised by the caller; sec_dir holds section vectors, whose core entries
    // name their directory as `sec_url`'s do their path.
    unsafe {
        apache::conf_vectors(core.sec_dir)
            .into_iter()
            .filter_map(|dir| {
                Some(DirectorySection {
                    path: literal_path(dir),
                    config: apache::section_config(dir)?,
                    files: files_in(dir),
                })
            })
            .collect()
    }
}

/// # Safety
/// `core` is a live core server configuration that outlives `'a`.
unsafe fn locations<'a>(core: &ffi::core_server_config) -> Vec<LocationSection<'a>> {
    // SAFETY: as promised by the caller; sec_url holds section vectors, and a section's core
    // entry names its path (`d`) and, for a regular expression, holds it (`r`).
    unsafe {
        apache::conf_vectors(core.sec_url)
            .into_iter()
            .filter_map(|url| {
                let config = apache::section_config(url)?;
                Some(LocationSection {
                    path: literal_path(url),
                    config,
                })
            })
            .collect()
    }
}

/// The path a `<Directory>` or `<Location>` section names, unless it is a pattern (a regular
/// expression, or wildcards), which matches per request.
///
/// # Safety
/// `section` is a live section vector.
unsafe fn literal_path(section: *const ffi::ap_conf_vector_t) -> Option<String> {
    // SAFETY: as promised by the caller; a section's core entry names its path (`d`) and, for
    // a regular expression, holds it (`r`).
    unsafe {
        let core = apache::core_dir_config(section)?;
        core.r
            .is_null()
            .then(|| apache::text(core.d).map(|d| d.into_owned()))
            .flatten()
            .filter(|path| !path.contains(['*', '?', '[']))
    }
}
