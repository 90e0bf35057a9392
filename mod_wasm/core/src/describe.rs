//! What `apachectl -t -D DUMP_WASM_RUNTIMES` prints: the runtimes this mod_wasm was built with
//! and what each offers, and the runtimes it knows but was built without. Admins read it to
//! learn what their build can do; the test suite and the scripts read it to learn what the
//! build under test has, instead of keeping a list of their own.
//!
//! One line per runtime, after a heading:
//!
//! ```text
//! WebAssembly runtimes:
//!  alpha (built in, default): version: Alpha 1.0; extensions: none; outbound sockets: none; components: no; compiled code cached: no
//!  beta (built in): version: Beta 2.1; extensions: beta-abi; outbound sockets: beta-abi; components: WASI 0.2 and 0.3; compiled code cached: yes (mapped by children)
//!  gamma (left out: cargo feature gamma)
//! ```

use runtime_api::{Capability, Registry};
use std::fmt::Write;

pub const HEADING: &str = "WebAssembly runtimes:";

/// What a runtime with [`Capability::Components`] runs of them: the WASI releases.
const COMPONENTS: &str = "WASI 0.2 and 0.3";

pub fn describe_runtimes(registry: &Registry) -> String {
    let mut text = format!("{HEADING}\n");
    let default = registry.default_runtime().map(|r| r.name());
    for runtime in registry.iter() {
        let capabilities = runtime.capabilities();
        let extensions: Vec<&str> = capabilities.extensions().iter().map(|a| a.name()).collect();
        let status = if Some(runtime.name()) == default {
            "built in, default"
        } else {
            "built in"
        };
        let _ = writeln!(
            text,
            " {} ({status}): version: {}; extensions: {}; outbound sockets: {}; components: {}; compiled code cached: {}",
            runtime.name(),
            runtime.version(),
            if extensions.is_empty() { "none".to_owned() } else { extensions.join(" ") },
            capabilities.socket_abi().map_or("none", |abi| abi.name()),
            if capabilities.has(Capability::Components) { COMPONENTS } else { "no" },
            match (runtime.artifact_key(), runtime.maps_cached_code()) {
                (None, _) => "no",
                (Some(_), true) => "yes (mapped by children)",
                (Some(_), false) => "yes (copied into each child)",
            },
        );
    }
    for (name, feature) in registry.left_out() {
        let _ = writeln!(text, " {name} (left out: cargo feature {feature})");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeRuntime;
    use runtime_api::{Abi, Capabilities};

    #[test]
    fn each_runtime_is_one_line() {
        let abi = Abi::new("beta-abi");
        let mut registry = Registry::new();
        registry
            .register(FakeRuntime::new("alpha"))
            .register(
                FakeRuntime::new("beta")
                    .with_capabilities(
                        Capabilities::none()
                            .with_outbound_sockets(abi)
                            .with_components(),
                    )
                    .with_artifact_key("v1"),
            )
            .leave_out("gamma", "gamma");
        assert_eq!(
            describe_runtimes(&registry),
            "WebAssembly runtimes:\n\
             \x20alpha (built in, default): version: Fake alpha 1.0; extensions: none; outbound sockets: none; components: no; compiled code cached: no\n\
             \x20beta (built in): version: Fake beta 1.0; extensions: beta-abi; outbound sockets: beta-abi; components: WASI 0.2 and 0.3; compiled code cached: yes (copied into each child)\n\
             \x20gamma (left out: cargo feature gamma)\n"
        );
    }
}
