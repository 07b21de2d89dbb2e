//! CRC-32C for the journal's records: the `crc32c` crate (SSE 4.2 or ARMv8 CRC instructions
//! where the CPU has them, detected at run time; a table otherwise). One call per batch or
//! segment: `crc32cRecords` seals a batch of fixed-size records in place (the journal's write
//! path), `crc32cRanges` returns the CRC of each of many ranges (messages, and reading back).

use napi::bindgen_prelude::{Float64Array, Uint32Array, Uint8Array};
use napi_derive::napi;

/// Seals `count` fixed-size records of `data` at once (one call per journal batch, not one per
/// record): record `i` starts at `start + i * stride`; its CRC-32C of the `length` bytes from
/// `from` within the record is stored little-endian at `crc_at` within it. Every argument is an
/// integer in `0 ..= 2**32 - 1` and every range lies in `data` (ERR_INVALID_ARG_VALUE; nothing
/// written). Internal: the caller owns `data` (no other thread writes it during the call).
#[napi(js_name = "crc32cRecords")]
pub fn crc32c_records(
    mut data: Uint8Array,
    start: f64,
    count: f64,
    stride: f64,
    from: f64,
    length: f64,
    crc_at: f64,
) -> crate::error::Result<()> {
    let arg = |name: &str, v: f64| crate::error::offset(name, v);
    let (start, count, stride) =
        (arg("start", start)?, arg("count", count)?, arg("stride", stride)?);
    let (from, length, crc_at) =
        (arg("from", from)?, arg("length", length)?, arg("crcAt", crc_at)?);
    let outside = || crate::error::coded("ERR_INVALID_ARG_VALUE", "records outside the buffer");
    let payload_end = from.checked_add(length).ok_or_else(outside)?;
    let record = payload_end.max(crc_at.checked_add(4).ok_or_else(outside)?);
    let end = match count {
        0 => 0,
        _ => (count - 1)
            .checked_mul(stride)
            .and_then(|o| o.checked_add(start))
            .and_then(|o| o.checked_add(record))
            .ok_or_else(outside)?,
    };
    if (count > 1 && stride < record) || end > data.len() {
        return Err(outside());
    }
    // SAFETY: the caller owns these bytes for the call (the journal's own buffer: no other
    // thread sees it) and JavaScript runs nothing while this call holds the thread.
    let bytes = unsafe { data.as_mut() };
    for i in 0..count {
        let at = start + i * stride;
        let crc = crc32c::crc32c(&bytes[at + from..at + from + length]);
        bytes[at + crc_at..at + crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}

/// The CRC-32C of each range of `data`: range `i` is `lengths[i]` bytes from `starts[i]` (one
/// call for a whole segment's records when a journal is read). Every start and length is an
/// integer and every range lies in `data` (ERR_INVALID_ARG_VALUE).
#[napi(js_name = "crc32cRanges")]
pub fn crc32c_ranges(
    data: Uint8Array,
    starts: Float64Array,
    lengths: Float64Array,
) -> crate::error::Result<Uint32Array> {
    if starts.len() != lengths.len() {
        return Err(crate::error::coded(
            "ERR_INVALID_ARG_VALUE",
            "starts and lengths differ in length",
        ));
    }
    let mut out = Vec::with_capacity(starts.len());
    for (&start, &length) in starts.iter().zip(lengths.iter()) {
        let start = crate::error::offset("start", start)?;
        let length = crate::error::offset("length", length)?;
        let end = start.checked_add(length).filter(|&e| e <= data.len()).ok_or_else(|| {
            crate::error::coded("ERR_INVALID_ARG_VALUE", "a range outside the buffer")
        })?;
        out.push(crc32c::crc32c(&data[start..end]));
    }
    Ok(Uint32Array::new(out))
}
