//! Live removal of consumers from any thread. A JavaScript consumer is driven by the thread
//! that registered it (it reads slots there), so only that thread may let it go: another
//! thread's request is checked here (the name is known and unique, nothing depends on it),
//! then handed to the owning thread through its thread-safe function; the requester watches
//! the consumer's entry until it is gone (or refused).

use std::sync::{Arc, Mutex, MutexGuard};

use disruptor_core::{ConsumerInfo, Error};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::error::{self as err, coded, Result};
use crate::instance::lock;
use crate::ring::NativeRing;
use crate::shared::RingState;

/// Calls an owning thread with the id of its consumer another thread asked to remove. Weak:
/// it never keeps that thread alive.
pub(crate) type RemoveFn = ThreadsafeFunction<u32, (), u32, Status, false, true>;

/// One consumer of the ring, of any thread: where removal requests for it go.
pub(crate) struct Entry {
    /// Ring-wide, never reused: what a requester watches.
    serial: u32,
    info: Arc<ConsumerInfo>,
    /// The owning thread's instance id and its consumer id there.
    instance: u64,
    cid: u32,
    /// Another thread asked for its removal and the owner has not answered yet.
    requested: bool,
    /// The owner refused a requested removal, with its error's code and message.
    refused: Option<(String, String)>,
}

/// Every thread's consumers and removal listeners (part of `RingState`).
#[derive(Default)]
pub(crate) struct Directory {
    entries: Vec<Entry>,
    listeners: Vec<(u64, RemoveFn)>,
    next_serial: u32,
}

impl Directory {
    /// Records consumer `cid` of `instance`; its serial.
    pub(crate) fn add(&mut self, info: Arc<ConsumerInfo>, instance: u64, cid: u32) -> u32 {
        self.next_serial = self.next_serial.wrapping_add(1);
        let serial = self.next_serial;
        self.entries.push(Entry { serial, info, instance, cid, requested: false, refused: None });
        serial
    }

    /// Consumer `cid` of `instance` is gone.
    pub(crate) fn remove(&mut self, instance: u64, cid: u32) {
        self.entries.retain(|e| !(e.instance == instance && e.cid == cid));
    }

    /// The owner could not remove consumer `cid`: a requester learns why.
    pub(crate) fn refuse(&mut self, instance: u64, cid: u32, code: &str, why: String) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.instance == instance && e.cid == cid) {
            if e.requested {
                e.requested = false;
                e.refused = Some((code.to_owned(), why));
            }
        }
    }

    /// The serial of the consumer `info` is (0 if not recorded here).
    pub(crate) fn serial_of(&self, info: &Arc<ConsumerInfo>) -> u32 {
        self.entries.iter().find(|e| Arc::ptr_eq(&e.info, info)).map_or(0, |e| e.serial)
    }

    /// `instance` detached: its consumers and its listener are gone.
    pub(crate) fn forget(&mut self, instance: u64) {
        self.entries.retain(|e| e.instance != instance);
        self.listeners.retain(|(i, _)| *i != instance);
    }
}

impl RingState {
    /// The ring's directory, locked.
    pub(crate) fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What `requestRemove` found.
#[napi(object)]
pub struct RemoveTicket {
    /// What `removalState` watches.
    pub serial: u32,
    /// Set when the consumer is this thread's own: the caller removes it (no request was sent).
    pub local_id: Option<u32>,
}

/// Where a requested removal stands.
#[napi(object)]
pub struct RemovalState {
    /// The consumer is gone.
    pub removed: bool,
    /// The owner refused (the consumer stays): its error's code...
    pub code: Option<String>,
    /// ...and message.
    pub message: Option<String>,
}

#[napi]
impl NativeRing {
    /// Calls `onRequest(cid)` on this thread when another thread asks to remove consumer `cid`
    /// of this thread (by name, `requestRemove`).
    #[napi]
    pub fn on_remove_request(&self, on_request: Function<u32, ()>) -> Result<()> {
        let f: RemoveFn = on_request
            .build_threadsafe_function::<u32>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(err::napi)?;
        let inst = lock(&self.inst);
        if inst.detached {
            return Err(err::engine(Error::Closed));
        }
        let mut dir = self.ring.directory();
        dir.listeners.retain(|(i, _)| *i != self.id);
        dir.listeners.push((self.id, f));
        Ok(())
    }

