//! Ring names and where their files live.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The longest ring name, in bytes (a file name must stay under the 255-byte limit with the
/// prefix).
pub const MAX_NAME_LEN: usize = 200;

/// The prefix of every ring file, so that `ls /dev/shm` tells whose files they are.
const FILE_PREFIX: &str = "napi-disruptor.";

/// Checks a ring name: 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `.`, `_` and `-`,
/// not starting with `.`. No separator and no `..` can reach outside the ring directory.
///
/// ```
/// use disruptor_core::shm::validate_name;
/// assert!(validate_name("md-feed.v2").is_ok());
/// for bad in ["", "../etc", "a/b", ".hidden", "a..b", "sp ace"] {
///     assert_eq!(validate_name(bad).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
/// }
/// ```
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_NAME_LEN {
        "is longer than 200 bytes"
    } else if name.starts_with('.') {
        "starts with '.'"
    } else if name.contains("..") {
        "contains '..'"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        "may only hold ASCII letters, digits, '.', '_' and '-'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName { reason: format!("ring name {name:?} {reason}") })
}

/// The directory ring files live in: `$NAPI_DISRUPTOR_SHM_DIR` when set (a container whose
/// `/dev/shm` is small, a test), else `/dev/shm` on Linux (memory, never written to disk), else
/// the temporary directory (a file-backed mapping: the page cache, flushed lazily).
///
/// ```
/// let dir = disruptor_core::shm::ring_dir();
/// assert!(dir.is_absolute() || std::env::var_os("NAPI_DISRUPTOR_SHM_DIR").is_some());
/// ```
pub fn ring_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NAPI_DISRUPTOR_SHM_DIR") {
        return PathBuf::from(dir);
    }
    if cfg!(target_os = "linux") {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    }
}

/// The file of ring `name` (checked with [`validate_name`]).
///
/// ```
/// let path = disruptor_core::shm::ring_path("md-feed").unwrap();
/// assert!(path.ends_with("napi-disruptor.md-feed"));
/// assert!(disruptor_core::shm::ring_path("../x").is_err());
/// ```
pub fn ring_path(name: &str) -> Result<PathBuf> {
    validate_name(name)?;
    Ok(ring_dir().join(format!("{FILE_PREFIX}{name}")))
}
