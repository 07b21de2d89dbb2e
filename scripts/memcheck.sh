#!/usr/bin/env bash
# Memory safety check (valgrind memcheck), short enough for every CI run (~2-3 min on 2 cores).
# Run from anywhere after `npm ci` (which builds dist/index.js): `bash scripts/memcheck.sh`.
#
# 1. self test: the checker must not be a no-op. A throwaway Rust crate with one test that
#    leaks and one that reads freed memory must both fail under the same valgrind command as
#    part 2, and scripts/memcheck/report.js must give the right verdict on synthetic reports.
# 2. rust: every test binary of crates/disruptor-core except loom (unit tests, bad_input,
#    lifecycle, model, stress, wait_strategy_contract, shm_processes (its peer processes run
#    natively): the debug build `npm test` made) under
#    memcheck. Any invalid read/write/free, use of an uninitialised value or definitely lost
#    block fails (--error-exitcode). No suppressions: Rust's std runs clean here. A binary
#    whose tests fail (not memcheck) is run once more: valgrind is 20-50x slower, and timing
#    tests are judged by `npm test`.
# 3. node: the addon, built with symbols and line tables (otherwise the release profile: same
#    code as the shipped addon; in target/memcheck), loaded by scripts/memcheck/fixture.js
#    under memcheck three times: EVENTS events x CYCLES open/close cycles ending in a full
#    teardown, the same ending in process.exit after full GCs ('small'), and 4x the events and
#    4x the cycles ending so ('large'). scripts/memcheck/report.js fails on any invalid
#    access or free, any other memcheck error with a frame in the addon, any block of the addon
#    definitely/indirectly lost after the teardown, or growth of the addon's bytes not freed at
#    exit from small to large (what the process keeps per event or per cycle; 0 when nothing
#    leaks). Node and V8's own noise is counted, not judged. One suppression
#    (scripts/memcheck/node.supp): napi-rs's 40 bytes per env.
#
# Environment:
#   MEMCHECK_PARTS         parts to run (default 'self-test rust node')
#   MEMCHECK_EVENTS        events per ring and cycle in the small node run (default 200)
#   MEMCHECK_CYCLES        open/close cycles in the small node run (default 2)
#   MEMCHECK_MAX_GROWTH    bytes the addon's unfreed total may grow by, small -> large (1024)
#   MEMCHECK_ADDON         a .node file to check instead of building one (keep its symbols:
#                          the suppressions and the report's stacks need them)
#   MEMCHECK_OUT           where logs and XML reports go (default target/memcheck/reports)
#   MEMCHECK_TIMEOUT       seconds one run under valgrind may take before it is killed and fails
#                          (default 600: a hang fails here, not at CI's overall limit)
#   MEMCHECK_INDEX         the fixture loads this dist/index.js instead of the repository's (to try
#                          a patched build; binding.js must sit in the folder above it)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

parts=" ${MEMCHECK_PARTS:-self-test rust node} "
events=${MEMCHECK_EVENTS:-200}
cycles=${MEMCHECK_CYCLES:-2}
max_growth=${MEMCHECK_MAX_GROWTH:-1024}
limit=${MEMCHECK_TIMEOUT:-600}
out=${MEMCHECK_OUT:-$root/target/memcheck/reports}
mkdir -p "$out"

step() { printf '\n--- memcheck: %s\n' "$*"; }
fail() {
  printf '\nmemcheck FAILED: %s\n' "$*" >&2
  exit 1
}
has_part() { [[ $parts == *" $1 "* ]]; }

command -v valgrind >/dev/null || fail 'valgrind not found (Debian/Ubuntu: apt-get install valgrind)'
echo "$(valgrind --version), node $(node --version), $(rustc --version)"
echo "logs and reports: $out"

# Valgrind for Rust test binaries: exit code 99 on any memcheck error or definitely lost block.
vg_rust=(timeout --kill-after=10 "$limit" valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
  --error-exitcode=99 --track-origins=no --num-callers=30)

