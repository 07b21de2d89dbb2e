//! Fast calls: the few binding calls JavaScript makes on its hot paths (a wake-up signal after a
//! publish, a consumer arming its waker or scanning the availability flags, a multi producer's
//! claim, room check and batch publish), as raw N-API functions rather than `#[napi]` methods.
//!
//! Why: napi-rs 3.16 wraps every `#[napi]` method call in a native-borrow scope (a global
//! `Mutex<HashMap>` shared by every thread), a type-tag check and an unwrap; on the 2-core VM a
//! method call that only loads an atomic costs about 280 ns, a free function with one number
//! argument about 100 ns, and one of these functions about 20 ns (benchmark/native-calls.mjs).
//! Each function gets its ring through the N-API callback `data` pointer, set when it is made
//! (`NativeRing.fastCalls`), so no argument can point it elsewhere. `signal`, `gatingMinimum`
//! and `arm` exist only here; `publish` and `isHalted` share their bodies and coded errors with
//! the methods of those names (`produce::publish_range`), which the slow paths still call. A
//! non-number argument is ERR_INVALID_ARG_TYPE. Each function keeps its ring's state alive until
//! it is collected.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::instance::{lock, ClaimMirror, InstanceRef};
use crate::protocol::ClaimSentinel;
use crate::ring::NativeRing;
use crate::shared::RingState;

/// What one set of fast functions works on: the ring and this thread's instance of it (kept
/// alive by each function until the garbage collector takes it).
pub(crate) struct FastHandle {
    ring: Arc<RingState>,
    inst: InstanceRef,
    id: u64,
    /// This thread's claim mirror (`claim` records into it).
    claims: Arc<ClaimMirror>,
}

/// A fast function's result, converted to a JavaScript value.
pub(crate) enum Out {
    Undefined,
    Number(f64),
    Bool(bool),
}

/// Throws `error` (its status is the `code`) and returns null, as an N-API callback that threw.
///
/// # Safety
/// `env` is the env of the current callback.
unsafe fn throw(env: sys::napi_env, error: napi::Error<String>) -> sys::napi_value {
    let code = error.status.as_str();
    let message = error.reason.as_str();
    let ok = sys::Status::napi_ok;
    // SAFETY: a valid env; the strings outlive the calls that copy them.
    unsafe {
        let mut code_value = ptr::null_mut();
        let mut message_value = ptr::null_mut();
        let mut value = ptr::null_mut();
        let code_made = sys::napi_create_string_utf8(
            env,
            code.as_ptr().cast(),
            code.len() as isize,
            &mut code_value,
        );
        let message_made = sys::napi_create_string_utf8(
            env,
            message.as_ptr().cast(),
            message.len() as isize,
            &mut message_value,
        );
        let error_made = if code_made != ok || message_made != ok {
            code_made
        } else if code == "ERR_INVALID_ARG_TYPE" {
            sys::napi_create_type_error(env, code_value, message_value, &mut value)
        } else {
            sys::napi_create_error(env, code_value, message_value, &mut value)
        };
        // Never return without an exception pending: that would read as a success.
        if error_made != ok || sys::napi_throw(env, value) != ok {
            sys::napi_throw_error(
                env,
                c"ERR_DISRUPTOR_NATIVE".as_ptr(),
                c"a fast call failed".as_ptr(),
            );
        }
    }
    ptr::null_mut()
}

