//! Shared rings across real processes (the `disruptor-shm-peer` binary): exactly-once, in-order
//! delivery with three producer processes and two consumer processes; a producer SIGKILLed
//! while it holds a claim and a consumer SIGKILLed while it gates, the others finishing; random
//! SIGKILLs of producers; bad files, versions, names and permissions.
#![cfg(all(unix, not(loom)))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use disruptor_core::shm::{ring_path, SharedRing, SharedRingOptions};

const PEER: &str = env!("CARGO_BIN_EXE_disruptor-shm-peer");
/// How long any peer may live: far beyond a run (about a second here), short of CI's limit.
const WATCHDOG: Duration = Duration::from_secs(120);

/// A ring removed when the test ends, however it ends.
struct Named(String);

impl Named {
    fn new(test: &str) -> Named {
        let name = format!("test-{test}-{}", std::process::id());
        let _ = SharedRing::unlink(&name);
        Named(name)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = SharedRing::unlink(&self.0);
    }
}

struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(args: &[&str]) -> Peer {
        Peer::spawn_with(args, &[])
    }

    fn spawn_with(args: &[&str], env: &[(&str, &str)]) -> Peer {
        let mut child = Command::new(PEER)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn disruptor-shm-peer");
        let out = BufReader::new(child.stdout.take().unwrap());
        // A watchdog: a peer that hangs (a lost wake-up, a claim never recovered) is killed, so
        // the test fails on its missing output instead of hanging the run.
        let pid = child.id() as libc::pid_t;
        std::thread::spawn(move || {
            std::thread::sleep(WATCHDOG);
            // SAFETY: a signal to a pid; if the peer is gone and reaped, ESRCH or (after pid
            // reuse, very unlikely within the test) a stray SIGKILL to one of our own children.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        Peer { child, out }
    }

    /// The next line the peer prints (panics at end of output).
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "peer ended without output");
        line.trim_end().to_owned()
    }

    /// Waits for the peer to exit with status 0 and returns the rest of its output.
    fn finish(mut self) -> String {
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "peer failed: {status}");
        rest
    }

    /// SIGKILL, then reap (a zombie still has its pid).
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Parses a consumer's `result <events> <id>:<count> ...` line.
fn result(output: &str) -> (u64, BTreeMap<u64, u64>) {
    let line = output.lines().find(|l| l.starts_with("result ")).expect("a result line");
    let mut words = line.split_whitespace().skip(1);
    let events = words.next().unwrap().parse().unwrap();
    let per = words
        .map(|w| {
            let (id, n) = w.split_once(':').unwrap();
            (id.parse().unwrap(), n.parse().unwrap())
        })
        .collect();
    (events, per)
}

fn ring(name: &Named, size: usize) -> Arc<SharedRing> {
    SharedRing::create(&name.0, &SharedRingOptions::new(size, 24)).unwrap()
}

#[test]
fn three_producer_processes_two_consumer_processes_exactly_once_in_order() {
    let name = Named::new("3p2c");
    let ring = ring(&name, 64);
    // Consumer b and producer 2 signal with fences, the others with membarrier where the
    // kernel has it (`shm::fence_mode`): sleepers of either kind are woken by wakers of both.
    let fences = [("DISRUPTOR_NO_MEMBARRIER", "1")];
    let mut consumers: Vec<Peer> = ["a", "b"]
        .iter()
        .map(|&c| Peer::spawn_with(&["consume", &name.0, c], if c == "b" { &fences } else { &[] }))
        .collect();
    for c in &mut consumers {
        assert_eq!(c.line(), "joined");
    }
    const EACH: u64 = 40_000;
    let producers: Vec<Peer> = (1..=3)
        .map(|id| {
            let env: &[(&str, &str)] = if id == 2 { &fences } else { &[] };
            let (id, each) = (id.to_string(), EACH.to_string());
            Peer::spawn_with(&["produce", &name.0, &id, &each, "--batch", "8"], env)
        })
        .collect();
    for p in producers {
        assert_eq!(p.finish().trim(), format!("done {EACH}"));
    }
    ring.close_intake();
    for c in consumers {
        let (events, per) = result(&c.finish());
        assert_eq!(events, 3 * EACH);
        assert_eq!(per, BTreeMap::from([(1, EACH), (2, EACH), (3, EACH)]));
    }
    let stats = ring.stats();
    assert_eq!(stats.cursor, 3 * EACH as i64 - 1);
    assert_eq!((stats.abandoned, stats.dead_producers, stats.dead_consumers), (0, 0, 0));
    assert!(stats.producers.is_empty() && stats.consumers.is_empty());
}

