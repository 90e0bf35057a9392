//! Figures of the requests mod_wasm serves, per runtime and per location, shared by every
//! process of a server: what the status page (`SetHandler wasm-status`) shows.
//!
//! The figures live in one table of memory shared by the parent and every child it forks. The
//! parent maps it when it first reads its configuration, before any fork, and keeps it for its
//! whole life: restarts, graceful or not, keep the figures, and children of an earlier
//! generation that finish their requests after a graceful restart still count them. A stop
//! ends them.
//!
//! Children only ever add to the table, with atomic operations: no lock is taken on a request.
//! A location takes a slot the first time one of its requests is counted, by writing the hash
//! of its name into a free slot with a compare-and-swap; its name is published after it.

mod render;

pub use render::{
    html, html_tables, json, prometheus, About, CacheState, Figures, ModuleState, Snapshot,
};

use crate::origin::Origin;
use std::cell::UnsafeCell;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// How a request that ran into a problem failed, beyond its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The guest trapped (or its sandbox could not be built).
    Trap,
    /// The guest exited with a code other than 0.
    Exit,
    /// Its output was not a CGI response.
    MalformedOutput,
    /// It wrote more than the output limit.
    OutputLimit,
    /// It was stopped at `WasmTimeout`.
    TimedOut,
    /// It failed after `WasmMemoryLimit` refused to grow its memory.
    MemoryLimit,
    /// It was stopped because the server was stopping.
    Stopped,
    /// In interpreter mode, the script did not exist.
    NotFound,
    /// The module could not be loaded.
    LoadFailed,
    /// The module was out of service since a restart could not compile it.
    Unavailable,
}

impl Failure {
    pub const ALL: [Failure; 10] = [
        Failure::Trap,
        Failure::Exit,
        Failure::MalformedOutput,
        Failure::OutputLimit,
        Failure::TimedOut,
        Failure::MemoryLimit,
        Failure::Stopped,
        Failure::NotFound,
        Failure::LoadFailed,
        Failure::Unavailable,
    ];

    /// The name the status page and its formats use.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Trap => "trap",
            Failure::Exit => "exit",
            Failure::MalformedOutput => "malformed_output",
            Failure::OutputLimit => "output_limit",
            Failure::TimedOut => "timeout",
            Failure::MemoryLimit => "memory_limit",
            Failure::Stopped => "stopped",
            Failure::NotFound => "not_found",
            Failure::LoadFailed => "load_failed",
            Failure::Unavailable => "unavailable",
        }
    }
}

/// How a module got into a process for its first request there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// From code the parent compiled or read from the cache.
    Inherited,
    /// Compiled by this process, or read from the cache, because the configuration check
    /// could not foresee it.
    Lazy,
}

/// How the configuration check obtained a module's compiled code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compile {
    Compiled,
    FromCache,
    /// Kept from an earlier configuration read.
    Reused,
}

/// One request, as the table counts it.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// The status it was answered with; `None` when its body could not be read and the
    /// server answered it.
    pub status: Option<u16>,
    pub failure: Option<Failure>,
    /// Connections and lookups the guest was refused.
    pub refusals: u64,
    /// When its module was loaded into this process for it, how long that took.
    pub load: Option<(Load, Duration)>,
}

/// Upper bounds of the latency histogram's buckets, in microseconds; a last bucket holds the
/// rest.
pub const BUCKET_BOUNDS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];
const BUCKETS: usize = BUCKET_BOUNDS_US.len() + 1;

/// How many locations the table holds; the last slot counts every location past it.
const LOCATIONS: usize = 512;
/// How many runtimes the table holds.
const RUNTIMES: usize = 16;
const NAME_BYTES: usize = 64;
const LABEL_BYTES: usize = 448;
const MODULE_BYTES: usize = 256;

/// A slot's key while it is free.
const FREE: u64 = 0;
/// Set once a slot's names are written.
const NAMED: u64 = 1;

/// A string of at most `N` bytes, written once by whoever claims its slot, before the slot is
/// published; read only after.
#[repr(C)]
struct Text<const N: usize> {
    len: AtomicU64,
    bytes: UnsafeCell<[u8; N]>,
}

