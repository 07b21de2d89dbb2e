//! Engine errors as JavaScript errors with Node-style `code`s.

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

/// A sequence argument: an integer in `0 ..= 2**53 - 1`.
pub(crate) fn sequence(name: &str, value: f64) -> Result<i64> {
    if value.fract() != 0.0 || !(0.0..=MAX_SEQUENCE as f64).contains(&value) {
        return Err(coded(
            "ERR_INVALID_ARG_VALUE",
            format!("{name} must be an integer between 0 and 2**53 - 1, got {value}"),
        ));
    }
    Ok(value as i64)
}

/// A count argument (`n`): an integer in `1 ..= max`.
pub(crate) fn count(name: &str, value: f64, max: usize) -> Result<i64> {
    if value.fract() != 0.0 || !(1.0..=max as f64).contains(&value) {
        return Err(coded(
            "ERR_INVALID_ARG_VALUE",
            format!("{name} must be an integer between 1 and {max}, got {value}"),
        ));
    }
    Ok(value as i64)
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
