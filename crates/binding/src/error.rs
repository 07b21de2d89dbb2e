//! Engine errors as JavaScript errors with Node-style `code`s, and the checks every numeric
//! argument from JavaScript goes through (a JS number is an `f64`: never cast one unchecked).

/// What binding functions return: an error's status string becomes the JS error's `code`.
pub(crate) type Result<T> = std::result::Result<T, napi::Error<String>>;

/// A JS error with `code`.
pub(crate) fn coded(code: &str, message: impl std::fmt::Display) -> napi::Error<String> {
    napi::Error::new(code.to_owned(), message.to_string())
}

/// An engine error as a JS error carrying its code.
pub(crate) fn engine(error: disruptor_core::Error) -> napi::Error<String> {
    coded(error.code(), error)
}

/// A napi failure (conversions, thread-safe function creation) as a coded JS error.
pub(crate) fn napi(error: napi::Error) -> napi::Error<String> {
    coded("ERR_DISRUPTOR_NATIVE", error.reason)
}

/// The largest sequence JavaScript numbers hold exactly (2**53 - 1).
pub(crate) const MAX_SEQUENCE: i64 = (1 << 53) - 1;

/// An integer argument in `min ..= max` (both exact in an `f64`), else `ERR_INVALID_ARG_VALUE`.
fn integer(name: &str, value: f64, min: i64, max: i64) -> Result<i64> {
    // NaN and the infinities fail `contains`, so the cast below is exact.
    if value.fract() != 0.0 || !(min as f64..=max as f64).contains(&value) {
        let bound = |v: i64| if v == MAX_SEQUENCE { "2**53 - 1".to_owned() } else { v.to_string() };
        return Err(coded(
            "ERR_INVALID_ARG_VALUE",
            format!(
                "{name} must be an integer between {} and {}, got {value}",
                bound(min),
                bound(max)
            ),
        ));
    }
    Ok(value as i64)
}

/// A sequence argument: an integer in `0 ..= 2**53 - 1`.
pub(crate) fn sequence(name: &str, value: f64) -> Result<i64> {
    integer(name, value, 0, MAX_SEQUENCE)
}

/// A cursor or claim counter, -1 before the first sequence: an integer in `-1 ..= 2**53 - 1`.
pub(crate) fn position(name: &str, value: f64) -> Result<i64> {
    integer(name, value, -1, MAX_SEQUENCE)
}

/// A byte offset or count of a native helper: an integer in `0 ..= 2**32 - 1`.
pub(crate) fn offset(name: &str, value: f64) -> Result<usize> {
    integer(name, value, 0, i64::from(u32::MAX)).map(|v| v as usize)
}

/// A consumer id (a `u32`, as the methods take it).
pub(crate) fn consumer_id(name: &str, value: f64) -> Result<u32> {
    integer(name, value, 0, i64::from(u32::MAX)).map(|v| v as u32)
}

/// A statistics counter: an integer in `0 ..= 2**53 - 1`.
pub(crate) fn counter(name: &str, value: f64) -> Result<u64> {
    integer(name, value, 0, MAX_SEQUENCE).map(|v| v as u64)
}

/// A count argument (`n`): an integer in `1 ..= max`.
pub(crate) fn count(name: &str, value: f64, max: usize) -> Result<i64> {
    integer(name, value, 1, max as i64)
}

/// A single producer's wrap point, `claimed + n - size` for a claim of `n` in `1 ..= size`
/// slots: an integer in `claimed + 1 - size ..= claimed`.
pub(crate) fn wrap_point(name: &str, value: f64, claimed: i64, size: i64) -> Result<i64> {
    integer(name, value, claimed + 1 - size, claimed)
}

/// Fails with `ERR_OUT_OF_RANGE` when claiming `n` more would pass the exact-number range.
pub(crate) fn check_headroom(claimed: i64, n: i64) -> Result<()> {
    if claimed + n > MAX_SEQUENCE {
        return Err(coded(
            "ERR_OUT_OF_RANGE",
            "sequences would pass 2**53 - 1, the largest exact JavaScript integer",
        ));
    }
    Ok(())
}
