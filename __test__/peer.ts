/**
 * Peer processes of the ProcessRing tests: a Node fixture or the Rust peer, its stdout read line
 * by line. Each spec that starts peers registers `test.afterEach.always(killPeers)`, so a test
 * that fails midway leaves none behind (ava would not exit).
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { createInterface, type Interface } from 'node:readline'

/** The Rust peer (crates/disruptor-core/src/bin/disruptor-shm-peer.rs), built by the tests that use it. */
export const RUST_PEER = join(resolve(__dirname, '..'), 'target', 'debug', 'disruptor-shm-peer')

/** Peers still running. */
const running = new Set<ChildProcess>()

/** SIGKILLs every peer still running. */
export function killPeers(): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

/** A peer process with its stdout read line by line. */
export class Peer {
  readonly child: ChildProcess
  private readonly lines: string[] = []
  private readonly waiters: (() => void)[] = []
  private readonly reader: Interface
  readonly exited: Promise<number | null>

  constructor(command: string, args: string[]) {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    this.child = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    this.reader = createInterface({ input: child.stdout })
    this.reader.on('line', (l) => {
      this.lines.push(l)
      for (const w of this.waiters.splice(0)) w()
    })
    this.exited = new Promise((done) => this.child.on('exit', (code) => done(code)))
  }

  /** `__test__/fixtures/process-peer.js` with `args`. */
  static js(...args: string[]): Peer {
    return Peer.fixture('process-peer.js', ...args)
  }

  /** A Node fixture of `__test__/fixtures` with `args`. */
  static fixture(file: string, ...args: string[]): Peer {
    return new Peer(process.execPath, [join(__dirname, 'fixtures', file), ...args])
  }

  static rust(...args: string[]): Peer {
    return new Peer(RUST_PEER, args)
  }

  /** The next line starting with `prefix`. */
  async line(prefix: string): Promise<string> {
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix))
      if (i >= 0) return this.lines.splice(i, 1)[0]
      if (this.child.exitCode !== null) throw new Error(`peer exited (${this.child.exitCode}) before '${prefix}'`)
      await new Promise<void>((w) => {
        this.waiters.push(w)
        this.child.once('exit', w)
      })
    }
  }

  /** Waits for a clean exit; its `result` line parsed, if any. */
  async finish(): Promise<{ events: number; per: Record<string, number> } | undefined> {
    const code = await this.exited
    if (code !== 0) throw new Error(`peer exited with ${code}`)
    const r = this.lines.find((l) => l.startsWith('result '))
    if (r === undefined) return undefined
    const [, events, ...per] = r.split(' ')
    return {
      events: Number(events),
      per: Object.fromEntries(per.map((p) => p.split(':')).map(([id, n]) => [id, Number(n)])),
    }
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}
