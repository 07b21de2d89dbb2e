//! [`Error`]: everything the engine refuses, each with a stable, Node-style code.

use std::fmt;

/// Why an engine call was refused. Every variant leaves the ring usable.
///
/// [`Error::code`] gives the Node-style code the JS layer throws with.
///
/// ```
/// use disruptor_core::{Error, RingBuffer};
/// let err = RingBuffer::new(3, || 0u64).unwrap_err();
/// assert_eq!(err, Error::InvalidBufferSize(3));
/// assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The ring size is zero, not a power of two, or above [`crate::MAX_BUFFER_SIZE`].
    InvalidBufferSize(usize),
    /// The slot size is zero, not a multiple of 8, or above [`crate::MAX_SLOT_SIZE`].
    InvalidSlotSize(usize),
    /// A claim of `requested` slots, which is less than 1 or more than the ring holds.
    InvalidClaim {
        /// Slots asked for.
        requested: i64,
        /// Slots in the ring.
        buffer_size: usize,
    },
    /// `try_next` found too little free room; nothing was claimed.
    InsufficientCapacity,
    /// `publish(lo, hi)` with `lo > hi`, a negative bound, or a span longer than the ring.
    InvalidRange {
        /// Lowest sequence asked for.
        lo: i64,
        /// Highest sequence asked for.
        hi: i64,
    },
    /// Publishing a sequence that was never claimed.
    NotClaimed {
        /// The first offending sequence.
        sequence: i64,
    },
    /// Publishing a sequence that is already published.
    AlreadyPublished {
        /// The first offending sequence.
        sequence: i64,
    },
    /// A single-producer ring publishes in claim order; `lo` was not the next one.
    OutOfOrder {
        /// The sequence that must be published next.
        expected: i64,
        /// The sequence that was given.
        lo: i64,
    },
    /// The ring is shut down: waits are released and new claims refused.
    Closed,
    /// A wait was interrupted by [`crate::SequenceBarrier::alert`] (a halt).
    Alerted,
    /// A wait with a timeout ran out of time.
    Timeout,
    /// A producer would wait for room that can never come: a gating consumer halted on an error.
    ConsumerHalted {
        /// Name of the halted consumer.
        name: String,
    },
    /// A stage token from another builder (or a dependency from another ring) was given.
    ForeignStage,
    /// A consumer that others depend on cannot leave before them (LMAX's rule): removing it
    /// would stop them for good.
    HasDependents {
        /// Name of the consumer asked to leave.
        name: String,
        /// Names of the consumers that depend on it.
        dependents: Vec<String>,
    },
    /// A producer would wait for room that only consumers driven by its own (waiting) thread
    /// can free: waiting would never end.
    WouldDeadlock,
    /// The OS refused to start a consumer thread.
    ThreadSpawn(String),
    /// The system refused the memory for the slots.
    OutOfMemory {
        /// Bytes asked for.
        bytes: usize,
    },
    /// A bad name or option of a shared ring (see [`crate::shm`]).
    InvalidName {
        /// What is wrong with it.
        reason: String,
    },
    /// No shared ring has this name.
    RingNotFound {
        /// The ring's name.
        name: String,
    },
    /// A shared ring with this name exists already.
    RingExists {
        /// The ring's name.
        name: String,
    },
    /// The ring file's mode does not let this user open it.
    PermissionDenied {
        /// The ring's name.
        name: String,
    },
    /// The file is not a usable ring: bad magic, truncated, inconsistent header, unfinished.
    ForeignRing {
        /// The ring's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ring was made by a build with another layout version.
    RingVersion {
        /// The ring's name.
        name: String,
        /// The file's version.
        found: u32,
        /// This build's version.
        expected: u32,
    },
    /// Every entry of a shared ring's producer or consumer table is taken.
    TableFull {
        /// "producers" or "consumers".
        table: &'static str,
        /// Entries in the table.
        capacity: usize,
    },
    /// A single-producer shared ring has a producer (of a live process) already.
    ProducerTaken {
        /// The ring's name.
        name: String,
    },
    /// A shared-ring producer claimed again before publishing its claim starting at `lo`.
    ClaimOpen {
        /// The first sequence of the open claim.
        lo: i64,
    },
    /// A system call on a ring file failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The system's message.
        message: String,
    },
}

