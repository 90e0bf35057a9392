//! The runtimes built into mod_wasm: the one place that names them. The Apache module and the
//! benchmark build their registry here; the test suite and the scripts ask the built module
//! (`apachectl -t -D DUMP_WASM_RUNTIMES`). Pre-initialisation (`WasmPreinit`) is wasmtime's,
//! for modules any runtime then runs.
//!
//! A runtime is a crate under `backends/` and two lines in this crate: its optional dependency
//! in `Cargo.toml`, named after the cargo feature that builds it in, and its line in the list
//! below (`"name" => runtime`, or `"name" in "feature" => runtime` when one feature builds in
//! several runtimes). A runtime whose feature is off is still known by name, so asking for it
//! says how to build it in. The first runtime built in is the default.

use runtime_api::Registry;

macro_rules! runtimes {
    (@register $registry:ident;) => {};
    (@register $registry:ident; $name:literal in $feature:literal => $runtime:expr $(, $($rest:tt)*)?) => {
        #[cfg(feature = $feature)]
        {
            let runtime = $runtime;
            debug_assert_eq!(runtime_api::Runtime::name(&runtime), $name);
            $registry.register(runtime);
        }
        #[cfg(not(feature = $feature))]
        $registry.leave_out($name, $feature);
        runtimes!(@register $registry; $($($rest)*)?);
    };
    (@register $registry:ident; $name:literal => $runtime:expr $(, $($rest:tt)*)?) => {
        runtimes!(@register $registry; $name in $name => $runtime $(, $($rest)*)?);
    };
    ($($entries:tt)*) => {
        /// A registry holding every runtime this build was compiled with, in the order below.
        pub fn registry() -> Registry {
            let mut registry = Registry::new();
            runtimes!(@register registry; $($entries)*);
            preinitializer(&mut registry);
            registry
        }
    };
}

runtimes! {
    "wasmtime" => wasmtime::Wasmtime,
    "wasmer" => wasmer::Wasmer,
    "wasmedge" => wasmedge::WasmEdge::AHEAD_OF_TIME,
    "wasmedge-interpreter" in "wasmedge" => wasmedge::WasmEdge::INTERPRETER,
}

/// `WasmPreinit` snapshots modules with wasmtime's Wizer, when wasmtime is built in; the
/// snapshots are plain modules, which every runtime runs.
fn preinitializer(registry: &mut Registry) {
    #[cfg(feature = "wasmtime")]
    registry.preinitialize_with(wasmtime::Preinitializer);
    #[cfg(not(feature = "wasmtime"))]
    let _ = registry;
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_runtime_is_named_once_built_in_or_left_out() {
        let registry = super::registry();
        let mut names: Vec<&str> = registry.names();
        names.extend(registry.left_out().map(|(name, _)| name));
        let listed = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), listed, "a runtime is listed twice: {names:?}");
        let default = registry.default_runtime().map(|r| r.name());
        assert_eq!(default, registry.names().first().copied());
    }
}
