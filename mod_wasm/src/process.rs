//! What lives as long as the process: the runtimes built in, the modules compiled and
//! loaded, and the figures of the requests served. The parent compiles while it reads the configuration; children inherit the compiled
//! modules across the fork and load them on first use. Runtimes are stateless factories, so
//! sharing them across the fork is harmless.

use mod_wasm_core::stats::Statistics;
use mod_wasm_core::{Gateway, ModuleStore, STDERR_LOGGED};
use runtime_api::Registry;
use std::sync::OnceLock;

pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(builtin_runtimes::registry)
}

/// The figures of this server, in memory shared with its children. Mapped the first time the
/// parent checks its configuration, before it forks, and kept for its life; `None` if it could
/// not be mapped (requests are then not counted).
pub fn statistics() -> Option<&'static Statistics> {
    static STATISTICS: OnceLock<Option<Statistics>> = OnceLock::new();
    STATISTICS.get_or_init(|| Statistics::new().ok()).as_ref()
}

pub fn modules() -> &'static ModuleStore {
    static MODULES: OnceLock<ModuleStore> = OnceLock::new();
    MODULES.get_or_init(|| ModuleStore::new().with_preinitializer(registry().preinitializer()))
}

/// What serves requests, and checks configurations, in this process.
pub fn gateway() -> Gateway<'static> {
    Gateway {
        registry: registry(),
        modules: modules(),
        stderr_logged: STDERR_LOGGED,
        stats: statistics(),
    }
}
