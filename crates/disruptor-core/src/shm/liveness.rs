//! Whether the process behind a table entry still runs: its pid, and on Linux its start time,
//! so that a pid the kernel handed to a new process after the old one died is not taken for it.
//! When in doubt (a `/proc` that hides other processes, no file descriptor left) a process
//! counts as alive: declaring a live process dead would abandon its claims and drop its
//! consumer, while the opposite only delays recovery.

/// A process as the ring's tables record it (an *owner word*: see `layout`).
///
/// ```
/// use disruptor_core::shm::ProcessId;
/// let me = ProcessId::current();
/// assert_eq!(me.pid, std::process::id());
/// assert!(me.is_alive());
/// assert_eq!(ProcessId::from_word(me.word()), Some(me));
/// assert_eq!(ProcessId::from_word(0), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    /// The process id.
    pub pid: u32,
    /// The low 32 bits of when it started (Linux: clock ticks after boot, from
    /// `/proc/<pid>/stat`); 0 where the platform does not say, and then only the pid counts.
    pub start: u32,
}

impl ProcessId {
    /// This process.
    ///
    /// ```
    /// assert_ne!(disruptor_core::shm::ProcessId::current().pid, 0);
    /// ```
    pub fn current() -> ProcessId {
        // Read from /proc once per process (every sleep registers with it), keyed by the pid
        // so that a child forked without exec reads its own.
        static CACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let pid = std::process::id();
        // Relaxed: the word is all there is to share, and any value read is a correct one.
        let cached = CACHED.load(std::sync::atomic::Ordering::Relaxed);
        if cached != 0 && cached as u32 == pid {
            return ProcessId { pid, start: (cached >> 32) as u32 };
        }
        let start = match probe(pid) {
            Probe::Running { start } => start,
            _ => 0,
        };
        let me = ProcessId { pid, start };
        CACHED.store(me.word(), std::sync::atomic::Ordering::Relaxed);
        me
    }

    /// The owner word: pid in the low 32 bits, start above. Never 0 for a real process.
    ///
    /// ```
    /// let p = disruptor_core::shm::ProcessId { pid: 7, start: 1 };
    /// assert_eq!(p.word(), (1 << 32) | 7);
    /// ```
    pub fn word(&self) -> u64 {
        (u64::from(self.start) << 32) | u64::from(self.pid)
    }

    /// The process an owner word names; `None` for 0 (a free entry).
    ///
    /// ```
    /// use disruptor_core::shm::ProcessId;
    /// assert_eq!(ProcessId::from_word(7), Some(ProcessId { pid: 7, start: 0 }));
    /// ```
    pub fn from_word(word: u64) -> Option<ProcessId> {
        (word != 0).then_some(ProcessId { pid: word as u32, start: (word >> 32) as u32 })
    }

    /// Whether this process still runs: it exists, is not a zombie (killed, not yet reaped by
    /// its parent) and, where start times are known, started when the table says. Unknown
    /// counts as alive (see the module docs).
    ///
    /// ```
    /// use disruptor_core::shm::ProcessId;
    /// let mut me = ProcessId::current();
    /// if me.start != 0 {
    ///     me.start = me.start.wrapping_add(1); // the same pid, another process
    ///     assert!(!me.is_alive());
    /// }
    /// assert!(!ProcessId { pid: 0, start: 0 }.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 || self.pid > i32::MAX as u32 {
            return false;
        }
        match probe(self.pid) {
            Probe::Running { start } => self.start == 0 || start == 0 || start == self.start,
            Probe::Zombie | Probe::Gone => false,
            Probe::Unknown => true,
        }
    }
}

/// What the platform says about a pid.
enum Probe {
    Running { start: u32 },
    Zombie,
    Gone,
    Unknown,
}

#[cfg(target_os = "linux")]
fn probe(pid: u32) -> Probe {
    // `/proc/<pid>/stat`: "pid (comm) state ... starttime(22nd field) ...". `comm` may hold
    // spaces and parentheses, so the fields are counted after the last ')'.
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        // Gone, hidden (`hidepid`) or unreadable (no descriptor left): ask kill(2).
        Err(_) => return kill_probe(pid),
    };
    let Some(close) = stat.rfind(')') else { return Probe::Unknown };
    let mut fields = stat[close + 1..].split_ascii_whitespace();
    let state = fields.next();
    let start: Option<u64> = fields.nth(18).and_then(|f| f.parse().ok());
    match (state, start) {
        (Some("Z" | "X"), _) => Probe::Zombie,
        (Some(_), Some(start)) => Probe::Running { start: start as u32 },
        _ => Probe::Unknown,
    }
}

#[cfg(not(target_os = "linux"))]
fn probe(pid: u32) -> Probe {
    match kill_probe(pid) {
        Probe::Running { .. } => Probe::Running { start: 0 },
        other => other,
    }
}

/// `kill(pid, 0)`: the pid exists (or belongs to another user: EPERM), or it does not
/// (ESRCH). Used where `/proc` says nothing: another platform, or a `/proc/<pid>` that is
/// missing (gone, or hidden by `hidepid`) or unreadable.
#[cfg(unix)]
fn kill_probe(pid: u32) -> Probe {
    // SAFETY: signal 0 sends nothing; it only checks that the pid exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if rc == 0 {
        return Probe::Running { start: 0 };
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Probe::Gone,
        Some(libc::EPERM) => Probe::Running { start: 0 },
        _ => Probe::Unknown,
    }
}

/// The pid namespace of this process (Linux: the inode of `/proc/self/ns/pid`), or 0 if
/// unknown. Processes in different pid namespaces cannot judge each other's pids.
pub(crate) fn pid_namespace() -> u64 {
    #[cfg(target_os = "linux")]
    if let Ok(link) = std::fs::read_link("/proc/self/ns/pid") {
        let text = link.to_string_lossy();
        if let Some(inode) = text.strip_prefix("pid:[").and_then(|t| t.strip_suffix(']')) {
            return inode.parse().unwrap_or(0);
        }
    }
    0
}
