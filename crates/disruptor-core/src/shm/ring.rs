//! [`SharedRing`]: creating, opening and removing a ring file, and what every peer reads from
//! its header and tables.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};

use super::futex::WakeWord;
use super::layout::*;
use super::liveness::{pid_namespace, ProcessId};
use super::name::ring_path;
use super::{SharedConsumer, SharedProducer};
use crate::error::{Error, Result};

/// How a ring is created.
///
/// ```
/// let o = disruptor_core::shm::SharedRingOptions::new(1024, 64);
/// assert_eq!((o.max_producers, o.max_consumers, o.mode), (16, 16, 0o600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRingOptions {
    /// Slots, a power of two, 2 ..= 2^30.
    pub buffer_size: usize,
    /// Bytes per slot, a multiple of 8, 8 ..= 65536.
    pub slot_size: usize,
    /// Producer handles that may exist at once, over all processes (1 ..= 1024).
    pub max_producers: usize,
    /// Consumers that may exist at once, over all processes (1 ..= 1024).
    pub max_consumers: usize,
    /// The file's permission bits (default 0600: this user only); set exactly, whatever the
    /// umask.
    pub mode: u32,
    /// Up to [`MAX_LAYOUT_LEN`] bytes describing the events (the JS layer stores its event
    /// layout here so that `open` gets it back); opaque to the engine.
    pub layout: Vec<u8>,
    /// One producer at a time (LMAX's `ProducerType.SINGLE`; `max_producers` is then 1): its
    /// claims are its own until published, a publish is two 32-bit swaps, and a producer that
    /// dies leaves nothing for consumers to skip; another process may take its place. See
    /// the `single` module.
    pub single_producer: bool,
}

impl SharedRingOptions {
    /// `buffer_size` slots of `slot_size` bytes, 16 producers, 16 consumers, mode 0600.
    ///
    /// ```
    /// assert_eq!(disruptor_core::shm::SharedRingOptions::new(8, 8).layout.len(), 0);
    /// ```
    pub fn new(buffer_size: usize, slot_size: usize) -> SharedRingOptions {
        SharedRingOptions {
            buffer_size,
            slot_size,
            max_producers: 16,
            max_consumers: 16,
            mode: 0o600,
            layout: Vec::new(),
            single_producer: false,
        }
    }
}

/// A producer entry, as [`SharedRing::stats`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedProducerInfo {
    /// The owning process.
    pub pid: u32,
    /// Whether that process still runs.
    pub alive: bool,
    /// Sequences it published.
    pub published: u64,
    /// The claim it holds (or is making), `[lo, hi]`.
    pub claim: Option<(i64, i64)>,
}

/// A consumer entry, as [`SharedRing::stats`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedConsumerInfo {
    /// Its name.
    pub name: String,
    /// The owning process.
    pub pid: u32,
    /// Whether that process still runs (a dead one gates until a waiting producer reaps it).
    pub alive: bool,
    /// The last sequence it finished.
    pub sequence: i64,
    /// `cursor - sequence`.
    pub lag: i64,
    /// Events it received.
    pub events: u64,
    /// Batches it received.
    pub batches: u64,
}

/// A snapshot of a shared ring, read from the file: the same for every process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRingStats {
    /// The highest claimed sequence (single producer: published).
    pub cursor: i64,
    /// Whether intake is closed.
    pub closed: bool,
    /// Whether the ring is single-producer.
    pub single_producer: bool,
    /// Threads (of any process) asleep waiting for events, and waiting for room.
    pub asleep: (u32, u32),
    /// Sequences abandoned (claimed by a producer that died or gave them up; never delivered).
    pub abandoned: u64,
    /// Producer entries reaped after their process died.
    pub dead_producers: u64,
    /// Consumer entries reaped after their process died.
    pub dead_consumers: u64,
    /// Producer entries in use.
    pub producers: Vec<SharedProducerInfo>,
    /// Consumer entries in use.
    pub consumers: Vec<SharedConsumerInfo>,
}

