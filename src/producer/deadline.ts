/**
 * How long a claim may wait for room (`next(n, { timeout })`, `nextAsync(n, { timeout })`):
 * native waits are sliced to what is left of it.
 */

import { performance } from 'node:perf_hooks'

import { coded } from '../errors'
import type { DisruptorError } from '../types'
import { timeoutOption } from '../validate'

export class Deadline {
  private readonly at: number

  /** `timeout` ms from now (Infinity: none). */
  constructor(readonly timeout: number) {
    this.at = timeout === Infinity ? Infinity : performance.now() + timeout
  }

  /** Ms left, for a native wait's slice (undefined: no deadline, the engine's own slice). */
  left(): number | undefined {
    return this.at === Infinity ? undefined : Math.max(0, this.at - performance.now())
  }

  expired(): boolean {
    return performance.now() >= this.at
  }

  /** What a claim of `n` that ran out of time throws. */
  error(n: number): DisruptorError {
    return coded(new Error(`no room for ${n} slot(s) within ${this.timeout} ms`), 'ERR_DISRUPTOR_TIMEOUT')
  }
}

/** No deadline: wait as long as it takes. */
export const FOREVER = new Deadline(Infinity)

/** The deadline of a claim's `{ timeout }` (checked: bad options fail even when there is room). */
export function deadlineOf(options: { timeout?: number } | undefined): Deadline {
  return options === undefined ? FOREVER : new Deadline(timeoutOption(options))
}
