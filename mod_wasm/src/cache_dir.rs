//! `WasmCacheDir`: where compiled modules are kept between server starts.
//!
//! A server-wide setting, like `DefaultRuntimeDir`: one value per configuration read, reset
//! before each read so a directive removed from the configuration stops applying at the next
//! restart.

use crate::apache;
use crate::config::CacheDirSetting;
use crate::ffi;
use runtime_api::ArtifactCache;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The default cache directory, relative to Apache's runtime directory (`DefaultRuntimeDir`).
const DEFAULT_NAME: &std::ffi::CStr = c"mod_wasm-cache";

static SETTING: Mutex<CacheDirSetting> = Mutex::new(CacheDirSetting::Default);

fn setting() -> std::sync::MutexGuard<'static, CacheDirSetting> {
    SETTING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records the `WasmCacheDir` of the configuration being read.
pub fn set(value: CacheDirSetting) {
    *setting() = value;
}

/// Forgets the previous configuration's `WasmCacheDir`, before a configuration is read.
pub fn reset() {
    set(CacheDirSetting::Default);
}

/// The cache the configuration asks for, with its directory created and owned by the user the
/// children run as (they write entries for modules compiled on first request). A directory that
/// cannot be prepared is a problem to report as a warning: modules are then compiled without a
/// cache.
///
/// # Safety
/// `pconf` is the live configuration pool.
pub unsafe fn prepare(pconf: *mut ffi::apr_pool_t) -> Result<Option<ArtifactCache>, String> {
    let dir = match &*setting() {
        CacheDirSetting::Off => return Ok(None),
        CacheDirSetting::Dir(dir) => dir.clone(),
        CacheDirSetting::Default => {
            let path = ffi::ap_runtime_dir_relative(pconf, DEFAULT_NAME.as_ptr());
            match apache::text(path) {
                Some(path) => PathBuf::from(path.into_owned()),
                None => return Err("mod_wasm: no runtime directory for WasmCacheDir's default; compiled modules are not cached".into()),
            }
        }
    };
    create_owned_by_server_user(&dir)
        .map(|()| Some(ArtifactCache::new(&dir)))
        .map_err(|e| {
            format!(
                "mod_wasm: WasmCacheDir {}: {e}; compiled modules are not cached",
                dir.display()
            )
        })
}

/// Creates `dir` if needed. A directory created here is private to the server: mode 0700,
/// owned by the user the children run as when Apache starts as root. An existing directory
/// keeps the owner and mode the admin gave it.
fn create_owned_by_server_user(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.is_dir() {
        // Parents as any directory, the cache itself private.
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::DirBuilder::new().mode(0o700).create(dir)?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // SAFETY: Apache has read `User` into ap_unixd_config before the configuration check.
            let user = unsafe { (*std::ptr::addr_of!(ffi::ap_unixd_config)).user_id };
            std::os::unix::fs::chown(dir, Some(user), None)?;
        }
    }
    // Fail now, with the reason, rather than at the first entry.
    let probe = dir.join(".writable");
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}
