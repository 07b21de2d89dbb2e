//! Whether the process behind a table entry still runs: its pid, and on Linux its start time,
//! so that a pid the kernel handed to a new process after the old one died is not taken for it.

/// A process as the ring's tables record it.
///
/// ```
/// use disruptor_core::shm::ProcessId;
/// let me = ProcessId::current();
/// assert_eq!(me.pid, std::process::id());
/// assert!(me.is_alive());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    /// The process id.
    pub pid: u32,
    /// When it started (Linux: clock ticks after boot, from `/proc/<pid>/stat`); 0 where the
    /// platform does not say, and then only the pid is compared.
    pub start: u64,
}

impl ProcessId {
    /// This process.
    ///
    /// ```
    /// assert_ne!(disruptor_core::shm::ProcessId::current().pid, 0);
    /// ```
    pub fn current() -> ProcessId {
        let pid = std::process::id();
        ProcessId { pid, start: probe(pid).map_or(0, |p| p.start) }
    }

    /// Whether this process still runs: it exists, is not a zombie (killed, not yet reaped by
    /// its parent) and, where start times are known, started when the table says.
    ///
    /// ```
    /// use disruptor_core::shm::ProcessId;
    /// let mut me = ProcessId::current();
    /// if me.start != 0 {
    ///     me.start += 1; // the same pid, another process
    ///     assert!(!me.is_alive());
    /// }
    /// ```
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 || self.pid > i32::MAX as u32 {
            return false;
        }
        match probe(self.pid) {
            Some(found) => !found.zombie && (self.start == 0 || found.start == self.start),
            None => false,
        }
    }
}

/// What the platform says about a pid: `None` when no such process exists.
struct Probe {
    start: u64,
    zombie: bool,
}

#[cfg(target_os = "linux")]
fn probe(pid: u32) -> Option<Probe> {
    // `/proc/<pid>/stat`: "pid (comm) state ... starttime(22nd field) ...". `comm` may hold
    // spaces and parentheses, so the fields are counted after the last ')'.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(Probe { start, zombie: state == "Z" || state == "X" })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn probe(pid: u32) -> Option<Probe> {
    // SAFETY: signal 0 sends nothing; it only checks that the pid exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists.then_some(Probe { start: 0, zombie: false })
}

#[cfg(not(unix))]
fn probe(pid: u32) -> Option<Probe> {
    // Shared rings are not built here (see `crate::shm`); only this process is known alive.
    (pid == std::process::id()).then_some(Probe { start: 0, zombie: false })
}
