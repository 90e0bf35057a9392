//! Outbound connections a guest may open: `WasmAllowConnect host:port …`.
//!
//! Nothing granted means no connection at all. Merge: grants accumulate; an inner section
//! cannot take away what an outer one grants (as with `WasmDir`, grant in the narrowest section
//! that needs it). A core module opens them as sockets, under runtimes with
//! [`Capability::OutboundSockets`]; a WASI 0.2 component opens them through `wasi:sockets` and
//! sends HTTP requests to them (`host:port` as its URLs write them), under runtimes with
//! [`Capability::Components`]. A location that
//! grants connections its runtime cannot give is refused when the configuration is checked,
//! and at request time for combinations the check cannot see. The runtimes enforce
//! the grants per run and report what they refused, which the serve pipeline logs.

use super::Setting;
use crate::config_error::Unsupported;
use crate::directive::{Applies, Args, Directive};
use crate::origin::Declared;
use runtime_api::{
    Capability, ConnectGrant, ConnectGrants, ExecutionConfig, ProgramKind, Registry, Runtime,
};

/// The connections a section grants, each with the directive that made it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connections(pub Vec<Declared<ConnectGrant>>);

pub const WASM_ALLOW_CONNECT: Directive = Directive {
    name: c"WasmAllowConnect",
    help: c"Grants the module outbound TCP connections: WasmAllowConnect host:port [host:port] ...",
    applies: Applies::ToSection(Args::Each(|config, site, grant| {
        let grant = ConnectGrant::parse(grant)?;
        config.connect.add(Declared {
            value: grant,
            origin: site.origin(),
        });
        Ok(())
    })),
};

impl Connections {
    /// Whether `runtime` can grant these connections to a program of `kind`: a core module
    /// opens them through sockets ([`Capability::OutboundSockets`]), a component through
    /// `wasi:sockets` and `wasi:http` ([`Capability::Components`]). The message names the directive, where
    /// it was written, and the runtimes that could.
    pub fn check_for(
        &self,
        kind: ProgramKind,
        runtime: &dyn Runtime,
        registry: &Registry,
    ) -> Result<(), Box<Unsupported>> {
        let Some(grant) = self.0.first() else {
            return Ok(());
        };
        let (capability, how) = if kind.is_component() {
            (
                Capability::Components,
                "open connections or send HTTP requests",
            )
        } else {
            (Capability::OutboundSockets, "open connections")
        };
        if runtime.capabilities().has(capability) {
            return Ok(());
        }
        Err(Unsupported::new(
            "WasmAllowConnect",
            grant,
            &grant.value,
            runtime,
            registry,
            capability,
            format!("runtime {} cannot {how} ({capability})", runtime.name()),
        ))
    }

    /// Adds `grant` unless the same grant is already there (where it was first written is
    /// kept, for messages).
    fn add(&mut self, grant: Declared<ConnectGrant>) {
        if !self.0.iter().any(|existing| existing.value == grant.value) {
            self.0.push(grant);
        }
    }
}

impl Setting for Connections {
    fn merge(outer: &Self, inner: &Self) -> Self {
        let mut merged = outer.clone();
        for grant in &inner.0 {
            merged.add(grant.clone());
        }
        merged
    }

