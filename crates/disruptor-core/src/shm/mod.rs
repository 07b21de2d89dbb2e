//! Shared rings: one multi-producer ring in a named shared-memory file that several processes
//! (Node or Rust) open, produce into and consume from.
//!
//! Everything lives in the file (see [`layout`](self) for the byte map): the slots, the claim
//! cursor, one availability flag per slot, a table of producers (each with the claim it holds)
//! and a table of consumers (each with its sequence, which gates producers). Processes share
//! nothing else, so:
//!
//! - claims are a compare-and-exchange on the cursor, as in [`crate::MultiProducerSequencer`];
//! - waiting uses a futex word in the file (Linux); an idle ring costs no CPU, and a publish
//!   with nobody asleep no fence where `membarrier` works ([`fence_mode`]);
//! - a process that dies (SIGKILL included) is found by pid and start time
//!   ([`ProcessId::is_alive`]) by the next producer or consumer that waits on it: its consumers
//!   stop gating, and the claims it held are *abandoned* (published with a mark, so consumers
//!   skip them: never delivered, counted in [`SharedRingStats::abandoned`]).
//!
//! ```
//! use disruptor_core::shm::{SharedRing, SharedRingOptions};
//! # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
//! let name = format!("doc-shm-{}", std::process::id());
//! let ring = SharedRing::create(&name, &SharedRingOptions::new(64, 16)).unwrap();
//! let mut consumer = ring.consumer("audit").unwrap(); // joins at the cursor
//!
//! let other = SharedRing::open(&name).unwrap(); // as another process would
//! let mut producer = other.producer().unwrap();
//! let hi = producer.next(2).unwrap();
//! producer.write(hi - 1, b"hello").unwrap();
//! producer.write(hi, b"world").unwrap();
//! producer.publish().unwrap();
//!
//! let mut seen = Vec::new();
//! consumer.poll(|seq, bytes| seen.push((seq, bytes[..5].to_vec()))).unwrap();
//! assert_eq!(seen, [(0, b"hello".to_vec()), (1, b"world".to_vec())]);
//! SharedRing::unlink(&name).unwrap();
//! ```
//!
//! Unix only (Linux first class: futex wake-ups and exact liveness; elsewhere sleepers poll
//! every millisecond and liveness is by pid alone). Not built on Windows.

mod consumer;
mod futex;
mod layout;
mod liveness;
mod message;
mod name;
mod producer;
mod recovery;
mod ring;
mod single;
#[cfg(test)]
mod test_ring;
mod wait;

pub use consumer::SharedConsumer;
pub use layout::{LAYOUT_VERSION, MAX_CONSUMER_NAME, MAX_LAYOUT_LEN, MAX_TABLE};
pub use liveness::ProcessId;
pub use message::{MessageKind, FRAME_HEADER};
pub use name::{ring_dir, ring_path, validate_name, MAX_NAME_LEN};
pub use producer::SharedProducer;
pub use ring::{
    SharedConsumerInfo, SharedProducerInfo, SharedRing, SharedRingOptions, SharedRingStats,
};
pub use single::SingleProducerWords;

use std::time::Duration;

/// How long a waiter sleeps between checks of its peers' liveness: the bound on how late a
/// dead process is noticed by a producer or consumer waiting on it (plus reading
/// `/proc/<pid>/stat` for each entry).
pub const LIVENESS_INTERVAL: Duration = Duration::from_millis(50);

/// How this process signals sleepers of shared rings: `"membarrier"` (a publish pays a
/// compiler fence; a sleeper's `MEMBARRIER_CMD_GLOBAL_EXPEDITED` covers it) or `"fences"` (a
/// publish pays a full fence: not Linux, a kernel before 4.16, a filter, or
/// `DISRUPTOR_NO_MEMBARRIER` set). Either pairs with sleepers in any other process.
///
/// ```
/// let mode = disruptor_core::shm::fence_mode();
/// assert!(mode == "membarrier" || mode == "fences");
/// ```
pub fn fence_mode() -> &'static str {
    crate::asymmetric_fence::global::mode()
}
