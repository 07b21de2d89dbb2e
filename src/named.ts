/**
 * The contract's `new Disruptor({ name, ... })`: with a `name`, the constructor makes the whole
 * ring in named shared memory and returns a `ProcessRing` (what `Disruptor.open(name)` returns
 * in any other process); without one, a ring of this process's threads. A ring in a file runs
 * on another engine (the file's cursor, flags and tables, futex waits, liveness by pid), so it
 * is another class; the two construct signatures keep the types honest.
 */

import { Disruptor as ThreadDisruptor } from './disruptor'
import { rangeError, typeError } from './errors'
import { ProcessRing, type ProcessRingOptions } from './process/ring'

/** Options that only a ring of one process's threads has. */
const THREAD_ONLY = ['waitStrategy'] as const

/** `Disruptor` the value: the class, with a construct signature for named rings first. */
export type DisruptorConstructor = {
  /**
   * A ring in named shared memory, mode 0600 unless told (see `ProcessRing.create`):
   * ERR_DISRUPTOR_EXISTS if the name is taken.
   */
  new <E = number>(options: ProcessRingOptions<E>): ProcessRing<E>
} & typeof ThreadDisruptor

/** The class of rings of one process's threads (for `class X extends (Disruptor as DisruptorClass)`). */
export type DisruptorClass = typeof ThreadDisruptor

/** The instance type of a ring of one process's threads. */
export type Disruptor<E = number> = ThreadDisruptor<E>

/**
 * The class behind a Proxy whose `construct` sends options with a `name` to
 * `ProcessRing.create`. Everything else (statics, `instanceof` of a thread ring, subclasses)
 * is the class's; a named ring is a `ProcessRing`, not `instanceof Disruptor`. TypeScript
 * refuses `class X extends Disruptor` (two construct signatures): extend
 * `Disruptor as DisruptorClass` instead.
 */
export const Disruptor = new Proxy(ThreadDisruptor, {
  construct(target, args: unknown[], newTarget) {
    const options = args[0]
    if (
      newTarget === Disruptor &&
      options !== null &&
      typeof options === 'object' &&
      (options as { name?: unknown }).name !== undefined
    ) {
      for (const key of THREAD_ONLY) {
        if (key in options)
          throw rangeError(
            `${key} does not apply to a ring shared between processes (its waits are futexes in the file)`,
          )
      }
      if (typeof (options as { name: unknown }).name !== 'string') throw typeError('name must be a string')
      return ProcessRing.create(options as ProcessRingOptions<unknown>)
    }
    return Reflect.construct(target, args, newTarget)
  },
}) as DisruptorConstructor
