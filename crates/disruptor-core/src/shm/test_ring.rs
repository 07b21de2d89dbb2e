//! Rings for this module's unit tests: in the temporary directory, removed on drop, and a pid
//! that is certainly dead.

use std::sync::Arc;

use super::{ProcessId, SharedRing, SharedRingOptions};

/// A ring removed when the test drops it.
pub(crate) struct TestRing(pub(crate) Arc<SharedRing>);

impl Drop for TestRing {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// A fresh ring named after `test` (and this process), made with `options`.
pub(crate) fn test_ring(test: &str, options: &SharedRingOptions) -> TestRing {
    std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    let name = format!("unit-{test}-{}", std::process::id());
    let _ = SharedRing::unlink(&name);
    TestRing(SharedRing::create(&name, options).unwrap())
}

/// A process that ran and exited (reaped): its pid is dead.
pub(crate) fn dead() -> ProcessId {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    ProcessId { pid, start: 1 }
}