/// A ring in a named shared-memory file; see [the module](crate::shm).
///
/// ```
/// use disruptor_core::shm::{SharedRing, SharedRingOptions};
/// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
/// let name = format!("doc-ring-{}", std::process::id());
/// let ring = SharedRing::create(&name, &SharedRingOptions::new(8, 8)).unwrap();
/// assert_eq!(SharedRing::create(&name, &SharedRingOptions::new(8, 8)).unwrap_err().code(),
///            "ERR_DISRUPTOR_EXISTS");
/// assert_eq!((ring.buffer_size(), ring.slot_size(), ring.cursor()), (8, 8, -1));
/// ring.remove().unwrap();
/// assert_eq!(SharedRing::open(&name).unwrap_err().code(), "ERR_DISRUPTOR_NOT_FOUND");
/// ```
pub struct SharedRing {
    pub(crate) region: Region,
    /// log2 of the buffer size: a sequence's lap.
    pub(crate) shift: u32,
    /// False when this process is in another pid namespace than the ring's creator: pids in
    /// the tables then mean nothing here, so this process never judges a peer dead.
    pub(crate) judges_liveness: bool,
    /// Single-producer ring (the header's kind, copied at open).
    pub(crate) single: bool,
    name: String,
    path: PathBuf,
    /// Keeps the mapping (and so `region`) alive; unmapped on drop.
    _map: MmapRaw,
}

impl std::fmt::Debug for SharedRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRing")
            .field("name", &self.name)
            .field("buffer_size", &self.buffer_size())
            .field("slot_size", &self.slot_size())
            .finish()
    }
}

fn io_error(name: &str, op: &'static str, e: std::io::Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => Error::RingNotFound { name: name.to_owned() },
        ErrorKind::AlreadyExists => Error::RingExists { name: name.to_owned() },
        ErrorKind::PermissionDenied => Error::PermissionDenied { name: name.to_owned() },
        _ => Error::Io { op, message: e.to_string() },
    }
}

fn foreign(name: &str, reason: impl Into<String>) -> Error {
    Error::ForeignRing { name: name.to_owned(), reason: reason.into() }
}

/// The two tables of a ring.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Producers,
    Consumers,
}

/// How long `open` waits for a ring whose creator is still writing its header.
const INIT_WAIT: Duration = Duration::from_secs(2);