/// The body of every fast function: reads `N` number arguments and the handle, runs `body`
/// (a panic becomes ERR_DISRUPTOR_NATIVE, never an unwind into Node), converts its result.
///
/// # Safety
/// `env` and `info` are those of an N-API callback made by [`functions`], whose `data` is a
/// live `H`.
pub(crate) unsafe fn call<H, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    names: [&str; N],
    body: impl FnOnce(&H, [f64; N]) -> Result<Out>,
) -> sys::napi_value {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    // SAFETY: a valid callback; `argv` holds `argc` values (missing ones come back undefined).
    let status = unsafe {
        sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data)
    };
    if status != sys::Status::napi_ok || data.is_null() {
        // SAFETY: as above.
        return unsafe { throw(env, coded("ERR_DISRUPTOR_NATIVE", "bad fast call")) };
    }
    let mut args = [0.0; N];
    for (i, arg) in args.iter_mut().enumerate() {
        // SAFETY: a value of this callback; a non-number fails with a status, nothing more.
        if unsafe { sys::napi_get_value_double(env, argv[i], arg) } != sys::Status::napi_ok {
            let error = coded("ERR_INVALID_ARG_TYPE", format!("{} must be a number", names[i]));
            // SAFETY: as above.
            return unsafe { throw(env, error) };
        }
    }
    // SAFETY: `data` is the `H` this function was made with; its finalizer frees it only after
    // the function itself is collected, so not while it runs.
    let handle = unsafe { &*(data as *const H) };
    let out = catch_unwind(AssertUnwindSafe(|| body(handle, args)))
        .unwrap_or_else(|_| Err(coded("ERR_DISRUPTOR_NATIVE", "panic in a fast call")));
    let mut value = ptr::null_mut();
    // SAFETY: a valid env; each call writes `value`.
    unsafe {
        match out {
            Ok(Out::Undefined) => sys::napi_get_undefined(env, &mut value),
            Ok(Out::Number(n)) => sys::napi_create_double(env, n, &mut value),
            Ok(Out::Bool(b)) => sys::napi_get_boolean(env, b, &mut value),
            Err(e) => return throw(env, e),
        };
    }
    value
}

unsafe extern "C" fn signal(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, [], |h: &FastHandle, []| {
            h.ring.engine.signal();
            Ok(Out::Undefined)
        })
    }
}

unsafe extern "C" fn gating_minimum(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, [], |h: &FastHandle, []| {
            let e = &h.ring.engine;
            Ok(Out::Number(e.gating_minimum(e.claimed()) as f64))
        })
    }
}

unsafe extern "C" fn is_halted(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(
            env,
            info,
            [],
            |h: &FastHandle, []| // Acquire: pairs with `halt`'s Release store (as `NativeRing::is_halted`).
        Ok(Out::Bool(h.ring.halted.load(std::sync::atomic::Ordering::Acquire))),
        )
    }
}

unsafe extern "C" fn publish(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, ["lo", "hi"], |h: &FastHandle, [lo, hi]| {
            crate::produce::publish_range(&h.ring, &h.inst, h.id, lo, hi).map(|()| Out::Undefined)
        })
    }
}

unsafe extern "C" fn claim(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, ["n", "gating"], |h: &FastHandle, [n, gating]| {
            claim_within(h, n, gating).map(|hi| Out::Number(hi as f64))
        })
    }
}

/// A multi producer's claim of `n` while `gating` (its cached lower bound of the slowest
/// consumer) shows room (`MultiProducerSequencer::try_next_within`): the compare-and-exchange
/// JavaScript would make with `Atomics`, without the BigInts they take and give (about 40 ns and
/// a collection every 30 thousand claims). Records `[lo, hi]` in this thread's claim mirror
/// before it returns (a thread terminated on the way back leaves its claim recorded), then
/// returns `hi` (a small integer, which N-API hands over without allocating) or, past
/// `2**31 - 1`, `ClaimSentinel::InMirror`; `ClaimSentinel::NoRoom` when `gating` shows no room
/// or the claim would pass exact numbers (nothing claimed).
fn claim_within(h: &FastHandle, n: f64, gating: f64) -> Result<i64> {
    if !h.ring.multi {
        // The cursor of a single producer is its split cursor's epoch: never claim on it.
        return Err(coded("ERR_DISRUPTOR_SINGLE_PRODUCER", "claim: not a multi-producer ring"));
    }
    let n = err::count("n", n, h.ring.size as usize)?;
    if gating.is_nan() {
        return Err(coded("ERR_INVALID_ARG_VALUE", "gating must be a number"));
    }
    // An integer bound: a sequence is above `gating` exactly when it is above its floor
    // (`as` saturates: -Infinity is i64::MIN).
    let bound = gating.floor() as i64;
    match h.ring.engine.claim_within(n, bound, err::MAX_SEQUENCE) {
        None => Ok(ClaimSentinel::NoRoom as i64),
        Some(hi) => {
            h.claims.record(hi - n + 1, hi);
            let small = hi <= i64::from(i32::MAX);
            Ok(if small { hi } else { ClaimSentinel::InMirror as i64 })
        }
    }
}

