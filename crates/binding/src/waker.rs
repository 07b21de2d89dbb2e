//! The native thread that wakes a JavaScript consumer when it goes from idle to busy.
//!
//! A JavaScript consumer drains every batch it finds in a loop on its own thread and only
//! then "arms" its waker, which blocks in the ring's wait strategy until the next sequence is
//! available and then calls the consumer back once through a thread-safe function. So a busy
//! consumer costs no thread-safe-function call at all, and an idle one costs one per wake-up.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use disruptor_core::Error;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::engine::Waiter;

/// Calls the JS consumer back: `false` when events arrived, `true` when a wait of a
/// timeout-blocking strategy timed out (the consumer's `onTimeout`; it stays armed). Weak: an
/// idle ring never keeps the process alive on its own.
pub(crate) type WakeFn = ThreadsafeFunction<bool, (), bool, Status, false, true>;

/// The handle's requests to the thread.
#[derive(Default)]
struct Requests {
    /// The sequence to wait for, while armed.
    armed: Option<i64>,
    stop: bool,
    /// A timeout call is queued and JavaScript has not handled it yet (`timeout_seen`): a
    /// busy JS thread gets one, not one per timeout.
    timeout_pending: bool,
}

/// What the waker thread and its handle share.
#[derive(Default)]
struct WakerState {
    requests: Mutex<Requests>,
    cv: Condvar,
}

/// A waker thread and the handle to arm and stop it.
pub(crate) struct Waker {
    state: Arc<WakerState>,
    waiter: Arc<dyn Waiter>,
    thread: Option<JoinHandle<()>>,
}

impl Waker {
    /// Starts the thread (named `name`), disarmed.
    pub(crate) fn spawn(
        name: String,
        waiter: Box<dyn Waiter>,
        wake: WakeFn,
    ) -> Result<Waker, Error> {
        let state = Arc::new(WakerState::default());
        let waiter: Arc<dyn Waiter> = Arc::from(waiter);
        let (s, w) = (state.clone(), waiter.clone());
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&s, &*w, wake))
            .map_err(|e| Error::ThreadSpawn(e.to_string()))?;
        Ok(Waker { state, waiter, thread: Some(thread) })
    }

    /// Asks for one call back once sequence `next` is available (at once if it already is).
    pub(crate) fn arm(&self, next: i64) {
        let mut requests = lock(&self.state.requests);
        requests.armed = Some(next);
        self.state.cv.notify_one();
    }

    /// JavaScript handled the timeout call: the next timeout may call again.
    pub(crate) fn timeout_seen(&self) {
        lock(&self.state.requests).timeout_pending = false;
    }

    /// Stops and joins the thread; no call back happens after this returns.
    pub(crate) fn stop(&mut self) {
        lock(&self.state.requests).stop = true;
        self.state.cv.notify_one();
        // Interrupts a wait in progress (the consumer is being removed or the ring halted).
        self.waiter.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(state: &WakerState, waiter: &dyn Waiter, wake: WakeFn) {
    loop {
        let next = {
            let mut requests = lock(&state.requests);
            loop {
                if requests.stop {
                    return;
                }
                if let Some(next) = requests.armed.take() {
                    break next;
                }
                requests = state.cv.wait(requests).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = waiter.wait_from(next);
        if let Err(Error::Timeout) = result {
            // A timeout strategy: tell the consumer, then keep waiting unless re-armed or
            // stopped meanwhile.
            let mut requests = lock(&state.requests);
            if requests.stop {
                return;
            }
            requests.armed.get_or_insert(next);
            let call = !requests.timeout_pending;
            requests.timeout_pending = true;
            drop(requests);
            if call && wake.call(true, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                return; // the JS environment is gone
            }
            continue;
        }
        if lock(&state.requests).stop {
            return;
        }
        // NonBlocking: never wait on the JS thread (it may be the one stopping us). At most one
        // call is queued per arm, so the queue cannot grow.
        let status = wake.call(false, ThreadsafeFunctionCallMode::NonBlocking);
        if result.is_err() || status != Status::Ok {
            // Closed (the JS side learns it on the call), or the JS environment is gone.
            return;
        }
    }
}