impl SharedRing {
    /// Creates ring `name` (an error if it exists), with mode `options.mode`.
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` (a bad name, size or table size, a layout over
    /// [`MAX_LAYOUT_LEN`], a mode over 0777), `ERR_DISRUPTOR_EXISTS`,
    /// `ERR_DISRUPTOR_PERMISSION`, `ERR_DISRUPTOR_IO` (no room in the ring directory: the space
    /// is reserved now, so a full `/dev/shm` fails here and not with a SIGBUS later).
    pub fn create(name: &str, options: &SharedRingOptions) -> Result<Arc<SharedRing>> {
        crate::asymmetric_fence::global::init();
        let path = ring_path(name)?;
        let geometry = Geometry::new(
            options.buffer_size,
            options.slot_size,
            if options.single_producer { 1 } else { options.max_producers },
            options.max_consumers,
        )?;
        if options.layout.len() > MAX_LAYOUT_LEN {
            return Err(Error::InvalidName {
                reason: format!("a layout may hold at most {MAX_LAYOUT_LEN} bytes"),
            });
        }
        if options.mode > 0o777 {
            return Err(Error::InvalidName {
                reason: format!("mode {:o} is not a permission mode (0 ..= 0777)", options.mode),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(options.mode)
            .open(&path)
            .map_err(|e| io_error(name, "create", e))?;
        let created = (|| {
            // The umask may have removed bits the caller asked for.
            file.set_permissions(std::fs::Permissions::from_mode(options.mode))
                .map_err(|e| io_error(name, "chmod", e))?;
            reserve(&file, geometry.total_len).map_err(|e| io_error(name, "reserve", e))?;
            let map = MmapOptions::new()
                .len(geometry.total_len)
                .map_raw(&file)
                .map_err(|e| io_error(name, "mmap", e))?;
            // SAFETY: the mapping is page-aligned, `total_len` bytes long, and lives in `_map`
            // as long as the region.
            let region = unsafe { Region::new(map.as_mut_ptr(), geometry) };
            initialise(&region, options);
            Ok(SharedRing::from_parts(region, map, name, path.clone(), options.single_producer))
        })();
        if created.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        created
    }

    /// Opens ring `name`, created by any process of a user whose file mode lets this one read
    /// and write it. The header is checked before anything else is read: magic, layout version
    /// and dimensions, against the file's real length.
    ///
    /// Errors: `ERR_INVALID_ARG_VALUE` (a bad name), `ERR_DISRUPTOR_NOT_FOUND`,
    /// `ERR_DISRUPTOR_PERMISSION`, `ERR_DISRUPTOR_FOREIGN` (not a ring file, truncated, or its
    /// creator died before finishing it), `ERR_DISRUPTOR_VERSION` (another layout version).
    pub fn open(name: &str) -> Result<Arc<SharedRing>> {
        crate::asymmetric_fence::global::init();
        let path = ring_path(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(name, "open", e))?;
        let started = Instant::now();
        loop {
            match SharedRing::try_open(name, &path, &file)? {
                Some(ring) => return Ok(ring),
                None if started.elapsed() < INIT_WAIT => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                None => {
                    return Err(foreign(
                        name,
                        "the ring was never finished (its creator died while creating it)",
                    ))
                }
            }
        }
    }

    /// One look at the file: `None` while its creator is still writing it.
    fn try_open(name: &str, path: &Path, file: &File) -> Result<Option<Arc<SharedRing>>> {
        let len = file.metadata().map_err(|e| io_error(name, "stat", e))?.len();
        if len < HEADER_BYTES as u64 {
            return if len == 0 { Ok(None) } else { Err(foreign(name, "shorter than a header")) };
        }
        let len = usize::try_from(len).map_err(|_| foreign(name, "too large"))?;
        let map =
            MmapOptions::new().len(len).map_raw(file).map_err(|e| io_error(name, "mmap", e))?;
        let header = Header(map.as_ptr());
        let ready = header.u32(READY_AT) == 1;
        fence(Ordering::Acquire); // pairs with the creator's Release store of `ready`
        if header.bytes8(0) != MAGIC {
            return if !ready && header.bytes8(0) == [0; 8] {
                Ok(None)
            } else {
                Err(foreign(name, "not a napi-disruptor ring (bad magic)"))
            };
        }
        let version = header.u32(VERSION_AT);
        if version != LAYOUT_VERSION {
            return Err(Error::RingVersion {
                name: name.to_owned(),
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        if !ready {
            return Ok(None);
        }
        let as_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let geometry = Geometry::new(
            as_usize(header.u64(BUFFER_AT)),
            as_usize(header.u64(SLOT_AT)),
            header.u32(MAX_PRODUCERS_AT) as usize,
            header.u32(MAX_CONSUMERS_AT) as usize,
        )
        .map_err(|e| foreign(name, format!("bad dimensions in the header: {e}")))?;
        if header.u64(TOTAL_AT) != geometry.total_len as u64 {
            return Err(foreign(name, "the header's length does not match its dimensions"));
        }
        if len < geometry.total_len {
            return Err(foreign(
                name,
                format!("truncated: {len} bytes, its header says {}", geometry.total_len),
            ));
        }
        if header.u32(LAYOUT_LEN_AT) as usize > MAX_LAYOUT_LEN {
            return Err(foreign(name, "the layout length is out of range"));
        }
        let single = match header.u32(KIND_AT) {
            0 => false,
            1 if geometry.max_producers == 1 => true,
            _ => return Err(foreign(name, "bad producer kind in the header")),
        };
        // SAFETY: page-aligned, at least `total_len` bytes (checked above), kept in `_map`.
        let region = unsafe { Region::new(map.as_mut_ptr(), geometry) };
        Ok(Some(SharedRing::from_parts(region, map, name, path.to_path_buf(), single)))
    }

    fn from_parts(
        region: Region,
        map: MmapRaw,
        name: &str,
        path: PathBuf,
        single: bool,
    ) -> Arc<SharedRing> {
        let shift = region.geometry.buffer_size.trailing_zeros();
        let theirs = region.u64_at(PID_NAMESPACE_AT).load(Ordering::Relaxed);
        let judges_liveness = theirs == 0 || theirs == pid_namespace();
        Arc::new(SharedRing {
            region,
            shift,
            judges_liveness,
            single,
            name: name.to_owned(),
            path,
            _map: map,
        })
    }

    /// Removes ring `name`'s file: processes that have it open keep their mapping, new `open`s
    /// fail with `ERR_DISRUPTOR_NOT_FOUND`.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let e = disruptor_core::shm::SharedRing::unlink("never-made").unwrap_err();
    /// assert_eq!(e.code(), "ERR_DISRUPTOR_NOT_FOUND");
    /// ```
    pub fn unlink(name: &str) -> Result<()> {
        std::fs::remove_file(ring_path(name)?).map_err(|e| io_error(name, "unlink", e))
    }

