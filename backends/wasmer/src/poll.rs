//! A correction to WASIX's `poll_oneoff`: it takes a relative clock subscription of 0 ns, which
//! WASI defines as "do not wait", as a wait without end. C's `poll(fds, n, 0)` is such a call,
//! and CPython makes one when it imports `selectors` (`select.poll().poll(0)`, to see whether
//! `poll` works), which Flask, the `socket` module and much else import: under Wasmer they
//! waited for the run's deadline. WASIX takes 1 ns as "do not wait", so such a subscription is
//! handed to it as 1 ns, and put back as the guest wrote it once the call returns.

use wasmer::{
    Extern, Function, FunctionEnv, FunctionEnvMut, Imports, MemoryView, RuntimeError, Store, Value,
};
use wasmer_wasix::WasiEnv;

/// The namespaces whose `poll_oneoff` takes preview1's subscriptions in a 32-bit memory.
const NAMESPACES: [&str; 2] = ["wasi_snapshot_preview1", "wasix_32v1"];

/// The layout of a preview1 `subscription`: 48 bytes, its tag at 8, and for a clock its
/// timeout (u64) at 24 and flags (u16) at 40.
const SUBSCRIPTION_SIZE: u64 = 48;
const TAG: u64 = 8;
const CLOCK_TIMEOUT: u64 = 24;
const CLOCK_FLAGS: u64 = 40;
const TAG_CLOCK: u8 = 0;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// Replaces the `poll_oneoff` of `imports` with one that corrects zero timeouts.
pub(crate) fn correct_zero_timeouts(
    store: &mut Store,
    env: &FunctionEnv<WasiEnv>,
    imports: &mut Imports,
) {
    for namespace in NAMESPACES {
        let Some(Extern::Function(wasix)) = imports.get_export(namespace, "poll_oneoff") else {
            continue;
        };
        let corrected = Function::new_typed_with_env(
            store,
            env,
            move |mut ctx: FunctionEnvMut<WasiEnv>,
                  subscriptions: i32,
                  events: i32,
                  count: i32,
                  stored: i32|
                  -> Result<i32, RuntimeError> {
                let zeros = {
                    let (env, store) = ctx.data_and_store_mut();
                    match env.try_memory_view(&store) {
                        Some(view) => set_zero_timeouts(&view, subscriptions, count, 1),
                        None => Vec::new(),
                    }
                };
                let args = [subscriptions, events, count, stored].map(Value::I32);
                let called = wasix.call(&mut ctx, &args);
                if !zeros.is_empty() {
                    let (env, store) = ctx.data_and_store_mut();
                    if let Some(view) = env.try_memory_view(&store) {
                        for at in zeros {
                            // Written before the call, so in bounds.
                            let _ = view.write(at, &0u64.to_le_bytes());
                        }
                    }
                }
                match called?.first() {
                    Some(Value::I32(errno)) => Ok(*errno),
                    _ => Err(RuntimeError::new("WASIX's poll_oneoff returned no errno")),
                }
            },
        );
        imports.define(namespace, "poll_oneoff", corrected);
    }
}

/// Sets the timeout of every relative clock subscription of 0 ns among the `count` at
/// `subscriptions` to `timeout`: where each was, to put it back.
fn set_zero_timeouts(view: &MemoryView, subscriptions: i32, count: i32, timeout: u64) -> Vec<u64> {
    let (Ok(start), Ok(count)) = (u32::try_from(subscriptions), u32::try_from(count)) else {
        return Vec::new();
    };
    let mut set = Vec::new();
    for index in 0..u64::from(count) {
        let at = u64::from(start) + index * SUBSCRIPTION_SIZE;
        let mut tag = [0u8; 1];
        let mut flags = [0u8; 2];
        let mut current = [0u8; 8];
        // Out of bounds: WASIX reports it as it reads.
        if view.read(at + TAG, &mut tag).is_err()
            || view.read(at + CLOCK_FLAGS, &mut flags).is_err()
            || view.read(at + CLOCK_TIMEOUT, &mut current).is_err()
        {
            break;
        }
        let relative = u16::from_le_bytes(flags) & SUBSCRIPTION_CLOCK_ABSTIME == 0;
        if tag[0] == TAG_CLOCK && relative && u64::from_le_bytes(current) == 0 {
            let timeout_at = at + CLOCK_TIMEOUT;
            if view.write(timeout_at, &timeout.to_le_bytes()).is_ok() {
                set.push(timeout_at);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmer::{Memory, MemoryType};

    /// A preview1 clock subscription: relative or absolute, with `timeout`.
    fn clock(timeout: u64, absolute: bool) -> [u8; 48] {
        let mut subscription = [0u8; 48];
        subscription[TAG as usize] = TAG_CLOCK;
        subscription[CLOCK_TIMEOUT as usize..][..8].copy_from_slice(&timeout.to_le_bytes());
        let flags = if absolute {
            SUBSCRIPTION_CLOCK_ABSTIME
        } else {
            0
        };
        subscription[CLOCK_FLAGS as usize..][..2].copy_from_slice(&flags.to_le_bytes());
        subscription
    }

    fn timeout_of(view: &MemoryView, subscription: u64) -> u64 {
        let mut timeout = [0u8; 8];
        view.read(
            subscription * SUBSCRIPTION_SIZE + CLOCK_TIMEOUT,
            &mut timeout,
        )
        .unwrap();
        u64::from_le_bytes(timeout)
    }

    #[test]
    fn only_relative_clocks_of_zero_are_set() {
        let mut store = Store::default();
        let memory = Memory::new(&mut store, MemoryType::new(1, None, false)).unwrap();
        let view = memory.view(&store);
        let mut fd_read = [0u8; 48];
        fd_read[TAG as usize] = 1;
        let subscriptions = [clock(0, false), clock(0, true), clock(5, false), fd_read];
        for (index, subscription) in subscriptions.iter().enumerate() {
            view.write(index as u64 * SUBSCRIPTION_SIZE, subscription)
                .unwrap();
        }
        let set = set_zero_timeouts(&view, 0, 4, 1);
        assert_eq!(set, [CLOCK_TIMEOUT]);
        assert_eq!(
            (0..3).map(|i| timeout_of(&view, i)).collect::<Vec<_>>(),
            [1, 0, 5]
        );
        // Subscriptions past the end of memory are left to WASIX to report.
        assert!(set_zero_timeouts(&view, 65536 - 24, 1, 1).is_empty());
    }
}
