//! The runtimes built into this mod_wasm.
//!
//! Adding a runtime takes a backend crate, a cargo feature of this crate named after the
//! runtime, and one line in the list below. A runtime whose feature is off is still known by
//! name, so asking for it says how to build it in.

use runtime_api::Registry;
use std::sync::OnceLock;

macro_rules! runtimes {
    ($($feature:literal => $runtime:expr),* $(,)?) => {
        /// A registry holding every runtime this build was compiled with.
        pub fn registry() -> Registry {
            let mut registry = Registry::new();
            $(
                #[cfg(feature = $feature)]
                registry.register($runtime);
                #[cfg(not(feature = $feature))]
                registry.left_out($feature);
            )*
            registry
        }
    };
}

runtimes! {
    "wasmtime" => wasmtime_backend::Wasmtime,
    "wasmer" => wasmer_backend::Wasmer,
}

/// The process-wide registry. Runtimes are stateless factories, so sharing it across the fork is
/// harmless.
#[cfg_attr(test, allow(dead_code))]
pub fn global() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(registry)
}
