//! The memory limit of a run: linear memories that refuse to grow past it.
//!
//! Wasmer creates memories through the engine's [`Tunables`], which are the same for every
//! store of the process, while the limit belongs to one run. The run's limit is therefore
//! handed to the tunables through the thread that instantiates it ([`MemoryLimit::enter`]):
//! instantiation happens on that thread, and every memory created meanwhile is that run's.
//! A memory keeps its limit for its life, and records the first growth it refused.
//!
//! Memory *styles* are left as Wasmer's defaults: they are compiled into the code, which is
//! compiled once for every limit. The memories an instance defines come from the process's
//! pool (see [`crate::pool`]).

use crate::pool::PooledMemory;
use runtime_api::sync::lock;
use runtime_api::{MemorySize, RefusedGrowth};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use wasmer::sys::vm::{
    LinearMemory, MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition,
    VMSharedMemory, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{MemoryType, Pages, TableType};

/// The limit of the run being instantiated on this thread, and where its refusal goes.
#[derive(Clone, Debug)]
pub struct MemoryLimit {
    limit: MemorySize,
    refused: Arc<Mutex<Option<RefusedGrowth>>>,
}

thread_local! {
    static INSTANTIATING: RefCell<Option<MemoryLimit>> = const { RefCell::new(None) };
}

/// The run's limit applies to memories created on this thread while this lives.
pub struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        INSTANTIATING.with(|current| current.borrow_mut().take());
    }
}

impl MemoryLimit {
    pub fn new(limit: MemorySize) -> Self {
        Self {
            limit,
            refused: Arc::default(),
        }
    }

    /// Makes this the limit of the memories created on this thread until the guard drops.
    pub fn enter(&self) -> Entered {
        INSTANTIATING.with(|current| *current.borrow_mut() = Some(self.clone()));
        Entered(())
    }

    /// The first growth a memory of this run refused.
    pub fn refused(&self) -> Option<RefusedGrowth> {
        *lock(&self.refused)
    }

    /// Records `refused` (the first refusal is the one reported) and fails the growth.
    fn refuse(&self, refused: RefusedGrowth) -> MemoryError {
        lock(&self.refused).get_or_insert(refused);
        MemoryError::Generic(refused.to_string())
    }

    fn check_minimum(&self, ty: &MemoryType) -> Result<(), MemoryError> {
        let minimum = u64::from(ty.minimum.0) * MemorySize::PAGE;
        if minimum > self.limit.bytes() {
            return Err(MemoryError::Generic(format!(
                "the module needs {} of memory to start, more than the limit of {}",
                MemorySize::from_bytes(minimum),
                self.limit
            )));
        }
        Ok(())
    }

    fn wrap(&self, memory: VMMemory) -> VMMemory {
        VMMemory(Box::new(LimitedMemory {
            inner: memory.0,
            limit: self.clone(),
        }))
    }
}

fn current_limit() -> Option<MemoryLimit> {
    INSTANTIATING.with(|current| current.borrow().clone())
}

/// Wasmer's default tunables, with the memories of a run limited to the run's limit.
pub struct LimitingTunables {
    base: BaseTunables,
}

impl LimitingTunables {
    pub fn new(base: BaseTunables) -> Self {
        Self { base }
    }
}

impl Tunables for LimitingTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        match current_limit() {
            Some(limit) => {
                limit.check_minimum(ty)?;
                Ok(limit.wrap(self.base.create_host_memory(ty, style)?))
            }
            None => self.base.create_host_memory(ty, style),
        }
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        // SAFETY: the caller's guarantee for `vm_definition_location` is passed on unchanged.
        let create = || unsafe {
            if PooledMemory::pools(ty, style) {
                let memory = PooledMemory::new(ty, style, vm_definition_location)?;
                Ok(VMMemory(Box::new(memory)))
            } else {
                self.base
                    .create_vm_memory(ty, style, vm_definition_location)
            }
        };
        match current_limit() {
            Some(limit) => {
                limit.check_minimum(ty)?;
                Ok(limit.wrap(create()?))
            }
            None => create(),
        }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: the caller's guarantee for `vm_definition_location` is passed on unchanged.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }
}

/// A linear memory that does not grow past its run's limit.
#[derive(Debug)]
struct LimitedMemory {
    inner: Box<dyn LinearMemory + Send + Sync + 'static>,
    limit: MemoryLimit,
}

impl LimitedMemory {
    fn allows(&self, bytes: u64) -> Result<(), MemoryError> {
        self.limit
            .limit
            .allows(bytes)
            .map_err(|refused| self.limit.refuse(refused))
    }

    fn rewrap(
        &self,
        inner: Box<dyn LinearMemory + Send + Sync + 'static>,
    ) -> Box<dyn LinearMemory + Send + Sync + 'static> {
        Box::new(LimitedMemory {
            inner,
            limit: self.limit.clone(),
        })
    }
}

impl LinearMemory for LimitedMemory {
    fn ty(&self) -> MemoryType {
        self.inner.ty()
    }

    fn size(&self) -> Pages {
        self.inner.size()
    }

    fn style(&self) -> MemoryStyle {
        self.inner.style()
    }

    fn grow(&mut self, delta: Pages) -> Result<Pages, MemoryError> {
        let pages = u64::from(self.inner.size().0) + u64::from(delta.0);
        self.allows(pages * MemorySize::PAGE)?;
        self.inner.grow(delta)
    }

    fn grow_at_least(&mut self, min_size: u64) -> Result<(), MemoryError> {
        self.allows(min_size)?;
        self.inner.grow_at_least(min_size)
    }

    fn reset(&mut self) -> Result<(), MemoryError> {
        self.inner.reset()
    }

    fn vmmemory(&self) -> NonNull<VMMemoryDefinition> {
        self.inner.vmmemory()
    }

    fn try_clone(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        Ok(self.rewrap(self.inner.try_clone()?))
    }

    unsafe fn initialize_with_data(
        &self,
        start: usize,
        data: &[u8],
    ) -> Result<(), wasmer::sys::vm::Trap> {
        // SAFETY: the caller's guarantee is passed on to the memory this one wraps.
        unsafe { self.inner.initialize_with_data(start, data) }
    }

    fn copy(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        Ok(self.rewrap(self.inner.copy()?))
    }

    fn as_shared(&self) -> Result<VMSharedMemory, MemoryError> {
        self.inner.as_shared()
    }

    unsafe fn do_wait(
        &mut self,
        dst: u32,
        expected: wasmer::sys::vm::ExpectedValue,
        timeout: Option<std::time::Duration>,
    ) -> Result<u32, wasmer::sys::vm::WaiterError> {
        // SAFETY: the caller's guarantee for `dst` is passed on to the memory this one wraps.
        unsafe { self.inner.do_wait(dst, expected, timeout) }
    }

    fn do_notify(&mut self, dst: u32, count: u32) -> u32 {
        self.inner.do_notify(dst, count)
    }

    fn thread_conditions(&self) -> Option<&wasmer::sys::vm::ThreadConditions> {
        self.inner.thread_conditions()
    }
}