# Test executables of a cargo package as "name<TAB>path" lines, from `cargo test --no-run`.
test_executables() {
  # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
  cargo test "$@" --no-run --quiet --message-format=json-render-diagnostics | node -e '
    let buf = ""
    process.stdin.on("data", (d) => { buf += d })
    process.stdin.on("end", () => {
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue
        const m = JSON.parse(line)
        // Test harnesses only: a [[bin]] (the shared-ring peer) is built too, as a plain program.
        if (m.reason === "compiler-artifact" && m.executable && m.profile.test) console.log(`${m.target.name}\t${m.executable}`)
      }
    })'
}

# Runs one test binary under memcheck; prints a one-line result; returns valgrind's exit code
# (0 clean, 99 memcheck errors, anything else: the tests failed). Sets `last_log`.
run_rust_test() {
  local name=$1 exe=$2
  shift 2
  last_log="$out/rust-$name.valgrind.log"
  local start rc=0
  start=$(date +%s)
  "${vg_rust[@]}" --log-file="$last_log" "$exe" --test-threads=2 "$@" >"$out/rust-$name.out" 2>&1 || rc=$?
  local errors lost
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$last_log" | tail -n 1)
  lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$last_log" | tail -n 1)
  printf '  %-30s %4ss  rc=%-3s memcheck errors: %s, definitely lost: %s bytes\n' \
    "$name" "$(($(date +%s) - start))" "$rc" "${errors:-?}" "${lost:-0}"
  return "$rc"
}

# The memcheck errors of a valgrind log, without the leak summary noise of possibly lost blocks.
show_errors() {
  awk '/^==[0-9]+== *$/ {
      if (b ~ /Invalid|uninitialised|definitely lost in|indirectly lost in|Mismatched|overlap|free\(\)/) printf "%s", b
      b = ""
      next
    }
    { b = b $0 "\n" }' "$1" | head -n 120
}

if has_part self-test; then
  step 'self test (the checks must be able to fail)'
  node scripts/memcheck/report.js --self-test || fail 'report.js self test'

  crate="$out/selftest-crate"
  mkdir -p "$crate/src"
  cat >"$crate/Cargo.toml" <<'EOF'
[package]
name = "memcheck-selftest"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]
EOF
  cat >"$crate/src/lib.rs" <<'EOF'
//! Written by scripts/memcheck.sh: two tests memcheck must fail.

#[cfg(test)]
#[inline(never)]
fn lose(n: usize) {
    for i in 0..n {
        std::mem::forget(vec![i as u8; 1000]);
    }
}

#[test]
fn leaks() {
    lose(4);
}

#[test]
fn reads_freed_memory() {
    let b = Box::new([7u64; 4]);
    let p: *const u64 = &b[1];
    drop(b);
    // SAFETY: none: a use after free, on purpose.
    std::hint::black_box(unsafe { std::ptr::read_volatile(p) });
}
EOF
  selftest_exe=$(CARGO_TARGET_DIR="$out/selftest-target" test_executables --offline \
    --manifest-path "$crate/Cargo.toml" | cut -f 2) || true
  if [ -z "$selftest_exe" ] || [ ! -x "$selftest_exe" ]; then
    fail 'could not build the self-test crate'
  fi
  for t in leaks reads_freed_memory; do
    rc=0
    run_rust_test "selftest-$t" "$selftest_exe" --exact "$t" || rc=$?
    [ "$rc" = 99 ] || fail "self test: memcheck did not flag the test '$t' (exit code $rc, expected 99): see $last_log"
    show_errors "$last_log" | grep -m 1 -E 'Invalid|definitely lost' | sed 's/^==[0-9]*== /    flagged: /' || true
  done
  echo 'self test ok: a leak and a use after free both fail the Rust check'
fi