    /// [`unlink`](SharedRing::unlink)s this ring's name.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-rm-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// r.remove().unwrap();
    /// assert_eq!(r.remove().unwrap_err().code(), "ERR_DISRUPTOR_NOT_FOUND");
    /// ```
    pub fn remove(&self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| io_error(&self.name, "unlink", e))
    }

    /// The ring's name.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let n = format!("doc-name-{}", std::process::id());
    /// let r = SharedRing::create(&n, &SharedRingOptions::new(8, 8)).unwrap();
    /// assert_eq!(r.name(), n);
    /// # r.remove().unwrap();
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Slots in the ring.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-bs-{}", std::process::id()),
    ///                            &SharedRingOptions::new(32, 8)).unwrap();
    /// assert_eq!(r.buffer_size(), 32);
    /// # r.remove().unwrap();
    /// ```
    pub fn buffer_size(&self) -> usize {
        self.region.geometry.buffer_size
    }

    /// Bytes per slot.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-ss-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 24)).unwrap();
    /// assert_eq!(r.slot_size(), 24);
    /// # r.remove().unwrap();
    /// ```
    pub fn slot_size(&self) -> usize {
        self.region.geometry.slot_size
    }

    /// The layout bytes the creator recorded ([`SharedRingOptions::layout`]).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let n = format!("doc-layout-{}", std::process::id());
    /// let mut o = SharedRingOptions::new(8, 8);
    /// o.layout = b"{\"x\":\"f64\"}".to_vec();
    /// SharedRing::create(&n, &o).unwrap();
    /// assert_eq!(SharedRing::open(&n).unwrap().layout(), o.layout);
    /// # SharedRing::unlink(&n).unwrap();
    /// ```
    pub fn layout(&self) -> Vec<u8> {
        // The length was checked against MAX_LAYOUT_LEN at open; clamped again in case another
        // process rewrote it since.
        let len = (self.region.u32_at(LAYOUT_LEN_AT).load(Ordering::Relaxed) as usize)
            .min(MAX_LAYOUT_LEN);
        self.region.read_bytes(LAYOUT_AT, len)
    }

    /// The first slot's address: `buffer_size * slot_size` bytes, mapped while this ring lives
    /// (for a binding that hands them to another language).
    ///
    /// # Safety
    /// Reads and writes through the pointer must follow the claim/publish protocol (a producer
    /// writes only slots it claimed and has not published; a consumer reads only published
    /// slots it has not committed), and must stop before the last `Arc` of this ring drops.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-base-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// // SAFETY: only compared, never dereferenced.
    /// assert_eq!(unsafe { r.slots_base() } as usize % 4096, 0);
    /// # r.remove().unwrap();
    /// ```
    pub unsafe fn slots_base(&self) -> *mut u8 {
        self.region.slot_ptr(0)
    }

    /// The highest claimed sequence (**Acquire**); of a single-producer ring, the highest
    /// published one (its producer's claims are its own until then).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-cur-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// r.producer().unwrap().next(3).unwrap();
    /// assert_eq!(r.cursor(), 2);
    /// # r.remove().unwrap();
    /// ```
    pub fn cursor(&self) -> i64 {
        if self.single {
            return self.split_cursor().0;
        }
        self.region.i64_at(CURSOR_AT).load(Ordering::Acquire)
    }

    /// Closes intake for every process: claims fail with `ERR_DISRUPTOR_CLOSED`, waiters wake;
    /// claims already held may still be published, and consumers drain what is there.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-close-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// r.close_intake();
    /// assert!(r.is_closed());
    /// assert_eq!(r.producer().unwrap().next(1).unwrap_err().code(), "ERR_DISRUPTOR_CLOSED");
    /// # r.remove().unwrap();
    /// ```
    pub fn close_intake(&self) {
        // SeqCst: Release (a peer that sees the flag sees what was published before it), and
        // one side of the closed-versus-claim race (see `SharedProducer::try_next`).
        self.region.u32_at(CLOSED_AT).store(1, Ordering::SeqCst);
        if self.single {
            // The next publish's swap returns the flag, so a producer that claims ahead of
            // its claims (the JavaScript one: `single` module) learns of the close then.
            self.flag_low_word();
        }
        self.publish_wake().wake_now();
        self.room_wake().wake_now();
    }

    /// Whether intake is closed (**Acquire**).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-isc-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// assert!(!r.is_closed());
    /// # r.remove().unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.region.u32_at(CLOSED_AT).load(Ordering::Acquire) != 0
    }

    /// Whether a consumer that will receive `next` next is done: intake closed and nothing
    /// claimed from `next` on. SeqCst loads, closed then cursor: the consumer's side of the
    /// closed-versus-claim race (see `SharedProducer::try_next`).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-dr-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// r.producer().unwrap().next(1).unwrap();
    /// r.close_intake();
    /// assert!(!r.is_drained(0) && r.is_drained(1));
    /// # r.remove().unwrap();
    /// ```
    pub fn is_drained(&self, next: i64) -> bool {
        if self.region.u32_at(CLOSED_AT).load(Ordering::SeqCst) == 0 {
            return false;
        }
        if self.single {
            // The claim word before the cursor (the `single` module's argument).
            !self.single_claim_open() && self.split_cursor().0 < next
        } else {
            self.region.i64_at(CURSOR_AT).load(Ordering::SeqCst) < next
        }
    }

    /// Whether the ring is single-producer ([`SharedRingOptions::single_producer`]).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let mut o = SharedRingOptions::new(8, 8);
    /// o.single_producer = true;
    /// let n = format!("doc-sp-{}", std::process::id());
    /// let r = SharedRing::create(&n, &o).unwrap();
    /// assert!(SharedRing::open(&n).unwrap().is_single_producer());
    /// let _p = r.producer().unwrap();
    /// assert_eq!(r.producer().unwrap_err().code(), "ERR_DISRUPTOR_SINGLE_PRODUCER");
    /// # r.remove().unwrap();
    /// ```
    pub fn is_single_producer(&self) -> bool {
        self.single
    }

    /// Registers a producer handle of this process (`ERR_DISRUPTOR_TABLE_FULL` when
    /// `max_producers` handles exist).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let mut o = SharedRingOptions::new(8, 8);
    /// o.max_producers = 1;
    /// let r = SharedRing::create(&format!("doc-prod-{}", std::process::id()), &o).unwrap();
    /// let p = r.producer().unwrap();
    /// assert_eq!(r.producer().unwrap_err().code(), "ERR_DISRUPTOR_TABLE_FULL");
    /// drop(p);
    /// assert!(r.producer().is_ok());
    /// # r.remove().unwrap();
    /// ```
    pub fn producer(self: &Arc<Self>) -> Result<SharedProducer> {
        SharedProducer::register(self.clone())
    }

    /// Registers a consumer of this process named `name` (at most [`MAX_CONSUMER_NAME`]
    /// bytes), which gates producers from now on and starts after the cursor: it receives what
    /// is claimed after it joined.
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-cons-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// let c = r.consumer("audit").unwrap();
    /// assert_eq!(r.stats().consumers[0].name, "audit");
    /// # r.remove().unwrap();
    /// ```
    pub fn consumer(self: &Arc<Self>, name: &str) -> Result<SharedConsumer> {
        SharedConsumer::register(self.clone(), name)
    }

    /// A consumer named `name` that goes on where a dead process's consumer of that name
    /// stopped, if its entry is still in the table (it gated producers all along, so nothing
    /// published since is lost; the batch it died handling comes again); else a new one, as
    /// [`consumer`](SharedRing::consumer) makes. The flag says which. A dead consumer's entry
    /// stays until a producer short of room reaps it (or [`reap_dead_consumers`]).
    ///
    /// [`reap_dead_consumers`]: SharedRing::reap_dead_consumers
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-resume-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// let (c, resumed) = r.resume_consumer("audit").unwrap();
    /// assert!(!resumed); // nobody to resume: a new consumer at the cursor
    /// assert_eq!(c.sequence(), -1);
    /// # r.remove().unwrap();
    /// ```
    pub fn resume_consumer(self: &Arc<Self>, name: &str) -> Result<(SharedConsumer, bool)> {
        match SharedConsumer::resume(self.clone(), name)? {
            Some(c) => Ok((c, true)),
            None => Ok((SharedConsumer::register(self.clone(), name)?, false)),
        }
    }

    /// A snapshot of the header and tables (liveness checked now, for each entry in use).
    ///
    /// ```
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// let r = SharedRing::create(&format!("doc-stats-{}", std::process::id()),
    ///                            &SharedRingOptions::new(8, 8)).unwrap();
    /// let p = r.producer().unwrap();
    /// let s = r.stats();
    /// assert_eq!((s.cursor, s.abandoned, s.producers.len()), (-1, 0, 1));
    /// assert!(s.producers[0].alive);
    /// # r.remove().unwrap();
    /// ```
    pub fn stats(&self) -> SharedRingStats {
        let r = &self.region;
        let cursor = self.cursor();
        let producers = (0..r.geometry.max_producers)
            .filter_map(|i| {
                let owner = self.owner_of(r.producer(i, 0))?;
                let (published, claim) = if self.single {
                    // Its claims and publishes are in the claim word and the cursor (the
                    // `single` module), which a producer in JavaScript writes too.
                    let start = r.i64_at(r.producer(i, P_START)).load(Ordering::Relaxed);
                    let word = r.i32_at(r.producer(i, P_CLAIM)).load(Ordering::Acquire);
                    let hi = crate::SplitCursor::extend(cursor, word);
                    ((cursor - start).max(0) as u64, (hi > cursor).then_some((cursor + 1, hi)))
                } else {
                    let lo = r.i64_at(r.producer(i, P_LO)).load(Ordering::Acquire);
                    let hi = r.i64_at(r.producer(i, P_HI)).load(Ordering::Acquire);
                    // Relaxed: a statistic.
                    let published = r.u64_at(r.producer(i, P_PUBLISHED)).load(Ordering::Relaxed);
                    (published, (lo <= hi).then_some((lo, hi)))
                };
                Some(SharedProducerInfo {
                    pid: owner.pid,
                    alive: self.is_alive(owner),
                    published,
                    claim,
                })
            })
            .collect();
        let consumers = (0..r.geometry.max_consumers)
            .filter_map(|i| {
                let owner = self.owner_of(r.consumer(i, 0))?;
                let sequence = r.i64_at(r.consumer(i, C_SEQUENCE)).load(Ordering::Acquire);
                let len = (r.u32_at(r.consumer(i, C_NAME_LEN)).load(Ordering::Relaxed) as usize)
                    .min(MAX_CONSUMER_NAME);
                let name = r.read_bytes(r.consumer(i, C_NAME), len);
                Some(SharedConsumerInfo {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    pid: owner.pid,
                    alive: self.is_alive(owner),
                    sequence,
                    lag: cursor - sequence,
                    events: r.u64_at(r.consumer(i, C_EVENTS)).load(Ordering::Relaxed),
                    batches: r.u64_at(r.consumer(i, C_BATCHES)).load(Ordering::Relaxed),
                })
            })
            .collect();
        // Relaxed: statistics.
        let counter = |at| r.u64_at(at).load(Ordering::Relaxed);
        SharedRingStats {
            cursor,
            closed: self.is_closed(),
            single_producer: self.single,
            // Relaxed: statistics.
            asleep: (
                r.u32_at(PUBLISH_SLEEPERS_AT).load(Ordering::Relaxed),
                r.u32_at(ROOM_SLEEPERS_AT).load(Ordering::Relaxed),
            ),
            abandoned: counter(ABANDONED_AT),
            dead_producers: counter(DEAD_PRODUCERS_AT),
            dead_consumers: counter(DEAD_CONSUMERS_AT),
            producers,
            consumers,
        }
    }

    /// The owner of the entry at `entry` (its first field is the owner word), or `None` when
    /// it is free.
    pub(crate) fn owner_of(&self, entry: usize) -> Option<ProcessId> {
        // Acquire: the entry's other fields, written before its owner changed, are visible.
        ProcessId::from_word(self.region.u64_at(entry).load(Ordering::Acquire))
    }

    /// Whether `owner` runs, as this process can tell (always true when it cannot: see
    /// `judges_liveness`).
    pub(crate) fn is_alive(&self, owner: ProcessId) -> bool {
        !self.judges_liveness || owner.is_alive()
    }

    /// Takes a free entry of `table` for this process: one compare-and-exchange of its owner
    /// word from 0 to this process's, so an entry is never half taken. Entries of dead
    /// processes are freed when a peer waits on them; a full table frees them now, then tries
    /// once more (`ERR_DISRUPTOR_TABLE_FULL`).
    pub(crate) fn take_entry(&self, table: Table) -> Result<usize> {
        let r = &self.region;
        let (entries, name) = match table {
            Table::Producers => (r.geometry.max_producers, "producers"),
            Table::Consumers => (r.geometry.max_consumers, "consumers"),
        };
        let me = ProcessId::current().word();
        for attempt in 0..2 {
            if attempt == 1 {
                match table {
                    Table::Producers => self.recover_dead_producers(),
                    Table::Consumers => self.reap_dead_consumers() as u64,
                };
            }
            for i in 0..entries {
                let entry = match table {
                    Table::Producers => r.producer(i, P_OWNER),
                    Table::Consumers => r.consumer(i, C_OWNER),
                };
                // AcqRel: takes the entry after its last owner's release of it.
                let owner = r.u64_at(entry);
                if owner.compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    return Ok(entry);
                }
            }
        }
        Err(Error::TableFull { table: name, capacity: entries })
    }

    /// The lowest sequence a live consumer entry holds, or `cursor` if lower (or there are no
    /// consumers). SeqCst (the fence): the producer's half of the join handshake with
    /// [`SharedConsumer::register`]: either this scan sees the joining consumer, or the
    /// joiner's cursor read sees at least `cursor`, which bounds this minimum.
    pub(crate) fn gating_minimum(&self, cursor: i64) -> i64 {
        fence(Ordering::SeqCst);
        let r = &self.region;
        let mut minimum = cursor;
        for i in 0..r.geometry.max_consumers {
            // Acquire: pairs with the Release of the owner CAS and of each sequence store.
            if r.u64_at(r.consumer(i, C_OWNER)).load(Ordering::Acquire) != 0 {
                minimum = minimum.min(r.i64_at(r.consumer(i, C_SEQUENCE)).load(Ordering::Acquire));
            }
        }
        minimum
    }

    /// Producers waiting for room sleep here; consumers wake them.
    pub(crate) fn room_wake(&self) -> WakeWord<'_> {
        WakeWord {
            word: self.region.u32_at(ROOM_WORD_AT),
            sleepers: self.region.u32_at(ROOM_SLEEPERS_AT),
            ring: self,
            table: ROOM_SLEEPER_TABLE_AT,
        }
    }

    /// Consumers waiting for events sleep here; producers wake them.
    pub(crate) fn publish_wake(&self) -> WakeWord<'_> {
        WakeWord {
            word: self.region.u32_at(PUBLISH_WORD_AT),
            sleepers: self.region.u32_at(PUBLISH_SLEEPERS_AT),
            ring: self,
            table: PUBLISH_SLEEPER_TABLE_AT,
        }
    }
}

