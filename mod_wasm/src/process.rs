//! What lives as long as the process: the runtimes built in and the modules compiled and
//! loaded. The parent compiles while it reads the configuration; children inherit the compiled
//! modules across the fork and load them on first use. Runtimes are stateless factories, so
//! sharing them across the fork is harmless.

use mod_wasm_core::{Gateway, ModuleStore, OutputLimits};
use runtime_api::Registry;
use std::sync::OnceLock;

pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(builtin_runtimes::registry)
}

fn modules() -> &'static ModuleStore {
    static MODULES: OnceLock<ModuleStore> = OnceLock::new();
    MODULES.get_or_init(ModuleStore::new)
}

/// What serves requests, and checks configurations, in this process.
pub fn gateway() -> Gateway<'static> {
    Gateway {
        registry: registry(),
        modules: modules(),
        limits: OutputLimits::default(),
    }
}
