//! The parts of a section's configuration, one module each: its directives, how an inner
//! section combines with an outer one, whether a runtime can honour it, and what it grants a
//! run. A new capability (a limit, say) is one more module of this shape and one more field of
//! [`SectionConfig`](crate::SectionConfig).

pub mod cgi;
pub mod connect;
pub mod dirs;
pub mod limits;
pub mod output;
pub mod preinit;
pub mod program;
pub mod reuse;
pub mod timing;

use crate::config_error::Unsupported;
use runtime_api::{ExecutionConfig, Registry, Runtime};

/// One part of a section's configuration.
pub trait Setting: Clone + Default {
    /// This setting of `inner`, a section nested in (or applied after) `outer`.
    fn merge(outer: &Self, inner: &Self) -> Self;

    /// Whether `runtime` can honour what this setting asks for; if not, which directive asks,
    /// where it was written, and the runtimes that could.
    fn check(&self, _runtime: &dyn Runtime, _registry: &Registry) -> Result<(), Box<Unsupported>> {
        Ok(())
    }

    /// Adds what this setting grants to the sandbox of a run.
    fn grant(&self, _run: &mut ExecutionConfig) {}
}

/// Replaces the element with the same key as `item`, or appends it.
pub(crate) fn set_by_key<T, K: PartialEq + ?Sized>(
    list: &mut Vec<T>,
    item: T,
    key: impl Fn(&T) -> &K,
) {
    match list.iter_mut().find(|existing| key(existing) == key(&item)) {
        Some(existing) => *existing = item,
        None => list.push(item),
    }
}