/// Reads header fields from a mapping whose length is at least [`HEADER_BYTES`], before its
/// geometry is known (with atomic loads: another process may be writing the file).
struct Header(*const u8);

impl Header {
    fn u32(&self, at: usize) -> u32 {
        // SAFETY: `at + 4 <= HEADER_BYTES` <= the mapping's length, 4-aligned in a page-aligned
        // mapping; an atomic may alias memory another process writes.
        unsafe {
            (*(self.0.add(at) as *const std::sync::atomic::AtomicU32)).load(Ordering::Relaxed)
        }
    }
    fn u64(&self, at: usize) -> u64 {
        // SAFETY: as in `u32`; header u64 fields are 8-aligned.
        unsafe {
            (*(self.0.add(at) as *const std::sync::atomic::AtomicU64)).load(Ordering::Relaxed)
        }
    }
    fn bytes8(&self, at: usize) -> [u8; 8] {
        self.u64(at).to_ne_bytes()
    }
}

/// Reserves the file's blocks now (Linux: `posix_fallocate`), so that a full `/dev/shm` is an
/// error here rather than a SIGBUS on first touch.
fn reserve(file: &File, len: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor open for writing; the call only sizes the file.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
    }
    file.set_len(len as u64)
}

/// Writes a new ring's header and initial values; `ready` last, with Release, so that an
/// opener that sees it sees the rest.
fn initialise(region: &Region, options: &SharedRingOptions) {
    let g = region.geometry;
    region.write_bytes(0, &MAGIC);
    region.u32_at(VERSION_AT).store(LAYOUT_VERSION, Ordering::Relaxed);
    region.u64_at(TOTAL_AT).store(g.total_len as u64, Ordering::Relaxed);
    region.u64_at(BUFFER_AT).store(g.buffer_size as u64, Ordering::Relaxed);
    region.u64_at(SLOT_AT).store(g.slot_size as u64, Ordering::Relaxed);
    region.u32_at(MAX_PRODUCERS_AT).store(g.max_producers as u32, Ordering::Relaxed);
    region.u32_at(MAX_CONSUMERS_AT).store(g.max_consumers as u32, Ordering::Relaxed);
    region.u32_at(CREATOR_AT).store(std::process::id(), Ordering::Relaxed);
    region.u32_at(LAYOUT_LEN_AT).store(options.layout.len() as u32, Ordering::Relaxed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    region.u64_at(CREATED_AT).store(now.map_or(0, |d| d.as_millis() as u64), Ordering::Relaxed);
    region.write_bytes(LAYOUT_AT, &options.layout);
    region.u64_at(PID_NAMESPACE_AT).store(pid_namespace(), Ordering::Relaxed);
    region.i64_at(CURSOR_AT).store(-1, Ordering::Relaxed);
    region.u32_at(KIND_AT).store(u32::from(options.single_producer), Ordering::Relaxed);
    // The split cursor at -1 (epoch -1, low bits of -1), and no single-producer claim open.
    let low = crate::SplitCursor::low_bits(-1);
    region.i32_at(LOW_AT).store(low, Ordering::Relaxed);
    for i in 0..g.max_producers {
        region.i64_at(region.producer(i, P_LO)).store(i64::MAX, Ordering::Relaxed);
        region.i32_at(region.producer(i, P_CLAIM)).store(low, Ordering::Relaxed);
    }
    for i in 0..g.max_consumers {
        region.i64_at(region.consumer(i, C_SEQUENCE)).store(-1, Ordering::Relaxed);
    }
    // Release: everything above is visible to an opener that reads 1.
    region.u32_at(READY_AT).store(1, Ordering::Release);
}
