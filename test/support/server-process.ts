import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TesseraClient } from '../../src/client/sdk.ts';

/**
 * Tessera as a real child process (`node src/server/start.ts`, as `npm start` runs it), for the
 * process-level suites: crash, shutdown, data-directory lock, concurrent migrations.
 *
 * Every child spawned here is remembered; `killAllServers()` (call it in `after`) and a last
 * resort `exit` handler SIGKILL any that still run, so a failing test never leaves one behind.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const START_SCRIPT = path.join(REPO_ROOT, 'src/server/start.ts');
/** A web dir that does not exist: start.ts builds the portal only for the repo's own dist/web. */
const NO_PORTAL_DIR = path.join(os.tmpdir(), 'tessera-no-portal-for-process-tests');

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcessOptions {
  /** TESSERA_DATA_DIR: the PGlite data directory (or, with databaseUrl, where the secret lives). */
  dataDir: string;
  /** DATABASE_URL: use this PostgreSQL database instead of the embedded one. */
  databaseUrl?: string | undefined;
  /** TESSERA_SECRET (32+ characters). */
  secret?: string | undefined;
  /** TESSERA_LOG_LEVEL; 'info' logs every request (incoming/completed). Default 'warn'. */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** PORT; a free one is picked when absent. */
  port?: number;
  /** Further environment variables (undefined removes one). */
  env?: Record<string, string | undefined>;
}

const live = new Set<ServerProcess>();
process.once('exit', () => {
  for (const server of live) server.child.kill('SIGKILL');
});

const handedOut = new Set<number>();
/** A port nobody listens on right now (listen on 0, close, hand out; never the same one twice). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}

/** A new empty directory under the system's temp dir; removed by the returned function. */
export function makeTempDir(label: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-${label}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly options: ServerProcessOptions;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitResult>;
  stdout = '';
  stderr = '';
  #exit: ExitResult | null = null;
  readonly #outputWaiters = new Set<() => void>();

  constructor(options: ServerProcessOptions, port: number) {
    this.options = options;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Nothing from the outer environment picks the server's database or behaviour by accident,
    // and the child is not mistaken for a test-runner child.
    for (const name of Object.keys(env)) if (name.startsWith('TESSERA_') || name === 'DATABASE_URL' || name === 'NODE_TEST_CONTEXT') delete env[name];
    Object.assign(env, {
      PORT: String(port),
      HOST: '127.0.0.1',
      TESSERA_DATA_DIR: options.dataDir,
      TESSERA_WEB_DIR: NO_PORTAL_DIR,
      TESSERA_LOG_LEVEL: options.logLevel ?? 'warn',
    });
    if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
    if (options.secret) env.TESSERA_SECRET = options.secret;
    for (const [name, value] of Object.entries(options.env ?? {})) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    this.child = spawn(process.execPath, [START_SCRIPT], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error('could not spawn the server process');
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#wakeOutputWaiters();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#wakeOutputWaiters();
    });
    // 'close' (not 'exit'): the output pipes are drained by then.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        this.#wakeOutputWaiters();
        resolve(this.#exit);
      });
    });
  }

  #wakeOutputWaiters(): void {
    for (const wake of this.#outputWaiters) wake();
  }

  /** How the process ended, or null while it runs. */
  get exitResult(): ExitResult | null {
    return this.#exit;
  }

  /** stdout and stderr, for failure messages. */
  output(): string {
    return `--- pid ${this.pid} stdout ---\n${this.stdout}\n--- pid ${this.pid} stderr ---\n${this.stderr}`;
  }

  /** The JSON log lines written so far (pino writes one object per line to stdout). */
  logLines(): Array<Record<string, unknown>> {
    const lines: Array<Record<string, unknown>> = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return lines;
  }

  /** Resolves once `predicate` holds for the output so far; rejects at the deadline or on exit. */
  async waitForOutput(predicate: (server: ServerProcess) => boolean, timeoutMs: number, what = 'output'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (predicate(this)) return;
      if (this.#exit) throw new Error(`server exited (${JSON.stringify(this.#exit)}) before ${what}\n${this.output()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms\n${this.output()}`);
      let wake = () => {};
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => wake(), Math.min(left, 250));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#outputWaiters.add(wake);
      });
      this.#outputWaiters.delete(wake);
    }
  }

  /** Polls GET /readyz until it answers 200; rejects if the process exits first or at the deadline. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.#exit) throw new Error(`server exited (${JSON.stringify(this.#exit)}) before it was ready\n${this.output()}`);
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        const body = await response.text();
        if (response.status === 200) return;
        last = `${response.status} ${body}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await Promise.race([sleep(50), this.exited]);
    }
    throw new Error(`server not ready within ${timeoutMs} ms (last: ${last})\n${this.output()}`);
  }

  /** Resolves with how the process ended; rejects at the deadline (the process keeps running). */
  async waitExit(timeoutMs = 20_000): Promise<ExitResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`server did not exit within ${timeoutMs} ms\n${this.output()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#exit) this.child.kill(signal);
  }

  /** SIGKILL, then wait for the exit. */
  async crash(): Promise<ExitResult> {
    this.kill('SIGKILL');
    return this.waitExit(10_000);
  }

  /** SIGTERM and wait for the exit (drain); SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<ExitResult> {
    this.kill('SIGTERM');
    try {
      return await this.waitExit(timeoutMs);
    } catch (error) {
      this.kill('SIGKILL');
      await this.waitExit(5_000).catch(() => {});
      throw error;
    }
  }

  /** An SDK client of this server with its own cookie jar (Node's fetch, over the socket). */
  client(): TesseraClient {
    return new TesseraClient({ baseUrl: this.url, cookieJar: true });
  }
}

/** Spawns a server and returns at once (not waiting for readiness). */
export async function spawnServer(options: ServerProcessOptions): Promise<ServerProcess> {
  return new ServerProcess(options, options.port ?? (await freePort()));
}

/**
 * Spawns a server and waits until /readyz answers 200. Should the picked port be taken by
 * another process in between, it tries again on another one. A server that does not become
 * ready is killed and the error carries its output.
 */
export async function startServerProcess(options: ServerProcessOptions, timeoutMs = 60_000): Promise<ServerProcess> {
  for (let attempt = 0; ; attempt++) {
    const server = await spawnServer(options);
    try {
      await server.waitReady(timeoutMs);
      return server;
    } catch (error) {
      server.kill('SIGKILL');
      await server.waitExit(5_000).catch(() => {});
      if (options.port === undefined && attempt < 3 && /EADDRINUSE/.test(server.stdout + server.stderr)) continue;
      throw error;
    }
  }
}

/** SIGKILLs every server process still running and waits for them (for `after` hooks). */
export async function killAllServers(): Promise<void> {
  const running = [...live];
  for (const server of running) server.kill('SIGKILL');
  await Promise.all(running.map((server) => server.waitExit(10_000).catch(() => {})));
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!, index);
      }
    }),
  );
  return results;
}