#[test]
fn a_killed_producer_and_a_killed_consumer_never_stop_the_others() {
    let name = Named::new("kill");
    let ring = ring(&name, 32);
    let mut steady = Peer::spawn(&["consume", &name.0, "steady"]);
    let mut stalling = Peer::spawn(&["consume", &name.0, "stalling", "--stall-after", "1000"]);
    assert_eq!(steady.line(), "joined");
    assert_eq!(stalling.line(), "joined");
    // Producer 3 claims a batch after 500 events, fills it with poison and hangs.
    let mut hanging =
        Peer::spawn(&["produce", &name.0, "3", "100000", "--batch", "4", "--hang-after", "500"]);
    let claimed_to: i64 = hanging.line().strip_prefix("hanging ").unwrap().parse().unwrap();
    let mut producers: Vec<Peer> = (1..=2)
        .map(|id| Peer::spawn(&["produce", &name.0, &id.to_string(), "20000", "--batch", "3"]))
        .collect();
    // Every consumer waits at the hanging claim until its producer is found dead.
    hanging.kill();
    // The consumer stalls once it has 1000 events, and the ring fills behind it.
    assert!(stalling.line().starts_with("stalled "));
    stalling.kill();
    for p in producers.drain(..) {
        assert_eq!(p.finish().trim(), "done 20000");
    }
    ring.close_intake();
    let (events, per) = result(&steady.finish());
    // Everything published, in order (the peer checks order and integrity); nothing of the
    // hanging claim (poison fails the check).
    assert_eq!(per.get(&1), Some(&20000));
    assert_eq!(per.get(&2), Some(&20000));
    assert_eq!(per.get(&3), Some(&500));
    assert_eq!(events, 40500);
    let stats = ring.stats();
    assert_eq!(stats.dead_producers, 1, "{stats:?}");
    assert_eq!(stats.dead_consumers, 1, "{stats:?}");
    assert_eq!(stats.abandoned, 4, "the hanging claim of 4");
    assert!(claimed_to <= stats.cursor);
}

#[test]
fn producers_killed_at_random_points_lose_nothing_they_published() {
    let name = Named::new("random-kill");
    let ring = ring(&name, 16);
    let mut consumer = Peer::spawn(&["consume", &name.0, "checker"]);
    assert_eq!(consumer.line(), "joined");
    let steady = Peer::spawn(&["produce", &name.0, "1", "50000", "--batch", "5"]);
    let mut random = kill_points();
    for round in 0..8 {
        let id = (10 + round).to_string();
        let victim = Peer::spawn(&["produce", &name.0, &id, "10000000", "--batch", "7"]);
        std::thread::sleep(Duration::from_millis(5 + random(60)));
        victim.kill();
    }
    assert_eq!(steady.finish().trim(), "done 50000");
    ring.close_intake();
    // The consumer checked that each producer's events arrived as 0, 1, 2... intact: a
    // victim's are a prefix of what it made, its last claim abandoned, never torn.
    let (_, per) = result(&consumer.finish());
    assert_eq!(per.get(&1), Some(&50000));
    // Victims that died between claims hold nothing, so nobody had to reap them yet: the
    // table says they are dead, and one recovery pass frees them.
    assert!(ring.stats().producers.iter().all(|p| !p.alive));
    ring.recover_dead_producers();
    let stats = ring.stats();
    assert!(stats.producers.is_empty(), "{stats:?}");
    assert!(stats.dead_producers <= 8, "{stats:?}");
}

#[test]
fn a_single_producer_ring_survives_its_producers_being_killed_one_after_another() {
    let name = Named::new("sp-kill");
    let mut options = SharedRingOptions::new(16, 24);
    options.single_producer = true;
    let ring = SharedRing::create(&name.0, &options).unwrap();
    let mut consumers: Vec<Peer> =
        ["a", "b"].iter().map(|c| Peer::spawn(&["consume", &name.0, c])).collect();
    for c in &mut consumers {
        assert_eq!(c.line(), "joined");
    }
    let mut random = kill_points();
    // One producer at a time: each takes the entry of the one killed before it (reaped when
    // it registers) and goes on after what that one published.
    for round in 0..6 {
        let id = (10 + round).to_string();
        let victim = Peer::spawn(&["produce", &name.0, &id, "10000000", "--batch", "3"]);
        std::thread::sleep(Duration::from_millis(5 + random(40)));
        victim.kill();
    }
    let last = Peer::spawn(&["produce", &name.0, "1", "30000", "--batch", "4"]);
    assert_eq!(last.finish().trim(), "done 30000");
    ring.close_intake();
    // Each consumer checked every producer's events arrived as 0, 1, 2... intact; both got
    // the same events; a claim a victim held was never published and never had to be skipped.
    let results: Vec<_> = consumers.into_iter().map(|c| result(&c.finish())).collect();
    assert_eq!(results[0], results[1]);
    let (events, per) = &results[0];
    assert_eq!(per.get(&1), Some(&30000));
    assert_eq!(*events, per.values().sum::<u64>());
    let stats = ring.stats();
    assert!(stats.single_producer);
    assert_eq!(stats.abandoned, 0);
    assert_eq!(stats.cursor + 1, *events as i64, "no gaps: every sequence was delivered");
}