    fn grant(&self, run: &mut ExecutionConfig) {
        run.connect = ConnectGrants::new(
            self.0
                .iter()
                .map(|grant| grant.value.clone())
                .collect::<Vec<_>>(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::DirectiveError;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::{fake_registry, FakeRuntime};
    use crate::SectionConfig;
    use runtime_api::{Abi, Capabilities, InvalidGrant};

    fn site() -> TestSite {
        TestSite::new(fake_registry(&[]))
    }

    #[test]
    fn grants_are_parsed_when_read_and_kept_once() {
        let mut site = site();
        let mut config = SectionConfig::default();
        let err = apply(&mut config, &site, "WasmAllowConnect", &["db"]).unwrap_err();
        assert!(
            matches!(err, DirectiveError::Grant(InvalidGrant::MissingPort(_))),
            "{err}"
        );
        let err = apply(&mut config, &site, "WasmAllowConnect", &["db:99999"]).unwrap_err();
        assert!(
            matches!(err, DirectiveError::Grant(InvalidGrant::Port(_))),
            "{err}"
        );
        site.line = 2;
        apply(&mut config, &site, "WasmAllowConnect", &["DB.local:3306"]).unwrap();
        site.line = 3;
        apply(&mut config, &site, "WasmAllowConnect", &["db.local:3306"]).unwrap();
        assert_eq!(
            config.connect.0.len(),
            1,
            "the same grant twice is one grant"
        );
        assert_eq!(config.connect.0[0].origin.line, 2);
        assert_eq!(
            config.execution_config().connect.as_slice(),
            [ConnectGrant::parse("db.local:3306").unwrap()]
        );
        assert!(SectionConfig::default()
            .execution_config()
            .connect
            .is_empty());
    }

    #[test]
    fn one_directive_may_grant_several() {
        let mut config = SectionConfig::default();
        let grants = ["127.0.0.1:3306", "[::1]:5432", "cache:6379"];
        apply(&mut config, &site(), "WasmAllowConnect", &grants).unwrap();
        let granted: Vec<String> = config
            .connect
            .0
            .iter()
            .map(|g| g.value.to_string())
            .collect();
        assert_eq!(granted, grants);
    }

    #[test]
    fn grants_accumulate() {
        let site = site();
        let mut outer = SectionConfig::default();
        apply(&mut outer, &site, "WasmAllowConnect", &["127.0.0.1:3306"]).unwrap();
        let mut inner = SectionConfig::default();
        apply(&mut inner, &site, "WasmAllowConnect", &["127.0.0.1:6379"]).unwrap();
        apply(&mut inner, &site, "WasmAllowConnect", &["127.0.0.1:3306"]).unwrap();
        let merged = SectionConfig::merge(&outer, &inner);
        let grants: Vec<String> = merged
            .connect
            .0
            .iter()
            .map(|g| g.value.to_string())
            .collect();
        assert_eq!(grants, ["127.0.0.1:3306", "127.0.0.1:6379"]);
    }

    #[test]
    fn grants_need_a_runtime_with_sockets() {
        let sockets = Capabilities::none().with_outbound_sockets(Abi::new("sockets"));
        let mut registry = fake_registry(&["plain"]);
        registry.register(FakeRuntime::new("networked").with_capabilities(sockets));
        let plain = registry.get("plain").unwrap();
        let networked = registry.get("networked").unwrap();
        let core = ProgramKind::CoreModule;
        let mut site = site();
        site.line = 7;
        let mut config = SectionConfig::default();
        config.connect.check_for(core, plain, &registry).unwrap();
        apply(&mut config, &site, "WasmAllowConnect", &["127.0.0.1:3306"]).unwrap();
        config
            .connect
            .check_for(core, networked, &registry)
            .unwrap();
        let err = config
            .connect
            .check_for(core, plain, &registry)
            .unwrap_err();
        assert_eq!(
            (err.directive, err.runtime, err.lacks, err.origin.line),
            ("WasmAllowConnect", "plain", Capability::OutboundSockets, 7)
        );
        assert_eq!(err.capable, ["networked"]);
        assert_eq!(
            err.to_string(),
            "WasmAllowConnect 127.0.0.1:3306 in <Location /t> (test.conf:7): runtime plain \
             cannot open connections (outbound sockets); use WasmRuntime networked"
        );
        let only_plain = fake_registry(&["plain"]);
        let err = config
            .connect
            .check_for(core, only_plain.get("plain").unwrap(), &only_plain)
            .unwrap_err();
        assert!(err.capable.is_empty());
        assert!(
            err.to_string()
                .ends_with("; no runtime built into this mod_wasm has outbound sockets"),
            "{err}"
        );
    }
}
