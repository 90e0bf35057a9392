//! The runtimes built into mod_wasm, shared by the Apache module and the benchmark so both
//! see the same list.
//!
//! Adding a runtime takes a backend crate, a cargo feature of this crate named after the
//! runtime (forwarded by mod_wasm's feature of the same name), and one line in the list below
//! (`"name" => runtime`, or `"name" in "feature" => runtime` when one feature builds in several
//! runtimes). A runtime whose feature is off is still known by name, so asking for it says how
//! to build it in.

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
        $registry.left_out($name, $feature);
        runtimes!(@register $registry; $($($rest)*)?);
    };
    (@register $registry:ident; $name:literal => $runtime:expr $(, $($rest:tt)*)?) => {
        runtimes!(@register $registry; $name in $name => $runtime $(, $($rest)*)?);
    };
    ($($entries:tt)*) => {
        /// A registry holding every runtime this build was compiled with.
        pub fn registry() -> Registry {
            let mut registry = Registry::new();
            runtimes!(@register registry; $($entries)*);
            registry
        }
    };
}

runtimes! {
    "wasmtime" => wasmtime_backend::Wasmtime,
    "wasmer" => wasmer_backend::Wasmer,
    "wasmedge" => wasmedge_backend::WasmEdge::AHEAD_OF_TIME,
    "wasmedge-interpreter" in "wasmedge" => wasmedge_backend::WasmEdge::INTERPRETER,
}
