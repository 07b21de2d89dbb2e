//! Rings by id, so that `share()` can hand a plain-data handle to another thread and
//! `attach()` there can find the same ring. Holds weak references: a ring lives as long as some
//! thread's `Disruptor` uses it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::shared::RingState;

/// Ring id -> (token, ring).
type Rings = HashMap<u32, (String, Weak<RingState>)>;

static RINGS: OnceLock<Mutex<Rings>> = OnceLock::new();

fn rings() -> std::sync::MutexGuard<'static, Rings> {
    RINGS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh id and an unguessable token for a new ring.
pub(crate) fn reserve() -> (u32, String) {
    let mut rings = rings();
    rings.retain(|_, (_, w)| w.strong_count() > 0);
    let mut id = rings.len() as u32 + 1;
    while rings.contains_key(&id) {
        id = id.wrapping_add(1).max(1);
    }
    let seed = RandomState::new();
    let token =
        format!("{:016x}{:016x}", seed.hash_one(id), seed.hash_one(std::time::Instant::now()));
    rings.insert(id, (token.clone(), Weak::new()));
    (id, token)
}

/// Records the ring under the id `reserve` gave.
pub(crate) fn register(id: u32, ring: &Arc<RingState>) {
    if let Some(entry) = rings().get_mut(&id) {
        entry.1 = Arc::downgrade(ring);
    }
}

/// The live ring with this id and token.
pub(crate) fn find(id: u32, token: &str) -> Option<Arc<RingState>> {
    let rings = rings();
    let (t, ring) = rings.get(&id)?;
    if t != token {
        return None;
    }
    ring.upgrade()
}
