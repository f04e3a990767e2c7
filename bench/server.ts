import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The checkout the benchmarks run against. */
export const ROOT = path.resolve(import.meta.dirname, '..');

export interface ServerOptions {
  /** PGlite data directory (also where the server key is generated). */
  dataDir: string;
  /** postgres://… to run on a PostgreSQL server instead of PGlite. */
  databaseUrl?: string | undefined;
  /** A folder that does not exist, so no portal is built or served. */
  webDir: string;
  /** Write a V8 CPU profile of the server into this folder when it exits. */
  cpuProfileDir?: string | undefined;
  /** TESSERA_SECRET, so several nodes on one database share it; generated in dataDir when absent. */
  secret?: string | undefined;
  /** Further TESSERA_* settings (cache lifetimes and the like). */
  env?: Record<string, string> | undefined;
}

export interface ServerProcess {
  readonly pid: number;
  readonly url: string;
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number;
  /** The last lines the server wrote, for error messages. */
  output(): string;
  /** Resolves with the time (ms since spawn) the path first answered 200. */
  waitFor(urlPath: string, timeoutMs?: number): Promise<number>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<number | null>;
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since start or the last resetPeak(), bytes. */
  hwm: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM of a process from /proc (Linux). */
export function readMemory(pid: number): Memory | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const rss = kb('VmRSS');
  return Number.isFinite(rss) ? { rss, hwm: kb('VmHWM') } : null;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false when the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Environment of the server child: ours minus anything that would configure Tessera. */
function serverEnv(port: number, options: ServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('TESSERA_') || name === 'DATABASE_URL' || name === 'PORT' || name === 'HOST') continue;
    env[name] = value;
  }
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_WEB_DIR: options.webDir,
    TESSERA_DATA_DIR: options.dataDir,
    // the hourly roll-up and retention run at start over every account (100,000 in lease-grown):
    // periodic work, not what a scenario measures, so it stays off
    TESSERA_HOUSEKEEPING_MINUTES: '0',
  });
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  if (options.secret) env.TESSERA_SECRET = options.secret;
  Object.assign(env, options.env ?? {});
  return env;
}

/** Starts `node src/server/start.ts` (what `npm start` runs) as a child process. */
export async function spawnServer(options: ServerOptions): Promise<ServerProcess> {
  const port = await freePort();
  const args = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  args.push(path.join(ROOT, 'src/server/start.ts'));
  return spawnNode(args, { cwd: ROOT, env: serverEnv(port, options), port, what: 'the server' });
}

/**
 * Runs a Node script as a child process listening on `port` (Tessera, or the peer of
 * bench/peer.ts): the tail of its output for error messages, waiting for a path to answer, and
 * stopping it with SIGTERM (SIGKILL after 20 s).
 */
export async function spawnNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; port: number; what: string }): Promise<ServerProcess> {
  const { what } = options;
  const url = `http://127.0.0.1:${options.port}`;
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      resolve(exitCode);
    });
  });
  child.once('error', (error) => {
    keep(Buffer.from(`spawn failed: ${error.message}\n`));
  });
  if (child.pid === undefined) {
    await exited;
    throw new Error(`could not start ${what}: ${tail}`);
  }
  const pid = child.pid;

  return {
    pid,
    url,
    spawnedAt,
    output: () => tail,
    async waitFor(urlPath, timeoutMs = 120_000) {
      const deadline = spawnedAt + timeoutMs;
      for (;;) {
        if (exitCode !== undefined) {
          throw new Error(`${what} exited (code ${exitCode}) before ${urlPath} answered:\n${tail}`);
        }
        try {
          const response = await fetch(`${url}${urlPath}`, { signal: AbortSignal.timeout(2000) });
          await response.arrayBuffer();
          if (response.status === 200) return performance.now() - spawnedAt;
        } catch {
          // not listening yet
        }
        if (performance.now() > deadline) throw new Error(`${urlPath} did not answer within ${timeoutMs} ms:\n${tail}`);
        await sleep(10);
      }
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
