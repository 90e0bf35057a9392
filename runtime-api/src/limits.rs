//! How far one run may go: how long it may take and how much memory it may grow to.
//!
//! Every run has both limits: a guest that loops forever or allocates without end must never
//! hold an Apache worker or the child's memory. mod_wasm resolves them from the location's
//! `WasmTimeout` and `WasmMemoryLimit` (or their defaults) and each backend enforces them with
//! its engine's own means.

use std::fmt;
use std::time::Duration;

/// The limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Wall-clock time from the start of the run. A guest still running then is stopped, and
    /// the run ends in [`RunError::TimedOut`](crate::RunError::TimedOut).
    pub timeout: Duration,
    /// The most any linear memory of the instance may grow to. A `memory.grow` beyond it fails
    /// inside the guest (it returns -1), as it would on a machine out of memory; a runtime that
    /// can tell reports the refused growth in [`RunReport::refused_growth`](crate::RunReport).
    pub memory: MemorySize,
}

/// A growth of linear memory that the memory limit refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedGrowth {
    /// The size the guest asked its memory to grow to, in bytes.
    pub requested: u64,
    /// The limit that refused it.
    pub limit: MemorySize,
}

impl fmt::Display for RefusedGrowth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused to grow linear memory to {}: the limit is {}",
            MemorySize(self.requested),
            self.limit
        )
    }
}

impl Limits {
    /// What a run gets when nothing else is said: a minute, as Apache's own `Timeout`
    /// defaults to, and 256 MiB.
    pub const DEFAULT: Limits = Limits {
        timeout: Duration::from_secs(60),
        memory: MemorySize::from_mib(256),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A size of linear memory in bytes, at most what a 32-bit memory can address (4 GiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemorySize(u64);

impl MemorySize {
    /// The size of a WebAssembly page.
    pub const PAGE: u64 = 64 * 1024;
    /// All a 32-bit memory can address.
    pub const MAX: MemorySize = MemorySize(1 << 32);

    pub const fn from_mib(mib: u32) -> Self {
        let bytes = (mib as u64) << 20;
        if bytes > Self::MAX.0 {
            Self::MAX
        } else {
            Self(bytes)
        }
    }

    /// `bytes`, capped at [`MemorySize::MAX`].
    pub fn from_bytes(bytes: u64) -> Self {
        Self(bytes.min(Self::MAX.0))
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The whole pages that fit: a limit that is not a multiple of the page size allows the
    /// pages below it.
    pub fn pages(self) -> u32 {
        // At most 65,536: MAX is 4 GiB.
        (self.0 / Self::PAGE) as u32
    }
}

/// As people write sizes: `256 MiB`, `64 KiB`, `100 bytes`.
impl MemorySize {
    /// Whether a linear memory may grow to `requested` bytes under this limit; the refusal,
    /// for the run's report, when it may not.
    pub fn allows(self, requested: u64) -> Result<(), RefusedGrowth> {
        if requested <= self.bytes() {
            Ok(())
        } else {
            Err(RefusedGrowth {
                requested,
                limit: self,
            })
        }
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Bytes(self.0).fmt(f)
    }
}

/// A number of bytes as people write it in messages: `256 MiB`, `64 KiB`, `1000 bytes` (the
/// largest unit that divides it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 30 && n % (1 << 30) == 0 => write!(f, "{} GiB", n >> 30),
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_up_to_the_limit_is_allowed() {
        let limit = MemorySize::from_mib(1);
        assert_eq!(limit.allows(1 << 20), Ok(()));
        assert_eq!(
            limit.allows((1 << 20) + 1),
            Err(RefusedGrowth {
                requested: (1 << 20) + 1,
                limit
            })
        );
    }

    #[test]
    fn sizes_are_written_as_people_write_them() {
        assert_eq!(Bytes(4 << 30).to_string(), "4 GiB");
        assert_eq!(Bytes(256 << 20).to_string(), "256 MiB");
        assert_eq!(Bytes(64 << 10).to_string(), "64 KiB");
        assert_eq!(Bytes(1000).to_string(), "1000 bytes");
        assert_eq!(MemorySize::from_mib(256).to_string(), "256 MiB");
    }

    #[test]
    fn sizes_are_capped_at_what_a_32_bit_memory_addresses() {
        assert_eq!(MemorySize::from_bytes(u64::MAX), MemorySize::MAX);
        assert_eq!(MemorySize::from_mib(8192), MemorySize::MAX);
        assert_eq!(MemorySize::MAX.pages(), 65536);
    }

    #[test]
    fn pages_round_down() {
        assert_eq!(MemorySize::from_mib(256).pages(), 4096);
        assert_eq!(MemorySize::from_bytes(MemorySize::PAGE * 3 - 1).pages(), 2);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(MemorySize::from_mib(256).to_string(), "256 MiB");
        assert_eq!(MemorySize::MAX.to_string(), "4 GiB");
        assert_eq!(MemorySize::from_bytes(65536).to_string(), "64 KiB");
        assert_eq!(MemorySize::from_bytes(1000).to_string(), "1000 bytes");
    }
}