#[test]
fn a_consumer_killed_asleep_gives_its_sleeper_count_back() {
    let name = Named::new("asleep");
    let ring = ring(&name, 8);
    let mut sleeper = Peer::spawn(&["consume", &name.0, "sleeper"]);
    assert_eq!(sleeper.line(), "joined");
    // Nothing is published: it spins, then sleeps on the publish word (counted, recorded).
    wait_until("the consumer is asleep", || ring.stats().asleep.0 == 1);
    sleeper.kill();
    // Publishes now find a count but wake nobody: at most once per interval a waker looks
    // for sleepers that died and takes their counts back (the dead consumer still gates, so
    // the ring of 8 takes one event at a time).
    let mut producer = ring.producer().unwrap();
    let mut consumer = ring.consumer("alive").unwrap();
    wait_until("the count is taken back", || {
        if producer.try_next(1).is_ok() {
            producer.publish().unwrap();
        }
        consumer.poll(|_, _| {}).unwrap();
        ring.reap_dead_consumers();
        std::thread::sleep(Duration::from_millis(5));
        ring.stats().asleep.0 == 0
    });
}

/// Random numbers below `n` for kill points, from a seed the test prints (to replay a failure).
fn kill_points() -> impl FnMut(u64) -> u64 {
    let mut seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64;
    eprintln!("random kill points: seed {seed}");
    move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    }
}

/// Polls `done` until it holds; the watchdog of the test run bounds how long (no timing is
/// asserted: a condition that never holds fails the test).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < WATCHDOG, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn foreign_truncated_and_other_version_files_are_refused_with_codes() {
    let name = Named::new("foreign");
    let path = ring_path(&name.0).unwrap();
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    std::fs::write(&path, b"short").unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    std::fs::remove_file(&path).unwrap();

    let ring = ring(&name, 64);
    drop(ring);
    let whole = std::fs::read(&path).unwrap();
    // Truncated: the header is intact, the slots are not all there.
    std::fs::write(&path, &whole[..whole.len() - 24]).unwrap();
    let e = SharedRing::open(&name.0).unwrap_err();
    assert_eq!(e.code(), "ERR_DISRUPTOR_FOREIGN");
    assert!(e.to_string().contains("truncated"), "{e}");
    // Another layout version.
    let mut other = whole.clone();
    other[8..12].copy_from_slice(&(disruptor_core::shm::LAYOUT_VERSION + 1).to_ne_bytes());
    std::fs::write(&path, &other).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_VERSION");
    // Dimensions that do not fit the length, or are not a ring's.
    let mut bad = whole.clone();
    bad[24..32].copy_from_slice(&(1u64 << 40).to_ne_bytes());
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    let mut bad = whole.clone();
    bad[24..32].copy_from_slice(&3u64.to_ne_bytes());
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    // A producer kind that is not one, or single with a table of several.
    let mut bad = whole.clone();
    bad[72..76].copy_from_slice(&7u32.to_ne_bytes());
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    let mut bad = whole.clone();
    bad[72..76].copy_from_slice(&1u32.to_ne_bytes());
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap_err().code(), "ERR_DISRUPTOR_FOREIGN");
    // The untouched copy still opens.
    std::fs::write(&path, &whole).unwrap();
    assert_eq!(SharedRing::open(&name.0).unwrap().buffer_size(), 64);

    for bad in ["", "a/b", "../../etc/passwd", ".x", "x..y", "é", &"n".repeat(201)] {
        assert_eq!(SharedRing::open(bad).unwrap_err().code(), "ERR_INVALID_ARG_VALUE", "{bad:?}");
        let e = SharedRing::create(bad, &SharedRingOptions::new(8, 8)).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
    }
    assert_eq!(
        SharedRing::open("test-never-created").unwrap_err().code(),
        "ERR_DISRUPTOR_NOT_FOUND"
    );
}

#[test]
fn a_ring_of_mode_0600_is_closed_to_other_users() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let name = Named::new("mode");
    let mut options = SharedRingOptions::new(8, 8);
    let ring = SharedRing::create(&name.0, &options).unwrap();
    let mode = std::fs::metadata(ring_path(&name.0).unwrap()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(ring);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the other-user half of this test needs root to run as nobody");
        return;
    }
    // A copy of the peer that `nobody` may execute (the build directory may not be reachable).
    let dir = std::env::temp_dir().join(format!("shm-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let peer = dir.join("disruptor-shm-peer");
    std::fs::copy(PEER, &peer).unwrap();
    std::fs::set_permissions(&peer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open_as_nobody = |ring: &str| {
        let mut command = Command::new(&peer);
        command
            .args(["open", ring])
            .env("NAPI_DISRUPTOR_SHM_DIR", disruptor_core::shm::ring_dir())
            .uid(65534)
            .gid(65534);
        // ETXTBSY: a child forked by a parallel test may briefly hold the copy's write handle.
        let out = loop {
            match command.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                out => break out.unwrap(),
            }
        };
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(open_as_nobody(&name.0), "ERR_DISRUPTOR_PERMISSION");
    // The mode decides: the same ring made 0666 opens.
    let open = Named::new("mode-open");
    options.mode = 0o666;
    SharedRing::create(&open.0, &options).unwrap();
    assert_eq!(open_as_nobody(&open.0), "ok");
    std::fs::remove_dir_all(&dir).unwrap();
}
