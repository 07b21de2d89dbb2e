/**
 * `napi-disruptor/journal`: durability without a server. `journal(d, { dir })` is a consumer
 * stage that appends every batch to segment files (records framed with length and CRC-32C);
 * `replay({ dir, from })` reads them back, in order, checked.
 */

export type { FsyncPolicy, JournalOptions, JournalRecovery, JournalSource } from './journal'
export { Journal, journal } from './journal'
export type { ReplayOptions, ReplayRecord, ReplayResult, ReplayTarget } from './replay'
export { Replay, replay } from './replay'
