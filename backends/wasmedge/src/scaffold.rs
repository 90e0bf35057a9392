//! What a run needs besides its module instance, kept between runs.
//!
//! A run used to build, and then tear down, a store, an executor and async-wasi's WASI module
//! with its fifty host functions, three fifths of the time of a run of hello. None of it is
//! the guest's: the guest's state is its module instance, which every run still instantiates
//! anew and deletes when it ends, and its WASI state, which lives in the WASI context. So a
//! [`Scaffold`] keeps the store, the executor and the WASI module with its functions, and a
//! run gives the WASI module a context of its own ([`Scaffold::begin`]), takes it back when
//! it ends ([`Lease::finish`]), and returns the scaffold to its module's [`Scaffolds`].
//!
//! Only scaffolds of runs that ended normally are reused; one that saw a trap, a time limit
//! or an error is dropped, so whatever state WasmEdge may keep after those never reaches
//! another request.

use crate::net::{AcceptAbi, SocketGuard};
use crate::{wasi_module, WASI_NAMESPACE};
use runtime_api::sync::lock;
use runtime_api::{ConnectGrants, ConnectGuard};
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use wasmedge_sdk::config::Config;
use wasmedge_sdk::error::WasmEdgeError;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::{Instance, Module, Store};
use wasmedge_sys::r#async::module::AsyncImportObject;

/// A store with a WASI module registered, and the executor of one memory limit.
pub struct Scaffold {
    /// Borrows `*wasi`, so it is dropped first (see `Drop`).
    store: ManuallyDrop<Store<'static, AsyncImportObject<WasiCtx>>>,
    /// Owned here (from `Box::leak`); only used through `store`, which holds the one `&mut`
    /// to it.
    wasi: NonNull<AsyncWasiModule>,
    /// The host data of the WASI module's network functions.
    sockets: Box<SocketGuard>,
}

// SAFETY: a scaffold is used by one run at a time, on the thread of that run: it is taken out
// of its pool for the run and put back after. Nothing in it is tied to a thread: the store,
// the executor and the WASI module are WasmEdge objects used through its C API, and between
// runs the WASI context holds nothing of a request (see `Lease::finish`).
unsafe impl Send for Scaffold {}

impl Drop for Scaffold {
    fn drop(&mut self) {
        // SAFETY: the store is not used again. It goes first, because it borrows the module.
        unsafe { ManuallyDrop::drop(&mut self.store) };
        // SAFETY: `wasi` came from `Box::leak` in `Scaffold::new`, and nothing borrows it now.
        drop(unsafe { Box::from_raw(self.wasi.as_ptr()) });
    }
}

impl Scaffold {
    fn new(config: &Config, accept: AcceptAbi) -> Result<Self, Box<WasmEdgeError>> {
        let (wasi, sockets) =
            wasi_module(WasiCtx::new(), ConnectGrants::default().guard(), accept)?;
        let wasi = NonNull::from(Box::leak(Box::new(wasi)));
        // SAFETY: the module lives until `Drop`, after the store; nothing else uses it.
        let registered: &'static mut AsyncWasiModule = unsafe { &mut *wasi.as_ptr() };
        let registered = registered.as_mut();
        let mut instances = HashMap::new();
        instances.insert(WASI_NAMESPACE.to_string(), registered);
        let store = Store::new(Some(config), instances);
        let store = match store {
            Ok(store) => store,
            Err(e) => {
                // SAFETY: as in `Drop`; the failed store is gone.
                drop(unsafe { Box::from_raw(wasi.as_ptr()) });
                return Err(e);
            }
        };
        Ok(Self {
            store: ManuallyDrop::new(store),
            wasi,
            sockets,
        })
    }

    /// The WASI module, through the store that holds it.
    fn wasi(&mut self) -> &mut AsyncImportObject<WasiCtx> {
        self.store
            .get_instance_and_executor(WASI_NAMESPACE)
            .map(|(wasi, _)| wasi)
            .expect("a scaffold's store has its WASI module")
    }

    /// Starts a run: the WASI module gets the run's `context`, its network functions the
    /// run's `connections`, and `module` is instantiated.
    pub fn begin(
        mut self,
        context: WasiCtx,
        connections: ConnectGuard,
        module: &Module,
    ) -> Result<Lease, Box<WasmEdgeError>> {
        *self.wasi().get_host_data_mut() = context;
        self.sockets.set_connections(connections);
        let instance = self.store.register_active_module(module)?;
        Ok(Lease {
            scaffold: self,
            instance,
        })
    }
}

/// A scaffold in use by one run, with the run's module instance.
pub struct Lease {
    scaffold: Scaffold,
    pub instance: Instance,
}

impl Lease {
    /// The run's instance, and the executor to call its functions with.
    pub fn parts(&mut self) -> (&mut Instance, &mut wasmedge_sys::Executor) {
        (&mut self.instance, self.scaffold.store.executor())
    }

    /// Ends the run: deletes its instance and takes its WASI context and connections back
    /// (closing what the guest left open), and returns the exit code the guest gave
    /// `proc_exit`, with the scaffold ready for another run.
    pub fn finish(self) -> (u32, Scaffold) {
        let Lease {
            mut scaffold,
            instance,
        } = self;
        drop(instance);
        let context = std::mem::replace(scaffold.wasi().get_host_data_mut(), WasiCtx::new());
        scaffold
            .sockets
            .set_connections(ConnectGrants::default().guard());
        (context.exit_code, scaffold)
    }
}

/// A module's idle scaffolds, for each memory limit it ran with.
#[derive(Default)]
pub struct Scaffolds {
    idle: Mutex<HashMap<u32, Vec<Scaffold>>>,
}

impl Scaffolds {
    /// An idle scaffold for `config` (the configuration of memory limit `pages`), or a new one.
    pub fn take(
        &self,
        pages: u32,
        config: &Arc<Config>,
        accept: AcceptAbi,
    ) -> Result<Scaffold, Box<WasmEdgeError>> {
        let idle = lock(&self.idle).get_mut(&pages).and_then(Vec::pop);
        match idle {
            Some(scaffold) => Ok(scaffold),
            None => Scaffold::new(config, accept),
        }
    }

    /// Keeps `scaffold` for the next run with memory limit `pages`.
    pub fn put_back(&self, pages: u32, scaffold: Scaffold) {
        lock(&self.idle).entry(pages).or_default().push(scaffold);
    }
}