if has_part rust; then
  step 'rust: disruptor-core test binaries under memcheck'
  start=$(date +%s)
  mapfile -t tests < <(test_executables -p disruptor-core)
  [ "${#tests[@]}" -gt 0 ] || fail 'cargo test -p disruptor-core --no-run gave no test binaries'
  failed=()
  for line in "${tests[@]}"; do
    name=${line%%$'\t'*}
    exe=${line#*$'\t'}
    # loom models run in their own CI step with --cfg loom; without it the binary is empty.
    [ "$name" = loom ] && continue
    rc=0
    run_rust_test "$name" "$exe" || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 99 ]; then
      # A test (not memcheck) failed: valgrind runs 20-50x slower, which some timing-sensitive
      # tests do not survive every time. `npm test` judges the tests; here one retry.
      echo "  tests failed in $name under valgrind (exit code $rc), retrying once; last lines:"
      grep -E '^(test .* FAILED|thread .* panicked)' "$out/rust-$name.out" | head -n 5 || true
      cp "$out/rust-$name.out" "$out/rust-$name.first-try.out"
      rc=0
      run_rust_test "$name" "$exe" || rc=$?
    fi
    if [ "$rc" = 99 ]; then
      echo "  memcheck errors in $name (full log: $last_log):"
      show_errors "$last_log" || true
      failed+=("$name (memcheck)")
    elif [ "$rc" != 0 ]; then
      echo "  tests failed in $name under valgrind (exit code $rc); last lines:"
      tail -n 30 "$out/rust-$name.out"
      failed+=("$name (tests, exit code $rc)")
    fi
  done
  echo "rust part: $(($(date +%s) - start)) s"
  [ "${#failed[@]}" -eq 0 ] || fail "rust: ${failed[*]}"
fi

if has_part node; then
  step 'node: the addon under memcheck'
  [ -f dist/index.js ] || fail "dist/index.js is missing: run 'npm ci' (or 'npm run build') first"
  start=$(date +%s)
  addon_dir="$out/addon"
  mkdir -p "$addon_dir"
  addon="$addon_dir/napi-disruptor.linux-x64-gnu.node"
  if [ -n "${MEMCHECK_ADDON:-}" ]; then
    cp "$MEMCHECK_ADDON" "$addon"
  else
    # The release profile (LTO, one codegen unit) with its symbols and line tables kept, in a
    # target dir of its own so that the shipped build is not invalidated.
    CARGO_TARGET_DIR="$root/target/memcheck" CARGO_PROFILE_RELEASE_STRIP=false \
      CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
      cargo build --release --lib -p napi-disruptor --quiet
    cp "$root/target/memcheck/release/libnapi_disruptor.so" "$addon"
    echo "addon built with symbols: $(($(date +%s) - start)) s"
  fi

  # --smc-check=all-non-file (the default on amd64, stated because V8 writes code into
  # anonymous mappings); --show-leak-kinds=all: report.js also counts what is still reachable.
  vg_node=(timeout --kill-after=10 "$limit" valgrind --tool=memcheck --smc-check=all-non-file --leak-check=full
    --show-leak-kinds=all --errors-for-leak-kinds=definite --track-origins=no --num-callers=40
    --suppressions="$root/scripts/memcheck/node.supp" --xml=yes)
  run_node() {
    local label=$1 n=$2 m=$3 ending=$4 t rc=0
    t=$(date +%s)
    NAPI_RS_NATIVE_LIBRARY_PATH="$addon" "${vg_node[@]}" --xml-file="$out/node-$label.xml" \
      --log-file="$out/node-$label.valgrind.log" node --expose-gc scripts/memcheck/fixture.js \
      "$n" "$m" "$ending" >"$out/node-$label.out" 2>&1 || rc=$?
    printf '  %-8s %5s events x %2s cycles, %-8s %4ss, exit code %s: %s\n' "$label" "$n" "$m" \
      "$ending" "$(($(date +%s) - t))" "$rc" "$(tail -n 1 "$out/node-$label.out")"
    if [ "$rc" != 0 ] || ! grep -q '^memcheck fixture ok' "$out/node-$label.out"; then
      tail -n 30 "$out/node-$label.out"
      fail "node: the fixture failed under valgrind ($label run, exit code $rc)"
    fi
  }
  run_node teardown "$events" "$cycles" teardown
  run_node small "$events" "$cycles" exit
  run_node large $((events * 4)) $((cycles * 4)) exit
  node scripts/memcheck/report.js --addon "$addon" --max-growth "$max_growth" \
    --teardown "$out/node-teardown.xml" --small "$out/node-small.xml" \
    --large "$out/node-large.xml" || fail "node: see above (reports in $out)"
  echo "node part: $(($(date +%s) - start)) s"
fi

printf '\nmemcheck ok\n'
