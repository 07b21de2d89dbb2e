//! Messages in a shared ring: variable-length byte strings, each in as many consecutive slots
//! as it needs, claimed and published at once, never wrapping around the ring's end. The frame
//! is the JavaScript API's (`src/message/frames.ts`), so a Rust process and a Node process
//! exchange messages through one ring:
//!
//! ```text
//! first slot: u32 stamp (the slot's sequence mod 2^32) | u32 length | u32 kind | bytes...
//! kind: 1 bytes, 2 text (UTF-8), 0xFFFF_FFFF padding (length in slots); the bits above the
//! low two are the JavaScript channels' id
//! ```
//!
//! A claim that would wrap is published as padding and claimed again after it. A slot whose
//! stamp is not its sequence is not a frame's start; lengths no writer makes (padding of no
//! slots, messages longer than any or running past the ring's end) make it none either, so
//! bytes written by a careless or hostile process never stop a consumer or make it read past
//! the mapping.

use super::{SharedConsumer, SharedProducer, SharedRing};
use crate::error::{Error, Result};

/// Bytes of a frame's header: stamp, length, kind (little-endian u32s).
pub const FRAME_HEADER: usize = 12;

const PADDING: u32 = 0xFFFF_FFFF;
/// The bits of a kind word that say bytes or text (the JavaScript channels' id sits above).
const KIND_BITS: u32 = 3;

/// What a message holds, as the JavaScript API tells it (`'bytes'` or `'text'`).
///
/// ```
/// use disruptor_core::shm::MessageKind;
/// assert_ne!(MessageKind::Bytes, MessageKind::Text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Bytes (a `Buffer` or typed array in JavaScript).
    Bytes,
    /// UTF-8 text (a string in JavaScript).
    Text,
}

impl MessageKind {
    fn word(self) -> u32 {
        match self {
            MessageKind::Bytes => 1,
            MessageKind::Text => 2,
        }
    }
}

impl SharedRing {
    /// The longest message the ring takes, in bytes: half the ring, less the header (a claim
    /// that would wrap is padded and claimed again, which then fits).
    ///
    /// ```
    /// use disruptor_core::shm::{SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let r = SharedRing::create(&format!("doc-maxmsg-{}", std::process::id()),
    ///                            &SharedRingOptions::new(16, 8)).unwrap();
    /// assert_eq!(r.max_message_len(), 8 * 8 - 12);
    /// # r.remove().unwrap();
    /// ```
    pub fn max_message_len(&self) -> usize {
        (self.buffer_size() / 2 * self.slot_size()).saturating_sub(FRAME_HEADER)
    }

    /// Slots a message of `len` bytes takes.
    fn slots_for(&self, len: usize) -> i64 {
        (FRAME_HEADER + len).div_ceil(self.slot_size()) as i64
    }
}

impl SharedProducer {
    /// Writes `bytes` as one message (claimed, written and published at once, waiting while
    /// the ring is full, as [`next`](SharedProducer::next)); returns the sequence of its first
    /// slot. Longer than [`SharedRing::max_message_len`]: `ERR_INVALID_ARG_VALUE`, nothing
    /// claimed.
    ///
    /// ```
    /// use disruptor_core::shm::{MessageKind, SharedRing, SharedRingOptions};
    /// # std::env::set_var("NAPI_DISRUPTOR_SHM_DIR", std::env::temp_dir());
    /// let ring = SharedRing::create(&format!("doc-msg-{}", std::process::id()),
    ///                               &SharedRingOptions::new(16, 8)).unwrap();
    /// let mut c = ring.consumer("c").unwrap();
    /// let mut p = ring.producer().unwrap();
    /// assert_eq!(p.write_message(b"hello", MessageKind::Text).unwrap(), 0); // 17 bytes: 3 slots
    /// assert_eq!(p.write_message(&[7; 20], MessageKind::Bytes).unwrap(), 3);
    /// let mut got = Vec::new();
    /// c.poll_messages(|seq, bytes, kind| got.push((seq, bytes.len(), kind))).unwrap();
    /// assert_eq!(got, [(0, 5, MessageKind::Text), (3, 20, MessageKind::Bytes)]);
    /// assert_eq!(p.write_message(&[0; 53], MessageKind::Bytes).unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
    /// # ring.remove().unwrap();
    /// ```
    pub fn write_message(&mut self, bytes: &[u8], kind: MessageKind) -> Result<i64> {
        let ring = self.ring.clone();
        if bytes.len() > ring.max_message_len() {
            return Err(Error::InvalidRange { lo: 0, hi: bytes.len() as i64 - 1 });
        }
        let n = ring.slots_for(bytes.len());
        let (size, slot) = (ring.buffer_size() as i64, ring.slot_size());
        loop {
            let hi = self.next(n)?;
            let lo = hi - n + 1;
            let to_end = (size - (lo & (size - 1))) as usize * slot;
            if (lo & (size - 1)) + n > size {
                // Padding to the ring's end; in a last slot of 8 bytes the kind word does not
                // fit, and stamp and length alone say padding there.
                let mut header = Vec::with_capacity(FRAME_HEADER);
                for w in [lo as u32, n as u32, PADDING] {
                    header.extend_from_slice(&w.to_le_bytes());
                }
                header.truncate(to_end);
                self.write_frame(lo, &header, slot)?;
                self.publish()?;
                continue;
            }
            let mut frame = Vec::with_capacity(FRAME_HEADER + bytes.len());
            for w in [lo as u32, bytes.len() as u32, kind.word()] {
                frame.extend_from_slice(&w.to_le_bytes());
            }
            frame.extend_from_slice(bytes);
            self.write_frame(lo, &frame, slot)?;
            self.publish()?;
            return Ok(lo);
        }
    }
}

