//! Linear memories whose address space is kept between runs.
//!
//! Wasmer maps a new reservation (the static bound and its guard, 6 GiB of address space) for
//! every instance's memory and unmaps it when the run's store is dropped. Under Apache's
//! threads every `mmap` and `munmap` takes the process's memory-map lock for writing and each
//! `munmap` flushes every core's TLB, so concurrent runs queue behind each other. A
//! [`PooledMemory`] instead takes a reserved [`Slot`] from the process's pool and gives it
//! back when it is dropped, its pages discarded with `MADV_DONTNEED` (so the next memory reads
//! zeros, as a fresh one would) and its accessible part left as it was: a run of the same
//! module, which starts with the same size, then needs no system call but that one.
//!
//! Guard pages keep their meaning: what lies past a memory's current size is always
//! inaccessible (`PROT_NONE`), so compiled code that relies on them to trap still traps.
//! Only the usual static style of a 32-bit memory is pooled; other memories are Wasmer's own.

use runtime_api::sync::lock;
use std::io;
use std::ptr::NonNull;
use std::sync::Mutex;
use wasmer::sys::vm::{LinearMemory, MemoryError, MemoryStyle, VMMemoryDefinition};
use wasmer::{MemoryType, Pages, WASM_PAGE_SIZE};

/// Idle slots kept for later runs at most; beyond it a returned slot is unmapped. More runs
/// than this at once in one child are rare (Apache's default `ThreadsPerChild` is 25).
const KEPT: usize = 64;

/// The process's idle slots. Only children that run guests take any, after the fork.
static IDLE: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

/// A reserved range of address space: `accessible` bytes from its start are readable and
/// writable, the rest is `PROT_NONE`.
#[derive(Debug)]
struct Slot {
    base: NonNull<u8>,
    reserved: usize,
    accessible: usize,
}

// SAFETY: a slot is address space owned by whoever holds the value; it is not tied to a
// thread.
unsafe impl Send for Slot {}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: the range was mapped by `Slot::take` and nothing uses it any more.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.reserved) };
    }
}

fn last_error(call: &str) -> MemoryError {
    MemoryError::Region(format!("{call}: {}", io::Error::last_os_error()))
}

impl Slot {
    /// An idle slot of `reserved` bytes, or a new reservation.
    fn take(reserved: usize) -> Result<Slot, MemoryError> {
        let mut idle = lock(&IDLE);
        if let Some(at) = idle.iter().position(|slot| slot.reserved == reserved) {
            return Ok(idle.swap_remove(at));
        }
        drop(idle);
        // SAFETY: a new anonymous mapping, placed by the kernel.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(last_error(
                "cannot reserve address space for a linear memory",
            ));
        }
        Ok(Slot {
            base: NonNull::new(base.cast()).expect("mmap does not return null on success"),
            reserved,
            accessible: 0,
        })
    }

    /// Makes exactly the first `bytes` accessible.
    fn set_accessible(&mut self, bytes: usize) -> Result<(), MemoryError> {
        assert!(
            bytes <= self.reserved,
            "{bytes} past a slot of {}",
            self.reserved
        );
        let (start, len, protection) = match bytes.cmp(&self.accessible) {
            std::cmp::Ordering::Equal => return Ok(()),
            std::cmp::Ordering::Greater => (
                self.accessible,
                bytes - self.accessible,
                libc::PROT_READ | libc::PROT_WRITE,
            ),
            std::cmp::Ordering::Less => (bytes, self.accessible - bytes, libc::PROT_NONE),
        };
        // SAFETY: the range is inside this slot's reservation; the caller owns the slot.
        let changed =
            unsafe { libc::mprotect(self.base.as_ptr().add(start).cast(), len, protection) };
        if changed != 0 {
            return Err(last_error(
                "cannot change a linear memory's accessible size",
            ));
        }
        self.accessible = bytes;
        Ok(())
    }

    /// Returns the slot to the pool with its pages discarded, or unmaps it.
    fn give_back(self) {
        // SAFETY: the accessible range is this slot's, and nothing uses it any more. For a
        // private anonymous mapping, the next read of a discarded page gives zeros.
        let discarded = unsafe {
            libc::madvise(
                self.base.as_ptr().cast(),
                self.accessible,
                libc::MADV_DONTNEED,
            )
        };
        if discarded != 0 {
            return; // dropped, unmapped
        }
        let mut idle = lock(&IDLE);
        if idle.len() < KEPT {
            idle.push(self);
        }
    }
}

/// A linear memory in a pooled slot, for the memory an instance defines.
#[derive(Debug)]
pub struct PooledMemory {
    /// Always `Some` but while it is dropped.
    slot: Option<Slot>,
    /// In the instance's context, where compiled code reads the base and length.
    definition: NonNull<VMMemoryDefinition>,
    ty: MemoryType,
    style: MemoryStyle,
}

