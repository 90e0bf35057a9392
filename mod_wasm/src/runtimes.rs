//! The runtimes built into this mod_wasm: the list lives in the `builtin-runtimes` crate, whose
//! features this crate's features select.

use runtime_api::Registry;
use std::sync::OnceLock;

/// The process-wide registry. Runtimes are stateless factories, so sharing it across the fork is
/// harmless.
#[cfg_attr(test, allow(dead_code))]
pub fn global() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(builtin_runtimes::registry)
}
