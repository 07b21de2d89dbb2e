//! A process on one side of a shared ring, for the multi-process tests (Rust and JavaScript):
//!
//! ```text
//! disruptor-shm-peer produce <ring> <id> <count> [--batch B] [--hang-after K]
//! disruptor-shm-peer consume <ring> <name> [--stall-after K] [--expect ID:COUNT ...]
//! disruptor-shm-peer open <ring>          prints "ok" or the error code
//! disruptor-shm-peer produce-messages <ring> <id> <count>
//! disruptor-shm-peer consume-messages <ring> <name>
//! ```
//!
//! Messages (`disruptor_core::shm::MessageKind`, the JavaScript API's frames) are those of
//! `__test__/fixtures/process-messages.js`: `m<id>:<i>:` and `i % 61` times `é`, every third
//! one as bytes, the rest as text; the consumer checks each producer's `i` runs 0, 1, 2...,
//! the text and the kind, and prints `result <messages> <id>:<count>...`.
//!
//! Events are 24 bytes: producer id (u64), its counter (u64), a checksum of both (u64), little
//! endian. A consumer checks every event (intact, each producer's counters 0, 1, 2... with no
//! gap or repeat) and prints `joined` once registered, then `result <events> <id>:<count>...`
//! when intake is closed and it has everything; a violation exits with status 1. `--hang-after`
//! makes a producer claim a batch after K events, fill it with poison and sleep (to be killed
//! holding a claim); `--stall-after` makes a consumer stop receiving after K events (to be
//! killed while it gates).

// Shared rings are unix only, and not built under `--cfg loom` (the model checks replace the
// atomics; the ring file's own are std's).
#[cfg(all(unix, not(loom)))]
fn main() {
    std::process::exit(peer::run(std::env::args().skip(1).collect()));
}

#[cfg(not(all(unix, not(loom))))]
fn main() {
    eprintln!("shared rings are not built on this platform");
    std::process::exit(2);
}

#[cfg(all(unix, not(loom)))]
mod peer {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::time::Duration;

    use disruptor_core::shm::{MessageKind, SharedRing};
    use disruptor_core::Error;

    /// A poison producer id: a consumer that receives it received an abandoned claim.
    const POISON: u64 = 0xDEAD;

    fn check(id: u64, counter: u64) -> u64 {
        id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ counter.wrapping_mul(31) ^ 0x5A5A
    }