unsafe extern "C" fn scan(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, ["from", "last"], |h: &FastHandle, [from, last]| {
            let from = err::sequence("from", from)?;
            let last = err::sequence("last", last)?;
            if last < from || last - from >= i64::from(h.ring.size) {
                return Err(coded(
                    "ERR_INVALID_ARG_VALUE",
                    format!("invalid scan [{from}, {last}]"),
                ));
            }
            // A count, not a sequence: at most a ring (a small integer, never allocated).
            let found = h.ring.engine.published_until(from, last).map_or(0, |hi| hi - from + 1);
            Ok(Out::Number(found as f64))
        })
    }
}

unsafe extern "C" fn arm(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: made by `fast_calls` (see `call`).
    unsafe {
        call(env, info, ["cid", "next"], |h: &FastHandle, [cid, next]| {
            crate::consume::arm_waker(&h.inst, cid, next).map(|()| Out::Undefined)
        })
    }
}

/// Frees a function's handle once the garbage collector took the function.
unsafe extern "C" fn finalize<H>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box `functions` leaked for this function; finalized once.
    drop(unsafe { Box::from_raw(data as *mut H) });
}

/// A fast function's native body.
pub(crate) type Callback =
    unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// An object of fast functions, `callbacks` by name, each with its own `handle()` as its
/// callback data (freed when the function is collected).
pub(crate) fn functions<'a, H: 'static>(
    env: &Env,
    callbacks: &[(&str, Callback)],
    handle: impl Fn() -> H,
) -> Result<Object<'a>> {
    let raw = env.raw();
    let mut object = ptr::null_mut();
    // SAFETY: a valid env of this thread, in a call from JavaScript.
    if unsafe { sys::napi_create_object(raw, &mut object) } != sys::Status::napi_ok {
        return Err(coded("ERR_DISRUPTOR_NATIVE", "could not create an object"));
    }
    for &(name, callback) in callbacks {
        let data = Box::into_raw(Box::new(handle()));
        let mut function = ptr::null_mut();
        // SAFETY: as above; `name` is copied; `data` lives until `finalize` (added right after,
        // or freed here if the function was not made).
        unsafe {
            let made = sys::napi_create_function(
                raw,
                name.as_ptr().cast(),
                name.len() as isize,
                Some(callback),
                data.cast(),
                &mut function,
            );
            if made != sys::Status::napi_ok {
                drop(Box::from_raw(data));
                return Err(coded("ERR_DISRUPTOR_NATIVE", "could not create a function"));
            }
            let finalizer = sys::napi_add_finalizer(
                raw,
                function,
                data.cast(),
                Some(finalize::<H>),
                ptr::null_mut(),
                ptr::null_mut(),
            );
            if finalizer != sys::Status::napi_ok {
                // Leaked, not freed: the function exists and may still be called.
                return Err(coded("ERR_DISRUPTOR_NATIVE", "could not add a finalizer"));
            }
            let key = std::ffi::CString::new(name).expect("no NUL in fast function names");
            if sys::napi_set_named_property(raw, object, key.as_ptr(), function)
                != sys::Status::napi_ok
            {
                return Err(coded("ERR_DISRUPTOR_NATIVE", "could not set a property"));
            }
        }
    }
    Ok(Object::from_raw(raw, object))
}

const FUNCTIONS: [(&str, Callback); 7] = [
    ("signal", signal),
    ("gatingMinimum", gating_minimum),
    ("isHalted", is_halted),
    ("publish", publish),
    ("claim", claim),
    ("scan", scan),
    ("arm", arm),
];

#[napi]
impl NativeRing {
    /// This thread's fast functions for this ring (see the module docs): `signal()`,
    /// `gatingMinimum()`, `isHalted()`, `publish(lo, hi)`, `claim(n, gating)`,
    /// `scan(from, last)` and `arm(cid, next)` (waking sleepers, the multi producer's room
    /// bound, the halted flag, a checked publish, a multi-producer claim, how many sequences
    /// from `from` on are published, arming consumer `cid`'s waker for sequence `next`).
    #[napi(
        ts_return_type = "{ signal(): void; gatingMinimum(): number; isHalted(): boolean; publish(lo: number, hi: number): void; claim(n: number, gating: number): number; scan(from: number, last: number): number; arm(cid: number, next: number): void }"
    )]
    pub fn fast_calls(&self, env: Env) -> Result<Object<'_>> {
        let claims = lock(&self.inst).claims.clone();
        functions(&env, &FUNCTIONS, || FastHandle {
            ring: self.ring.clone(),
            inst: self.inst.clone(),
            id: self.id,
            claims: claims.clone(),
        })
    }
}
