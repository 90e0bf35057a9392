//! Generates bindings to Apache httpd's C API and makes the module stay loaded.
//!
//! Include directories come from `apxs` and `apr-1-config` (Debian: apache2-dev), or from
//! `APACHE_INCLUDE_DIR` / `APR_INCLUDE_DIR`.

use std::path::PathBuf;
use std::process::Command;

fn query(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| text.trim().to_owned())
}

fn include_dirs() -> Vec<String> {
    println!("cargo:rerun-if-env-changed=APACHE_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=APR_INCLUDE_DIR");
    let apache = std::env::var("APACHE_INCLUDE_DIR")
        .ok()
        .or_else(|| query("apxs", &["-q", "INCLUDEDIR"]))
        .or_else(|| query("apxs2", &["-q", "INCLUDEDIR"]))
        .unwrap_or_else(|| "/usr/include/apache2".to_owned());
    let apr = std::env::var("APR_INCLUDE_DIR")
        .ok()
        .or_else(|| query("apr-1-config", &["--includedir"]))
        .unwrap_or_else(|| "/usr/include/apr-1.0".to_owned());
    for dir in [&apache, &apr] {
        if !PathBuf::from(dir)
            .join(if dir == &apache { "httpd.h" } else { "apr.h" })
            .exists()
        {
            panic!(
                "Apache or APR headers not found in {dir}; install apache2-dev (Debian) or set \
                 APACHE_INCLUDE_DIR and APR_INCLUDE_DIR"
            );
        }
    }
    vec![apache, apr]
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(include_dirs().iter().map(|d| format!("-I{d}")))
        .clang_args(["-DLINUX", "-D_REENTRANT", "-D_GNU_SOURCE"])
        .allowlist_function("ap_.*|apr_.*")
        .allowlist_type("apr_table_entry_t|request_rec|module|command_rec|cmd_parms|core_dir_config|core_server_config|server_rec|conn_rec|unixd_config_rec|ap_regex_t|ap_regmatch_t")
        .allowlist_var("core_module|MODULE_MAGIC_.*|APR_HOOK_.*|OK|DECLINED|DONE|HTTP_.*|M_GET|APLOG_.*|RSRC_CONF|ACCESS_CONF|OR_.*|REQUEST_CHUNKED_.*|REMOTE_HOST|AP_FILTER_ERROR|APR_SUCCESS|HUGE_STRING_LEN|NOT_IN_VIRTUALHOST|ap_unixd_config|AP_REG_EXTENDED|AP_SQ_.*|AP_MPMQ_.*|AP_STATUS_.*|M_GET|HTTP_BAD_REQUEST|apr_bucket_type_eos")
        .rustified_enum("cmd_how")
        .layout_tests(false)
        .generate_comments(false)
        .derive_debug(false)
        .derive_default(false);
    // Keep the bindings to what the headers declare for this platform.
    builder = builder.size_t_is_usize(true);
    let bindings = builder.generate().expect("generating Apache bindings");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("apache.rs");
    bindings
        .write_to_file(out)
        .expect("writing Apache bindings");

    // Apache unloads and reloads DSO modules between its two configuration passes and on every
    // restart. Engines install process-wide signal handlers pointing into this library, so it
    // must never actually be unmapped.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
