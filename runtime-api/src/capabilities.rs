//! What a runtime can grant beyond plain WASI preview1, so configurations that ask for more can be
//! rejected when Apache reads them rather than fail per request.

use std::collections::BTreeSet;
use std::fmt;

/// One optional ability of a runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Outbound TCP connections from the guest (WasmEdge sockets, WASIX).
    OutboundSockets,
    /// Interrupting a guest that runs longer than a per-request limit.
    Timeouts,
    /// Capping a guest's linear memory per request.
    MemoryLimits,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::OutboundSockets => "outbound sockets",
            Capability::Timeouts => "timeouts",
            Capability::MemoryLimits => "memory limits",
        })
    }
}

/// The set of [`Capability`]s a runtime declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn with(mut self, capability: Capability) -> Self {
        self.0.insert(capability);
        self
    }

    pub fn has(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// The capabilities in `required` that this set lacks, in a stable order.
    pub fn missing<'a>(
        &'a self,
        required: impl IntoIterator<Item = Capability> + 'a,
    ) -> impl Iterator<Item = Capability> + 'a {
        required.into_iter().filter(|c| !self.has(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_lists_only_what_is_absent() {
        let caps = Capabilities::none().with(Capability::Timeouts);
        let missing: Vec<_> = caps
            .missing([Capability::Timeouts, Capability::OutboundSockets])
            .collect();
        assert_eq!(missing, vec![Capability::OutboundSockets]);
    }
}