// SAFETY: as Wasmer's own memories: the definition is the instance's, and the memory is used
// by whichever thread runs that instance.
unsafe impl Send for PooledMemory {}
// SAFETY: see `Send`; shared access only reads the definition.
unsafe impl Sync for PooledMemory {}

impl Drop for PooledMemory {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.give_back();
        }
    }
}

impl PooledMemory {
    /// Whether memories of `ty` and `style` are pooled: unshared, of the static style.
    pub fn pools(ty: &MemoryType, style: &MemoryStyle) -> bool {
        !ty.shared && matches!(style, MemoryStyle::Static { .. })
    }

    /// A memory of `ty`, whose definition is at `definition`.
    ///
    /// # Safety
    /// `definition` must point to the memory definition of the instance this memory is for,
    /// valid for as long as the memory; [`Self::pools`] must hold for `ty` and `style`.
    pub unsafe fn new(
        ty: &MemoryType,
        style: &MemoryStyle,
        definition: NonNull<VMMemoryDefinition>,
    ) -> Result<Self, MemoryError> {
        let MemoryStyle::Static {
            bound,
            offset_guard_size,
        } = *style
        else {
            unreachable!("only static memories are pooled");
        };
        if ty.minimum > bound {
            return Err(MemoryError::MinimumMemoryTooLarge {
                min_requested: ty.minimum,
                max_allowed: bound,
            });
        }
        let reserved = bound.bytes().0 + offset_guard_size as usize;
        let mut memory = PooledMemory {
            slot: Some(Slot::take(reserved)?),
            definition,
            ty: *ty,
            style: *style,
        };
        memory.resize(ty.minimum)?;
        Ok(memory)
    }

    fn slot(&mut self) -> &mut Slot {
        self.slot.as_mut().expect("a pooled memory has its slot")
    }

    /// Makes the memory `pages` long.
    fn resize(&mut self, pages: Pages) -> Result<(), MemoryError> {
        let bytes = pages.bytes().0;
        self.slot().set_accessible(bytes)?;
        let base = self.slot().base.as_ptr();
        // SAFETY: the definition is valid for the memory's life (see `new`), and only the
        // thread running the instance writes it.
        let definition = unsafe { self.definition.as_mut() };
        definition.base = base;
        definition.current_length = bytes;
        Ok(())
    }

    /// The most pages the memory may have: its type's maximum, within the static bound.
    fn maximum(&self) -> Pages {
        let MemoryStyle::Static { bound, .. } = self.style else {
            unreachable!("only static memories are pooled");
        };
        self.ty.maximum.map_or(bound, |maximum| maximum.min(bound))
    }
}

impl LinearMemory for PooledMemory {
    fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.size(),
            ..self.ty
        }
    }

    fn size(&self) -> Pages {
        // SAFETY: see `resize`.
        let bytes = unsafe { self.definition.as_ref() }.current_length;
        Pages((bytes / WASM_PAGE_SIZE) as u32)
    }

    fn style(&self) -> MemoryStyle {
        self.style
    }

    fn grow(&mut self, delta: Pages) -> Result<Pages, MemoryError> {
        let previous = self.size();
        if delta.0 == 0 {
            return Ok(previous);
        }
        let could_not_grow = MemoryError::CouldNotGrow {
            current: previous,
            attempted_delta: delta,
        };
        let pages = previous
            .checked_add(delta)
            .filter(|pages| *pages <= self.maximum())
            .ok_or(could_not_grow)?;
        self.resize(pages)?;
        Ok(previous)
    }

    fn grow_at_least(&mut self, min_size: u64) -> Result<(), MemoryError> {
        let current = self.size().bytes().0 as u64;
        if current < min_size {
            let pages = (min_size - current).div_ceil(WASM_PAGE_SIZE as u64);
            self.grow(Pages(pages as u32))?;
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), MemoryError> {
        self.resize(Pages(0))
    }

    fn vmmemory(&self) -> NonNull<VMMemoryDefinition> {
        self.definition
    }

    fn try_clone(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        Err(MemoryError::MemoryNotShared)
    }

    /// A copy in a memory of Wasmer's own (WASIX copies memories to fork a process).
    fn copy(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        let copy = wasmer::sys::vm::VMOwnedMemory::new(&self.ty(), &self.style)?;
        // SAFETY: both definitions are valid and each memory has `size()` accessible bytes;
        // they are distinct mappings.
        unsafe {
            let from = self.definition.as_ref();
            let to = copy.vmmemory().as_ref();
            std::ptr::copy_nonoverlapping(from.base, to.base, from.current_length);
        }
        Ok(Box::new(copy))
    }
}