impl SharedProducer {
    /// `frame` into the claimed slots from `lo` on, a slot at a time (it does not wrap).
    fn write_frame(&mut self, lo: i64, frame: &[u8], slot: usize) -> Result<()> {
        for (i, chunk) in frame.chunks(slot).enumerate() {
            self.slot(lo + i as i64)?[..chunk.len()].copy_from_slice(chunk);
        }
        Ok(())
    }
}

impl SharedConsumer {
    /// Receives the messages published now, as one batch: `handler(sequence, bytes, kind)` for
    /// each message that starts in it, in order (abandoned claims skipped, padding and slots
    /// that are no frame's start passed over); then the consumer moves past the batch. A frame
    /// whose last slots are not published yet ends the batch before it (it comes whole in the
    /// next). Returns the batch's `[lo, hi]`, or `None` when nothing can be delivered yet.
    /// `bytes` is valid only during the call.
    pub fn poll_messages(
        &mut self,
        mut handler: impl FnMut(i64, &[u8], MessageKind),
    ) -> Result<Option<(i64, i64)>> {
        let hi = self.available();
        let lo = self.next;
        if hi < lo {
            return Ok(None);
        }
        let ring = self.ring.clone();
        let check_to = self.marks_to_check(hi);
        let r = &ring.region;
        let (size, slot, max) = (ring.buffer_size(), ring.slot_size(), ring.max_message_len());
        // Bytes of the published slots from `s` on, up to `hi` and the ring's end.
        let readable =
            |s: i64| ((hi - s + 1) as usize).min(size - (s as usize & (size - 1))) * slot;
        let mut delivered = 0u64;
        let mut s = lo;
        let mut end = hi;
        while s <= hi {
            if s <= check_to && r.mark(s).load(std::sync::atomic::Ordering::Relaxed) == s + 1 {
                s += 1; // abandoned: never delivered
                continue;
            }
            let room = readable(s);
            // SAFETY: `room` bytes from the slot are inside the mapping (Region::slot_ptr; they
            // stop at the ring's end) and published up to `hi`, not yet released by this
            // consumer: no producer that follows the protocol writes them during the call.
            let bytes = unsafe { std::slice::from_raw_parts(r.slot_ptr(s), room) };
            let word = |i: usize| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
            if word(0) != s as u32 {
                s += 1; // not a frame's start: the rest of one that started before this batch
                continue;
            }
            let length = word(1) as usize;
            let to_end = (size - (s as usize & (size - 1))) * slot;
            if to_end < FRAME_HEADER {
                // The ring's last slot, too short for a header: padding's (see the writer).
                s += if (1..=size).contains(&length) { length as i64 } else { 1 };
                continue;
            }
            if room < FRAME_HEADER {
                // The header's second slot is not published: a frame's, yet to come, only if
                // a claim covers it (a writer claims before it publishes the first slot).
                if ring.cursor() < s + 1 {
                    s += 1;
                    continue;
                }
                end = s - 1;
                break;
            }
            let kind = word(2);
            if kind == PADDING {
                s += if (1..=size).contains(&length) { length as i64 } else { 1 };
                continue;
            }
            if length > max || FRAME_HEADER + length > to_end {
                s += 1; // lengths no writer makes
                continue;
            }
            if FRAME_HEADER + length > room {
                // Its last slots are not published: as above, a frame only if claimed.
                if ring.cursor() < s + ring.slots_for(length) - 1 {
                    s += 1;
                    continue;
                }
                end = s - 1;
                break;
            }
            let kind = if kind & KIND_BITS == 2 { MessageKind::Text } else { MessageKind::Bytes };
            handler(s, &bytes[FRAME_HEADER..FRAME_HEADER + length], kind);
            delivered += 1;
            s += ring.slots_for(length);
        }
        if end < lo {
            // A frame whose writer may have died between its flags: look for dead producers
            // now and then, as `available` does for a claim (recovery abandons the rest).
            self.stuck_on_frame();
            return Ok(None);
        }
        self.frame_stuck_since = None;
        self.advance(end, delivered);
        Ok(Some((lo, end)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_ring::test_ring;
    use super::super::SharedRingOptions;
    use super::MessageKind;

    #[test]
    fn padding_that_starts_in_the_rings_last_slot_is_skipped() {
        let ring = test_ring("msg-pad", &SharedRingOptions::new(16, 8));
        let r = &ring.0;
        let mut p = r.producer().unwrap();
        let mut c = r.consumer("c").unwrap();
        let five = [b'x'; 28]; // 28 bytes and a 12-byte header: 5 slots
        let mut got = Vec::new();
        for _ in 0..3 {
            p.write_message(&five, MessageKind::Bytes).unwrap(); // 0-4, 5-9, 10-14
            c.poll_messages(|seq, bytes, _| got.push((seq, bytes.len()))).unwrap();
        }
        // 6 slots claimed from 15 would wrap: 15-20 are padding, the message goes to 21.
        assert_eq!(p.write_message(&[b'y'; 36], MessageKind::Text).unwrap(), 21);
        c.poll_messages(|seq, bytes, _| got.push((seq, bytes.len()))).unwrap();
        assert_eq!(got, [(0, 28), (5, 28), (10, 28), (21, 36)]);
    }

    #[test]
    fn slots_that_only_look_like_frames_are_passed_over() {
        let ring = test_ring("msg-bad", &SharedRingOptions::new(8, 16));
        let r = &ring.0;
        let mut p = r.producer().unwrap();
        let mut c = r.consumer("c").unwrap();
        let raw = |p: &mut super::SharedProducer, words: [u32; 3]| {
            let hi = p.next(1).unwrap();
            let mut bytes = Vec::new();
            for (i, w) in words.iter().enumerate() {
                bytes.extend_from_slice(&(if i == 0 { hi as u32 } else { *w }).to_le_bytes());
            }
            p.write(hi, &bytes).unwrap();
            p.publish().unwrap();
        };
        raw(&mut p, [0, 0, super::PADDING]); // padding of no slots
        raw(&mut p, [0, 1 << 31, super::PADDING]); // padding past the ring
        raw(&mut p, [0, r.max_message_len() as u32 + 1, 1]); // longer than any message
        raw(&mut p, [0, 4, 2]); // a message of 4 bytes: 16 in all, one slot
        let mut got = Vec::new();
        c.poll_messages(|seq, bytes, kind| got.push((seq, bytes.len(), kind))).unwrap();
        assert_eq!(got, [(3, 4, MessageKind::Text)]);
        assert_eq!(c.sequence(), 3);
    }

    /// A producer dies between the first and the last flag of a 3-slot frame: the consumer
    /// delivers the frame (written whole before its first flag) once the recovery abandoned
    /// the rest of the claim. (Found by review: it polled forever.)
    #[test]
    fn a_frame_whose_writer_died_between_its_flags_comes_after_recovery() {
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};

        use super::super::layout::*;
        use super::super::test_ring::dead;

        let ring = test_ring("msg-midpub", &SharedRingOptions::new(16, 8));
        let r = &ring.0;
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        assert_eq!(p.next(3).unwrap(), 2); // 12 + 5 bytes: 3 slots
        let mut frame = Vec::new();
        for w in [0u32, 5, 2] {
            frame.extend_from_slice(&w.to_le_bytes());
        }
        frame.extend_from_slice(b"hello");
        for (i, chunk) in frame.chunks(8).enumerate() {
            p.slot(i as i64).unwrap()[..chunk.len()].copy_from_slice(chunk);
        }
        // The first flag published, then the process dies.
        r.region.flag(0).store(stamp(0, r.shift), Ordering::Release);
        r.region.u64_at(p.entry + P_OWNER).store(dead().word(), Ordering::SeqCst);
        let started = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && started.elapsed() < Duration::from_secs(5) {
            let _ = c.wait(Some(Duration::from_millis(100)));
            c.poll_messages(|seq, bytes, kind| got.push((seq, bytes.to_vec(), kind))).unwrap();
        }
        assert_eq!(got, [(0, b"hello".to_vec(), MessageKind::Text)]);
        assert_eq!(r.stats().abandoned, 2);
        // The "dead" handle's claim was recovered: dropping it must not abandon it again.
        p.claim = None;
        drop(p);
    }

    /// One published slot whose header says two slots, and no claim covers the second: not a
    /// frame, so intake's close ends the consumer. (Found by review: it waited forever.)
    #[test]
    fn a_header_no_claim_covers_never_stops_a_consumer() {
        use std::time::Duration;

        let ring = test_ring("msg-short", &SharedRingOptions::new(8, 16));
        let r = &ring.0;
        let mut c = r.consumer("c").unwrap();
        let mut p = r.producer().unwrap();
        let hi = p.next(1).unwrap();
        let mut header = Vec::new();
        for w in [0u32, 20, 1] {
            header.extend_from_slice(&w.to_le_bytes());
        }
        p.write(hi, &header).unwrap();
        p.publish().unwrap();
        r.close_intake();
        for _ in 0..3 {
            if c.wait(Some(Duration::from_millis(100))).is_err() {
                break;
            }
            c.poll_messages(|_, _, _| panic!("not a message")).unwrap();
        }
        assert_eq!(
            c.wait(Some(Duration::from_millis(100))).unwrap_err().code(),
            "ERR_DISRUPTOR_CLOSED"
        );
        assert_eq!(c.sequence(), 0);
    }
}
