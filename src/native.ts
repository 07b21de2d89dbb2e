/**
 * The only file that loads the native addon. It goes through `binding.js`, the loader that
 * `napi build` generates (never edited by hand), which picks the `.node` binary of this platform.
 */

import type * as Binding from '../binding'
import { coded } from './errors'

/** Per-platform npm packages with a prebuilt binary (package.json "napi.targets"). */
const PREBUILT: Readonly<Record<string, string>> = {
  'linux-x64-gnu': 'napi-disruptor-linux-x64-gnu',
  'linux-arm64-gnu': 'napi-disruptor-linux-arm64-gnu',
  'darwin-x64': 'napi-disruptor-darwin-x64',
  'darwin-arm64': 'napi-disruptor-darwin-arm64',
  'win32-x64': 'napi-disruptor-win32-x64-msvc',
}

/** This process's platform as the package names spell it: `linux-x64-gnu`, `darwin-arm64`, ... */
function platformName(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform !== 'linux') return base
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return `${base}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
}

/** The addon, or one coded error that names this platform and the package it needs. */
function loadBinding(): typeof Binding {
  try {
    return require('../binding') as typeof Binding
  } catch (cause) {
    const platform = platformName()
    const pkg = PREBUILT[platform]
    const advice =
      pkg === undefined
        ? `napi-disruptor has no prebuilt binary for ${platform} (prebuilt: ${Object.keys(PREBUILT).join(', ')}); ` +
          'build it from source (README "Building from source")'
        : `the package ${pkg} (an optional dependency of napi-disruptor) is missing or failed to load; ` +
          'reinstall without --omit=optional / --no-optional, or build from source (README "Building from source")'
    throw coded(
      new Error(`napi-disruptor: no native binary loaded for ${platform}: ${advice}`, { cause }),
      'ERR_DISRUPTOR_NO_BINARY',
    )
  }
}

const binding = loadBinding()

/** One JavaScript thread's handle on a native ring (crates/binding/src/ring.rs). */
export const NativeRing = binding.NativeRing
export type NativeRing = Binding.NativeRing
/** The binding's statistics of a ring, before `stats()` shapes them. */
export type NativeRingStats = Binding.NativeRingStats
/** A wait strategy as the binding takes it and describes it. */
export type WaitConfig = Binding.WaitConfig

/**
 * Rings in named shared memory (crates/binding/src/shm.rs); undefined where the addon has none
 * (Windows): `ProcessRing` then throws ERR_DISRUPTOR_UNSUPPORTED.
 */
export const NativeSharedRing: typeof Binding.NativeSharedRing | undefined = binding.NativeSharedRing
export type NativeSharedRing = Binding.NativeSharedRing
export type NativeSharedProducer = Binding.NativeSharedProducer
export type NativeSharedConsumer = Binding.NativeSharedConsumer
export type NativeSharedStats = Binding.NativeSharedStats

// Const enums of binding.d.ts: tsc inlines their values, so using them costs nothing at run time.
export { ClaimSentinel, RoomWaitOutcome, SplitCursorLayout, StatsLayout } from '../binding'

/**
 * Version of the loaded native engine.
 *
 * It equals this package's version when the `.node` binary matches the JavaScript code; a
 * mismatch means a stale or foreign binary was loaded.
 */
export function engineVersion(): string {
  return binding.engineVersion()
}

/** Seals fixed-size records in one call: see `crc32cRecords` in crates/binding/src/checksum.rs. */
export const crc32cRecords: typeof Binding.crc32cRecords = binding.crc32cRecords

/** The CRC-32C of many ranges in one call: see `crc32cRanges` in crates/binding/src/checksum.rs. */
export const crc32cRanges: typeof Binding.crc32cRanges = binding.crc32cRanges
