// A real nats-server with JetStream for the tests (the Debian package `nats-server`; .ci/run
// installs it when missing): started on 127.0.0.1 on a free port with a store directory of its
// own, stopped (and restarted on the same port and store) by the tests themselves.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** The nats-server binary, or an error that says how to get it (never a skipped test). */
export function natsServerBinary(): string {
  for (const candidate of [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (candidate === undefined) continue
    if (spawnSync(candidate, ['--version'], { encoding: 'utf8' }).status === 0) return candidate
  }
  throw new Error('nats-server not found: install it (Debian: apt-get install nats-server) or set NATS_SERVER')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export class NatsServer {
  private child: ChildProcess | null = null
  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly binary: string,
  ) {}

  /** A started server (JetStream on, its own store directory, a free port). */
  static async start(): Promise<NatsServer> {
    const server = new NatsServer(
      await freePort(),
      fs.mkdtempSync(path.join(os.tmpdir(), 'nats-store-')),
      natsServerBinary(),
    )
    await server.restart()
    return server
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  /** Starts the server (again, on the same port and store) and waits until it takes connections. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('nats-server is running')
    const child = spawn(this.binary, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    this.child = child
    let log = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 20_000)
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        if (log.includes('Server is ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`nats-server exited with ${code}: ${log}`))
      })
    })
    child.removeAllListeners('exit')
  }

  /** Stops the server (SIGTERM: it shuts down cleanly and keeps its store) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.child
    if (child === null) return
    this.child = null
    if (child.exitCode !== null) return
    await new Promise((resolve) => {
      child.once('exit', resolve)
      child.kill('SIGTERM')
    })
  }

  /** Stops the server and removes its store. */
  async dispose(): Promise<void> {
    await this.stop()
    fs.rmSync(this.storeDir, { recursive: true, force: true })
  }
}
