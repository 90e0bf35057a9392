//! Whether a response says how long its guest ran: `WasmServerTiming`.
//!
//! On, the guest's response carries `Server-Timing: wasm;dur=<ms>;desc="<runtime>"` (the W3C
//! Server Timing header), which browsers show in their developer tools and pages can read.
//! Off by default: how long code runs is something an admin chooses to publish. Merge: the
//! inner section's value if it sets one, else the outer one's.

use super::Setting;
use crate::directive::{Applies, Args, Directive};
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTiming(pub Option<bool>);

pub const WASM_SERVER_TIMING: Directive = Directive {
    name: c"WasmServerTiming",
    help: c"On: responses carry a Server-Timing header with the guest's run time",
    applies: Applies::ToSection(Args::Flag(|config, _, on| {
        config.timing = ServerTiming(Some(on));
        Ok(())
    })),
};

impl ServerTiming {
    pub fn enabled(&self) -> bool {
        self.0.unwrap_or(false)
    }

    /// The header for a run of `took` under `runtime`, when enabled.
    pub fn header(&self, took: Duration, runtime: &str) -> Option<(String, String)> {
        let millis = took.as_secs_f64() * 1000.0;
        self.enabled().then(|| {
            (
                "Server-Timing".to_owned(),
                format!("wasm;dur={millis:.3};desc=\"{runtime}\""),
            )
        })
    }
}

impl Setting for ServerTiming {
    fn merge(outer: &Self, inner: &Self) -> Self {
        Self(inner.0.or(outer.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::testing::{apply, TestSite};
    use crate::testing::fake_registry;
    use crate::SectionConfig;

    #[test]
    fn off_unless_a_section_turns_it_on() {
        let site = TestSite::new(fake_registry(&[]));
        let mut outer = SectionConfig::default();
        assert_eq!(outer.timing.header(Duration::from_millis(2), "alpha"), None);
        apply(&mut outer, &site, "WasmServerTiming", &["On"]).unwrap();
        let inner = SectionConfig::default();
        let merged = SectionConfig::merge(&outer, &inner);
        assert_eq!(
            merged.timing.header(Duration::from_micros(1250), "alpha"),
            Some((
                "Server-Timing".to_owned(),
                "wasm;dur=1.250;desc=\"alpha\"".to_owned()
            ))
        );
        let mut off = SectionConfig::default();
        apply(&mut off, &site, "WasmServerTiming", &["Off"]).unwrap();
        assert!(!SectionConfig::merge(&outer, &off).timing.enabled());
    }
}
