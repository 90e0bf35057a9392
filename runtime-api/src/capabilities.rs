//! What a runtime gives guests beyond plain WASI preview1: import ABIs that guests are built
//! against, and abilities a location can grant. A location that asks for an ability its runtime
//! lacks is refused when Apache reads the configuration rather than failing per request.

use std::fmt;

/// The name of an ABI: a set of host functions, beyond WASI preview1, that a guest imports and
/// is built against, such as Wasmer's `wasix` or WasmEdge's socket extension. Backends declare
/// their own; a guest built for one ABI runs only under runtimes that provide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Abi(&'static str);

impl Abi {
    /// An ABI called `name`: lower case, as guests' build names use it (`guestbook-wasix`).
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An ability a location can ask of its runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Outbound TCP connections from the guest (`WasmAllowConnect`).
    OutboundSockets,
    /// Components: WASI 0.2 commands (`wasi:cli/run`) and HTTP handlers of WASI 0.2
    /// (`wasi:http/incoming-handler`) and 0.3 (`wasi:http/handler`), whose outgoing HTTP
    /// requests `WasmAllowConnect` grants.
    Components,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::OutboundSockets => "outbound sockets",
            Capability::Components => "WASI 0.2 and 0.3 components",
        })
    }
}

/// What one runtime gives guests beyond plain WASI preview1, which every runtime provides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    extensions: Vec<Abi>,
    outbound_sockets: Option<Abi>,
    components: bool,
}

impl Capabilities {
    /// Plain WASI preview1.
    pub fn none() -> Self {
        Self::default()
    }

    /// Guests may also import the functions of `abi`.
    pub fn with_extension(mut self, abi: Abi) -> Self {
        if !self.extensions.contains(&abi) {
            self.extensions.push(abi);
        }
        self
    }

    /// Guests may open the outbound TCP connections their location grants, through the socket
    /// functions of `abi` (one of the extensions, which this adds if needed).
    pub fn with_outbound_sockets(mut self, abi: Abi) -> Self {
        self.outbound_sockets = Some(abi);
        self.with_extension(abi)
    }

    /// The runtime also runs WASI 0.2 and 0.3 components.
    pub fn with_components(mut self) -> Self {
        self.components = true;
        self
    }

    /// The ABIs beyond WASI preview1 guests may import, in the order declared.
    pub fn extensions(&self) -> &[Abi] {
        &self.extensions
    }

    /// The ABI through which guests open connections, when they can.
    pub fn socket_abi(&self) -> Option<Abi> {
        self.outbound_sockets
    }

    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::OutboundSockets => self.outbound_sockets.is_some(),
            Capability::Components => self.components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKETS: Abi = Abi::new("sockets");

    #[test]
    fn plain_wasi_has_no_extensions_and_no_sockets() {
        let plain = Capabilities::none();
        assert!(plain.extensions().is_empty());
        assert!(!plain.has(Capability::OutboundSockets));
        assert_eq!(plain.socket_abi(), None);
    }

    #[test]
    fn sockets_come_through_an_extension() {
        let caps = Capabilities::none()
            .with_extension(SOCKETS)
            .with_outbound_sockets(SOCKETS);
        assert!(caps.has(Capability::OutboundSockets));
        assert_eq!(caps.socket_abi(), Some(SOCKETS));
        assert_eq!(caps.extensions(), [SOCKETS], "declared once");
        let implied = Capabilities::none().with_outbound_sockets(SOCKETS);
        assert_eq!(implied, caps);
    }
}
