//! CRC-32C for the journal's records: the `crc32c` crate (SSE 4.2 or ARMv8 CRC instructions
//! where the CPU has them, detected at run time; a table otherwise). One call per batch.

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;

/// The CRC-32C (Castagnoli) of `data`, continuing from `initial` (the CRC of the bytes before
/// it; 0 to start).
#[napi(js_name = "crc32c")]
pub fn crc32c(data: Uint8Array, initial: Option<u32>) -> u32 {
    crc32c::crc32c_append(initial.unwrap_or(0), &data)
}

/// Seals `count` fixed-size records of `data` at once (one call per journal batch, not one per
/// record): record `i` starts at `start + i * stride`; its CRC-32C of the `length` bytes from
/// `from` within the record is stored little-endian at `crc_at` within it. Every range is
/// checked against `data` first (ERR_INVALID_ARG_VALUE; nothing written).
#[napi(js_name = "crc32cRecords")]
pub fn crc32c_records(
    mut data: Uint8Array,
    start: u32,
    count: u32,
    stride: u32,
    from: u32,
    length: u32,
    crc_at: u32,
) -> crate::error::Result<()> {
    let (start, count, stride) = (start as usize, count as usize, stride as usize);
    let (from, length, crc_at) = (from as usize, length as usize, crc_at as usize);
    let record = (from + length).max(crc_at + 4);
    // u32 arguments: none of these products or sums overflows a 64-bit usize.
    let end = if count == 0 { 0 } else { start + (count - 1) * stride + record };
    if (count > 1 && stride < record) || end > data.len() {
        return Err(crate::error::coded("ERR_INVALID_ARG_VALUE", "records outside the buffer"));
    }
    // SAFETY: JavaScript runs nothing while this call holds the thread, and the journal's
    // buffer is its own (no other thread sees it), so nobody else touches these bytes.
    let bytes = unsafe { data.as_mut() };
    for i in 0..count {
        let at = start + i * stride;
        let crc = crc32c::crc32c(&bytes[at + from..at + from + length]);
        bytes[at + crc_at..at + crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}