impl Error {
    /// The Node-style error code for this error.
    ///
    /// ```
    /// assert_eq!(disruptor_core::Error::Closed.code(), "ERR_DISRUPTOR_CLOSED");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidBufferSize(_)
            | Error::InvalidSlotSize(_)
            | Error::InvalidClaim { .. }
            | Error::InvalidRange { .. }
            | Error::ForeignStage
            | Error::InvalidName { .. } => "ERR_INVALID_ARG_VALUE",
            Error::InsufficientCapacity => "ERR_DISRUPTOR_INSUFFICIENT_CAPACITY",
            Error::NotClaimed { .. } => "ERR_DISRUPTOR_NOT_CLAIMED",
            Error::AlreadyPublished { .. } => "ERR_DISRUPTOR_ALREADY_PUBLISHED",
            Error::OutOfOrder { .. } => "ERR_DISRUPTOR_SINGLE_PRODUCER",
            Error::Closed => "ERR_DISRUPTOR_CLOSED",
            Error::Alerted => "ERR_DISRUPTOR_ALERTED",
            Error::Timeout => "ERR_DISRUPTOR_TIMEOUT",
            Error::ConsumerHalted { .. } => "ERR_DISRUPTOR_CONSUMER_HALTED",
            Error::HasDependents { .. } => "ERR_DISRUPTOR_HAS_DEPENDENTS",
            Error::ThreadSpawn(_) => "ERR_DISRUPTOR_THREAD_SPAWN",
            Error::WouldDeadlock => "ERR_DISRUPTOR_WOULD_DEADLOCK",
            Error::OutOfMemory { .. } => "ERR_DISRUPTOR_OUT_OF_MEMORY",
            Error::RingNotFound { .. } => "ERR_DISRUPTOR_NOT_FOUND",
            Error::RingExists { .. } => "ERR_DISRUPTOR_EXISTS",
            Error::PermissionDenied { .. } => "ERR_DISRUPTOR_PERMISSION",
            Error::ForeignRing { .. } => "ERR_DISRUPTOR_FOREIGN",
            Error::RingVersion { .. } => "ERR_DISRUPTOR_VERSION",
            Error::TableFull { .. } => "ERR_DISRUPTOR_TABLE_FULL",
            Error::ClaimOpen { .. } => "ERR_DISRUPTOR_CLAIM_OPEN",
            Error::ProducerTaken { .. } => "ERR_DISRUPTOR_SINGLE_PRODUCER",
            Error::Io { .. } => "ERR_DISRUPTOR_IO",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidBufferSize(n) => write!(
                f,
                "ring size must be a power of two between 1 and {}, got {n}",
                crate::MAX_BUFFER_SIZE
            ),
            Error::InvalidSlotSize(n) => write!(
                f,
                "slot size must be a multiple of 8 between 8 and {}, got {n}",
                crate::MAX_SLOT_SIZE
            ),
            Error::InvalidClaim { requested, buffer_size } => {
                write!(f, "cannot claim {requested} slots: must be between 1 and {buffer_size}")
            }
            Error::InsufficientCapacity => write!(f, "not enough free slots in the ring"),
            Error::InvalidRange { lo, hi } => write!(f, "invalid sequence range [{lo}, {hi}]"),
            Error::NotClaimed { sequence } => write!(f, "sequence {sequence} was not claimed"),
            Error::AlreadyPublished { sequence } => {
                write!(f, "sequence {sequence} is already published")
            }
            Error::OutOfOrder { expected, lo } => write!(
                f,
                "single producer must publish in claim order: expected {expected}, got {lo}"
            ),
            Error::Closed => write!(f, "the disruptor is closed"),
            Error::Alerted => write!(f, "the wait was alerted (halt)"),
            Error::Timeout => write!(f, "the wait timed out"),
            Error::ConsumerHalted { name } => {
                write!(f, "consumer '{name}' halted on an error; the ring can no longer drain")
            }
            Error::ForeignStage => write!(f, "stage belongs to another disruptor builder"),
            Error::HasDependents { name, dependents } => write!(
                f,
                "consumer '{name}' cannot be removed before the consumers that depend on it: {}",
                dependents.join(", ")
            ),
            Error::OutOfMemory { bytes } => {
                write!(f, "could not allocate {bytes} bytes for the ring's slots")
            }
            Error::WouldDeadlock => write!(
                f,
                "the ring is full and only consumers run by this thread can free it: waiting \
                 here would never end"
            ),
            Error::ThreadSpawn(e) => write!(f, "could not start a consumer thread: {e}"),
            Error::InvalidName { reason } => write!(f, "{reason}"),
            Error::RingNotFound { name } => write!(f, "no shared ring named {name:?}"),
            Error::RingExists { name } => write!(f, "a shared ring named {name:?} exists"),
            Error::PermissionDenied { name } => {
                write!(f, "shared ring {name:?}: permission denied (see its file mode)")
            }
            Error::ForeignRing { name, reason } => {
                write!(f, "{name:?} is not a usable shared ring: {reason}")
            }
            Error::RingVersion { name, found, expected } => write!(
                f,
                "shared ring {name:?} has layout version {found}; this build reads {expected}"
            ),
            Error::TableFull { table, capacity } => {
                write!(f, "the shared ring's {table} table is full ({capacity} entries)")
            }
            Error::ProducerTaken { name } => write!(
                f,
                "shared ring {name:?} is single-producer and a live process produces into it"
            ),
            Error::ClaimOpen { lo } => {
                write!(f, "the claim from sequence {lo} is not published yet: publish it first")
            }
            Error::Io { op, message } => write!(f, "shared ring {op} failed: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of engine calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