    fn flag(args: &[String], name: &str) -> Option<u64> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1)?.parse().ok()
    }

    pub fn run(args: Vec<String>) -> i32 {
        let result = match args.first().map(String::as_str) {
            Some("produce") if args.len() >= 4 => produce(&args),
            Some("consume") if args.len() >= 3 => consume(&args),
            Some("produce-messages") if args.len() >= 4 => produce_messages(&args),
            Some("consume-messages") if args.len() >= 3 => consume_messages(&args),
            Some("open") if args.len() >= 2 => {
                match SharedRing::open(&args[1]) {
                    Ok(_) => println!("ok"),
                    Err(e) => println!("{}", e.code()),
                }
                Ok(())
            }
            _ => Err("usage: see the file's doc comment".to_owned()),
        };
        match result {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("disruptor-shm-peer: {message}");
                1
            }
        }
    }

    fn produce(args: &[String]) -> Result<(), String> {
        let ring = SharedRing::open(&args[1]).map_err(|e| e.to_string())?;
        let id: u64 = args[2].parse().map_err(|_| "bad id")?;
        let count: u64 = args[3].parse().map_err(|_| "bad count")?;
        let batch = flag(args, "--batch").unwrap_or(1).max(1);
        let hang_after = flag(args, "--hang-after");
        let mut producer = ring.producer().map_err(|e| e.to_string())?;
        let mut counter = 0;
        while counter < count {
            if hang_after.is_some_and(|k| counter >= k) {
                let hi = producer.next(batch as i64).map_err(|e| e.to_string())?;
                for seq in hi + 1 - batch as i64..=hi {
                    let poison = [POISON, seq as u64, check(POISON, seq as u64)];
                    producer.write(seq, &words(poison)).map_err(|e| e.to_string())?;
                }
                println!("hanging {}", hi);
                std::io::stdout().flush().ok();
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            // Batches of 1 ..= batch, varied so that claims of different sizes interleave.
            let n = 1 + (counter * 7 + id) % batch;
            let n = n.min(count - counter);
            let hi = match producer.next(n as i64) {
                Ok(hi) => hi,
                Err(e) => return Err(format!("claim failed after {counter} events: {e}")),
            };
            for seq in hi + 1 - n as i64..=hi {
                producer
                    .write(seq, &words([id, counter, check(id, counter)]))
                    .map_err(|e| e.to_string())?;
                counter += 1;
            }
            producer.publish().map_err(|e| e.to_string())?;
        }
        println!("done {count}");
        Ok(())
    }

    fn words(w: [u64; 3]) -> [u8; 24] {
        let mut out = [0; 24];
        for (i, word) in w.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn consume(args: &[String]) -> Result<(), String> {
        let ring = SharedRing::open(&args[1]).map_err(|e| e.to_string())?;
        let stall_after = flag(args, "--stall-after");
        let mut consumer = ring.consumer(&args[2]).map_err(|e| e.to_string())?;
        println!("joined");
        std::io::stdout().flush().ok();
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        let mut events = 0u64;
        let mut last_seq = consumer.sequence();
        let mut violation = None;
        loop {
            match consumer.wait(None) {
                Ok(()) => {}
                Err(Error::Closed) => break,
                Err(e) => return Err(e.to_string()),
            }
            consumer
                .poll(|seq, slot| {
                    let word =
                        |i: usize| u64::from_le_bytes(slot[i * 8..i * 8 + 8].try_into().unwrap());
                    let (id, counter, sum) = (word(0), word(1), word(2));
                    let expected = next.entry(id).or_insert(0);
                    if violation.is_none() {
                        if seq <= last_seq {
                            violation = Some(format!("sequence {seq} after {last_seq}"));
                        } else if id == POISON || sum != check(id, counter) {
                            violation = Some(format!("bad event at {seq}: {id} {counter} {sum}"));
                        } else if counter != *expected {
                            violation = Some(format!(
                                "producer {id}: counter {counter}, expected {expected}"
                            ));
                        }
                    }
                    last_seq = seq;
                    *expected = counter + 1;
                    events += 1;
                })
                .map_err(|e| e.to_string())?;
            if let Some(v) = violation {
                return Err(v);
            }
            if stall_after.is_some_and(|k| events >= k) {
                println!("stalled {events}");
                std::io::stdout().flush().ok();
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
        }
        let per: Vec<String> = next.iter().map(|(id, n)| format!("{id}:{n}")).collect();
        println!("result {events} {}", per.join(" "));
        Ok(())
    }

    /// Message `i` of producer `id` (as the JavaScript fixture writes it), and its kind.
    fn message(id: u64, i: u64) -> (String, MessageKind) {
        let text = format!("m{id}:{i}:{}", "é".repeat((i % 61) as usize));
        (text, if i.is_multiple_of(3) { MessageKind::Bytes } else { MessageKind::Text })
    }

    fn produce_messages(args: &[String]) -> Result<(), String> {
        let ring = SharedRing::open(&args[1]).map_err(|e| e.to_string())?;
        let id: u64 = args[2].parse().map_err(|_| "bad id")?;
        let count: u64 = args[3].parse().map_err(|_| "bad count")?;
        let mut producer = ring.producer().map_err(|e| e.to_string())?;
        for i in 0..count {
            let (text, kind) = message(id, i);
            producer.write_message(text.as_bytes(), kind).map_err(|e| e.to_string())?;
        }
        println!("done {count}");
        Ok(())
    }

    fn consume_messages(args: &[String]) -> Result<(), String> {
        let ring = SharedRing::open(&args[1]).map_err(|e| e.to_string())?;
        let mut consumer = ring.consumer(&args[2]).map_err(|e| e.to_string())?;
        println!("joined");
        std::io::stdout().flush().ok();
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        let mut messages = 0u64;
        let mut violation = None;
        loop {
            match consumer.wait(None) {
                Ok(()) => {}
                Err(Error::Closed) => break,
                Err(e) => return Err(e.to_string()),
            }
            consumer
                .poll_messages(|seq, bytes, kind| {
                    let text = String::from_utf8_lossy(bytes);
                    let parsed = text.strip_prefix('m').and_then(|rest| {
                        let mut parts = rest.splitn(3, ':');
                        Some((
                            parts.next()?.parse::<u64>().ok()?,
                            parts.next()?.parse::<u64>().ok()?,
                        ))
                    });
                    let Some((id, i)) = parsed else {
                        violation.get_or_insert(format!("torn message at {seq}"));
                        return;
                    };
                    let expected = next.entry(id).or_insert(0);
                    if i != *expected
                        || (text.as_ref(), kind) != (message(id, i).0.as_str(), message(id, i).1)
                    {
                        violation.get_or_insert(format!(
                            "producer {id}: message {i} at {seq}, expected {expected}"
                        ));
                    }
                    *expected = i + 1;
                    messages += 1;
                })
                .map_err(|e| e.to_string())?;
            if let Some(v) = violation {
                return Err(v);
            }
        }
        let per: Vec<String> = next.iter().map(|(id, n)| format!("{id}:{n}")).collect();
        println!("result {messages} {}", per.join(" "));
        Ok(())
    }
}