    /// Asks for the removal of the consumer named `name`, on whichever thread drives it:
    /// ERR_DISRUPTOR_UNKNOWN_CONSUMER if no consumer has that name, ..._AMBIGUOUS_CONSUMER if
    /// several do, ERR_DISRUPTOR_HAS_DEPENDENTS while consumers depend on it. A consumer of
    /// this thread is left to the caller (`localId`); another thread's is asked to go.
    #[napi]
    pub fn request_remove(&self, name: String) -> Result<RemoveTicket> {
        if lock(&self.inst).detached || self.engine().is_closed() {
            return Err(err::engine(Error::Closed));
        }
        let mut dir = self.ring.directory();
        let mut found = dir.entries.iter().filter(|e| e.info.name() == name);
        let (Some(entry), None) = (found.next(), found.next()) else {
            let n = dir.entries.iter().filter(|e| e.info.name() == name).count();
            return Err(if n == 0 {
                coded("ERR_DISRUPTOR_UNKNOWN_CONSUMER", format!("no consumer named '{name}'"))
            } else {
                coded(
                    "ERR_DISRUPTOR_AMBIGUOUS_CONSUMER",
                    format!("{n} consumers are named '{name}': remove them through their groups"),
                )
            });
        };
        let dependents = self.engine().dependents_of(&entry.info);
        if !dependents.is_empty() {
            let dependents = dependents.iter().map(|c| c.name().to_owned()).collect();
            return Err(err::engine(Error::HasDependents { name, dependents }));
        }
        let (serial, instance, cid) = (entry.serial, entry.instance, entry.cid);
        if instance == self.id {
            return Ok(RemoveTicket { serial, local_id: Some(cid) });
        }
        let Some((_, listener)) = dir.listeners.iter().find(|(i, _)| *i == instance) else {
            return Err(coded("ERR_DISRUPTOR_CLOSED", "the consumer's thread has left the ring"));
        };
        // NonBlocking: never wait on another JS thread (it may be waiting on this one). The
        // owner answers under the directory's lock, which this holds: `requested` is set first.
        let status = listener.call(cid, ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            return Err(coded("ERR_DISRUPTOR_CLOSED", "the consumer's thread has left the ring"));
        }
        if let Some(e) = dir.entries.iter_mut().find(|e| e.serial == serial) {
            e.requested = true;
            e.refused = None;
        }
        Ok(RemoveTicket { serial, local_id: None })
    }

    /// Where the removal `requestRemove` asked for stands.
    #[napi]
    pub fn removal_state(&self, serial: u32) -> RemovalState {
        let dir = self.ring.directory();
        match dir.entries.iter().find(|e| e.serial == serial) {
            None => RemovalState { removed: true, code: None, message: None },
            Some(e) => {
                let (code, message) = e.refused.clone().unzip();
                RemovalState { removed: false, code, message }
            }
        }
    }

    /// This thread could not remove consumer `cid`, which another thread asked for: the
    /// requester's `removalState` reports `code` and `message`.
    #[napi]
    pub fn refuse_removal(&self, cid: u32, code: String, message: String) {
        self.ring.directory().refuse(self.id, cid, &code, message);
    }

    /// The consumers that depend on consumer `cid` of this thread (what must be removed
    /// before it may be): their ids on this thread (a consumer depends only on consumers of
    /// its own thread).
    #[napi]
    pub fn dependents_of(&self, cid: u32) -> Result<Vec<u32>> {
        let mut inst = lock(&self.inst);
        let info = inst.consumer(cid)?.handle.info().clone();
        let dependents = self.engine().dependents_of(&info);
        let ids = inst
            .consumers
            .iter()
            .enumerate()
            .filter_map(|(id, c)| {
                let c = c.as_ref()?;
                dependents.iter().any(|d| Arc::ptr_eq(d, c.handle.info())).then_some(id as u32)
            })
            .collect();
        Ok(ids)
    }
}

/// The directory as `RingState` holds it.
pub(crate) type SharedDirectory = Mutex<Directory>;