impl<const N: usize> Text<N> {
    /// # Safety
    /// Only the claimer of the slot calls it, before publishing the slot.
    unsafe fn write(&self, text: &str) {
        let mut end = text.len().min(N);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // SAFETY: nobody reads the bytes before the slot is published (see `Slot::claim`).
        unsafe { (&mut *self.bytes.get())[..end].copy_from_slice(&text.as_bytes()[..end]) };
        self.len.store(end as u64, Ordering::Relaxed);
    }

    /// # Safety
    /// The slot is published.
    unsafe fn read(&self) -> String {
        let len = (self.len.load(Ordering::Relaxed) as usize).min(N);
        // SAFETY: written before the slot was published, never after.
        let bytes = unsafe { &(&*self.bytes.get())[..len] };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Who a slot belongs to, claimed once.
#[repr(C)]
struct Claim {
    key: AtomicU64,
    state: AtomicU64,
}

impl Claim {
    /// Whether the slot is `key`'s, claiming it if it is free; `Some(true)` when this call
    /// claimed it and must now write its names and publish it.
    fn take(&self, key: u64) -> Option<bool> {
        match self
            .key
            .compare_exchange(FREE, key, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Some(true),
            Err(current) if current == key => Some(false),
            Err(_) => None,
        }
    }

    fn publish(&self) {
        self.state.store(NAMED, Ordering::Release);
    }

    fn published(&self) -> bool {
        self.state.load(Ordering::Acquire) == NAMED
    }
}

#[repr(C)]
struct LocationSlot {
    claim: Claim,
    runtime: Text<NAME_BYTES>,
    location: Text<LABEL_BYTES>,
    module: Text<MODULE_BYTES>,
    requests: AtomicU64,
    /// 1xx … 5xx.
    classes: [AtomicU64; 5],
    aborted: AtomicU64,
    failures: [AtomicU64; Failure::ALL.len()],
    refusals: AtomicU64,
    duration_us: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    inherited_loads: AtomicU64,
    lazy_loads: AtomicU64,
    load_us: AtomicU64,
}

#[repr(C)]
struct RuntimeSlot {
    claim: Claim,
    name: Text<NAME_BYTES>,
    compiled: AtomicU64,
    compiled_us: AtomicU64,
    from_cache: AtomicU64,
    from_cache_us: AtomicU64,
    reused: AtomicU64,
}

#[repr(C)]
struct Table {
    started_unix: AtomicU64,
    /// Requests whose configuration named no usable runtime or module.
    unresolved: AtomicU64,
    runtimes: [RuntimeSlot; RUNTIMES],
    locations: [LocationSlot; LOCATIONS],
}

/// The figures of a server, in memory shared with the processes it forks.
pub struct Statistics {
    table: *const Table,
}

// SAFETY: the table is only accessed through atomics, and through `Text`s under the
// publish-once protocol above.
unsafe impl Send for Statistics {}
// SAFETY: as above.
unsafe impl Sync for Statistics {}

impl Statistics {
    /// Maps a new, empty table, shared with every process forked from this one from now on.
    pub fn new() -> std::io::Result<Statistics> {
        let size = std::mem::size_of::<Table>();
        // SAFETY: a new anonymous mapping; the kernel zeroes it, and zero is every field's
        // empty state (atomics at 0, free slots, empty texts).
        let table = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if table == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let statistics = Statistics {
            table: table.cast(),
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        statistics
            .table()
            .started_unix
            .store(now, Ordering::Relaxed);
        Ok(statistics)
    }

    fn table(&self) -> &Table {
        // SAFETY: mapped in `new` for the size of a Table, unmapped only on drop.
        unsafe { &*self.table }
    }

    /// Counts a request whose configuration could not be resolved to a module and runtime.
    pub fn count_unresolved(&self) {
        self.table().unresolved.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request at `place`, which took `took` from start to answer.
    pub fn count(&self, place: &Place, tally: &Tally, took: Duration) {
        let slot = self.location_slot(place);
        slot.requests.fetch_add(1, Ordering::Relaxed);
        match tally.status {
            Some(status @ 100..=599) => {
                slot.classes[usize::from(status / 100 - 1)].fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {}
            None => {
                slot.aborted.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(failure) = tally.failure {
            let index = Failure::ALL.iter().position(|f| *f == failure).unwrap_or(0);
            slot.failures[index].fetch_add(1, Ordering::Relaxed);
        }
        if tally.refusals > 0 {
            slot.refusals.fetch_add(tally.refusals, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        slot.duration_us.fetch_add(micros, Ordering::Relaxed);
        let bucket = BUCKET_BOUNDS_US
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BUCKETS - 1);
        slot.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if let Some((load, took)) = tally.load {
            let loads = match load {
                Load::Inherited => &slot.inherited_loads,
                Load::Lazy => &slot.lazy_loads,
            };
            loads.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            slot.load_us.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// Counts how the configuration check obtained a module's code under `runtime`.
    pub fn count_compile(&self, runtime: &str, how: Compile, took: Duration) {
        let Some(slot) = self.runtime_slot(runtime) else {
            return;
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        match how {
            Compile::Compiled => {
                slot.compiled.fetch_add(1, Ordering::Relaxed);
                slot.compiled_us.fetch_add(micros, Ordering::Relaxed);
            }
            Compile::FromCache => {
                slot.from_cache.fetch_add(1, Ordering::Relaxed);
                slot.from_cache_us.fetch_add(micros, Ordering::Relaxed);
            }
            Compile::Reused => {
                slot.reused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn location_slot(&self, place: &Place) -> &LocationSlot {
        let slots = &self.table().locations;
        let key = place.key();
        // The last slot is the overflow, which every location past the others shares.
        let probes = LOCATIONS - 1;
        let start = (key % probes as u64) as usize;
        for i in 0..probes {
            let slot = &slots[(start + i) % probes];
            match slot.claim.take(key) {
                Some(true) => {
                    // SAFETY: this call claimed the slot and has not published it yet.
                    unsafe {
                        slot.runtime.write(place.runtime);
                        slot.location.write(&place.origin.to_string());
                        slot.module.write(&place.module.to_string_lossy());
                    }
                    slot.claim.publish();
                    return slot;
                }
                Some(false) => return slot,
                None => continue,
            }
        }
        let overflow = &slots[LOCATIONS - 1];
        if let Some(true) = overflow.claim.take(u64::MAX) {
            // SAFETY: as above.
            unsafe {
                overflow.runtime.write("-");
                overflow
                    .location
                    .write("(locations past the table's capacity)");
                overflow.module.write("-");
            }
            overflow.claim.publish();
        }
        overflow
    }

    fn runtime_slot(&self, runtime: &str) -> Option<&RuntimeSlot> {
        let key = key_of(runtime);
        for slot in &self.table().runtimes {
            match slot.claim.take(key) {
                Some(true) => {
                    // SAFETY: this call claimed the slot and has not published it yet.
                    unsafe { slot.name.write(runtime) };
                    slot.claim.publish();
                    return Some(slot);
                }
                Some(false) => return Some(slot),
                None => continue,
            }
        }
        None
    }

    /// What the table holds now.
    pub fn snapshot(&self) -> render::Snapshot {
        render::Snapshot::of(self)
    }
}

impl Drop for Statistics {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this size; nothing borrows it past `self`.
        unsafe { libc::munmap(self.table.cast_mut().cast(), std::mem::size_of::<Table>()) };
    }
}

/// A slot key for `parts`: never [`FREE`], nor the overflow slot's. The hasher's keys are
/// fixed, so every process of the server computes the same.
fn key_of(parts: impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish().clamp(1, u64::MAX - 1)
}

/// Where a request is counted: the runtime that ran it, the `WasmModule` directive that applied
/// (its section and configuration line: the location) and the module. Counting hashes it as it
/// is, allocating nothing; it is written out as people read it only when it claims its slot.
pub struct Place<'a> {
    pub runtime: &'a str,
    pub origin: &'a Origin,
    pub module: &'a Path,
}

impl Place<'_> {
    fn key(&self) -> u64 {
        let origin = self.origin;
        key_of((
            self.runtime,
            &origin.section,
            &origin.file,
            origin.line,
            // Its bytes: hashing a Path walks its components.
            self.module.as_os_str(),
        ))
    }
}

#[cfg(test)]
mod tests;
