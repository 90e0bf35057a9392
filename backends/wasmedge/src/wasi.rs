//! async-wasi's WASI preview1 set right where it differs from the standard.
//!
//! WasmEdge refuses to instantiate a module whose import has another type than the function
//! provided, and wasi-libc's programs (CPython among them) import the standard types. The
//! SDK's registration of async-wasi gets two wrong:
//! - `clock_res_get(clock id, *resolution)` is registered as `(i32, i64) -> i32`; the standard
//!   and async-wasi's own implementation take two `i32`s;
//! - `fd_filestat_set_size(fd, size: i64)` is registered as `(i32, i32) -> i32`, and calls
//!   `fd_filestat_get`, which would write a file's attributes where the guest passed a size.
//!
//! And one it implements wrong: `poll_oneoff` writes a clock's event without its `error`
//! field, which keeps whatever the guest's memory held there. wasi-libc's `nanosleep`,
//! `usleep` and `clock_nanosleep` read a non-zero `error` as a failed sleep (CPython's
//! `time.sleep` raised `ENOTSUP`, SQLite's busy wait saw errors); here the events are zeroed
//! before async-wasi fills them in.

use std::future::Future;
use wasmedge_sdk::error::{CoreError, CoreExecutionError};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::error::Errno;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::memory::WasmPtr;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::types::__wasi_event_t;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::preview_1;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::r#async::AsyncInstance;
use wasmedge_sdk::{ValType, WasmEdgeResult};
use wasmedge_sys::r#async::function::AsyncFunction;
use wasmedge_sys::{CallingFrame, FuncType, Function, Instance, WasmValue};

/// Replaces the functions of `wasi` that async-wasi registers with a non-standard type.
pub fn standardise(wasi: &mut AsyncWasiModule) -> WasmEdgeResult<()> {
    let module = wasi.as_mut();
    let context: *mut WasiCtx = module.get_host_data_mut();
    let (i32, i64) = (ValType::I32, ValType::I64);
    let standard: [(&str, Vec<ValType>, Implementation); 2] = [
        ("clock_res_get", vec![i32, i32], clock_res_get),
        ("fd_filestat_set_size", vec![i32, i64], fd_filestat_set_size),
    ];
    for (name, params, implementation) in standard {
        let ty = FuncType::new(params, vec![i32]);
        // SAFETY: `context` is the module's own host data, boxed by it: it lives as long as
        // the module, whose functions are the only ones to use these.
        let function = unsafe { Function::create_sync_func(&ty, implementation, context, 0) }?;
        module.add_func(name, function);
    }
    let ty = FuncType::new(vec![i32; 4], vec![i32]);
    module.add_async_func(
        "poll_oneoff",
        AsyncFunction::create_async_func(&ty, poll_oneoff, context, 0)?,
    );
    Ok(())
}

type Implementation = fn(&mut WasiCtx, &mut Instance, &mut CallingFrame, Vec<WasmValue>) -> Results;
type Results = Result<Vec<WasmValue>, CoreError>;

fn signature_mismatch() -> Results {
    Err(CoreError::Execution(CoreExecutionError::FuncSigMismatch))
}

/// The errno of an outcome, as a function's result.
fn errno(outcome: Result<(), Errno>) -> Results {
    Ok(vec![WasmValue::from_i32(i32::from(
        outcome.err().map_or(0, |e| e.0),
    ))])
}

/// `clock_res_get(clock id, *resolution)`: async-wasi's implementation.
fn clock_res_get(
    context: &mut WasiCtx,
    _: &mut Instance,
    frame: &mut CallingFrame,
    args: Vec<WasmValue>,
) -> Results {
    let [clock, resolution] = args[..] else {
        return signature_mismatch();
    };
    let mut memory = frame
        .memory_mut(0)
        .ok_or(CoreError::Execution(CoreExecutionError::MemoryOutOfBounds))?;
    errno(preview_1::clock_res_get(
        context,
        &mut *memory,
        clock.to_i32() as u32,
        WasmPtr::from(resolution.to_i32() as u32 as usize),
    ))
}

/// `fd_filestat_set_size(fd, size)`: async-wasi's implementation.
fn fd_filestat_set_size(
    context: &mut WasiCtx,
    _: &mut Instance,
    frame: &mut CallingFrame,
    args: Vec<WasmValue>,
) -> Results {
    let [fd, size] = args[..] else {
        return signature_mismatch();
    };
    let mut memory = frame
        .memory_mut(0)
        .ok_or(CoreError::Execution(CoreExecutionError::MemoryOutOfBounds))?;
    errno(preview_1::fd_filestat_set_size(
        context,
        &mut *memory,
        fd.to_i32(),
        size.to_i64() as u64,
    ))
}

/// `poll_oneoff(*subscriptions, *events, count, *ready)`: async-wasi's implementation, on
/// events zeroed first.
fn poll_oneoff<'data, 'inst, 'frame, 'fut>(
    context: &'data mut WasiCtx,
    _: &'inst mut AsyncInstance,
    frame: &'frame mut CallingFrame,
    args: Vec<WasmValue>,
) -> Box<dyn Future<Output = Results> + Send + 'fut>
where
    'data: 'fut,
    'inst: 'fut,
    'frame: 'fut,
{
    Box::new(async move {
        let [subscriptions, events, count, ready] = args[..] else {
            return signature_mismatch();
        };
        let pointer = |value: WasmValue| value.to_i32() as u32 as usize;
        let count = count.to_i32() as u32;
        let mut memory = frame
            .memory_mut(0)
            .ok_or(CoreError::Execution(CoreExecutionError::MemoryOutOfBounds))?;
        let event_bytes = count as usize * std::mem::size_of::<__wasi_event_t>();
        match memory.mut_slice::<u8>(pointer(events), event_bytes) {
            Some(bytes) => bytes.fill(0),
            None => return errno(Err(Errno::__WASI_ERRNO_FAULT)),
        }
        errno(
            preview_1::async_poll::poll_oneoff(
                context,
                &mut *memory,
                WasmPtr::from(pointer(subscriptions)),
                WasmPtr::from(pointer(events)),
                count,
                WasmPtr::from(pointer(ready)),
            )
            .await,
        )
    })
}
