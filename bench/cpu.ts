import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Where the CPU went during a run (Linux /proc): the server process, PostgreSQL's processes, the
 * load generator (this process), and everything else on the machine. "Other" is what makes a run
 * noisy: on a shared 2-core machine a test suite running alongside halves the figures.
 */
export interface CpuSnapshot {
  at: number;
  machineBusy: number;
  server: number;
  /** By process id, so processes that come and go are counted for their time inside the interval. */
  postgres: Map<number, number>;
  generatorUs: number;
}

/** Average cores in use over an interval. */
export interface CpuUse {
  server: number;
  postgres: number;
  generator: number;
  other: number;
  machine: number;
}

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** utime + stime of a process, in ticks. */
function processTicks(pid: number | string): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function machineBusyTicks(): number {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line) return NaN;
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  void idle;
  void iowait;
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/**
 * CPU ticks of the PostgreSQL processes that work for us: the server's shared processes
 * (postmaster, checkpointer, WAL writer, autovacuum) and the client backends of our database.
 * Backends of other databases (a test suite running alongside) count as "other".
 */
function postgresTicks(database: string | null): Map<number, number> {
  const ticks = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return ticks;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    if (read(`/proc/${entry}/comm`)?.trim() !== 'postgres') continue;
    const command = read(`/proc/${entry}/cmdline`)?.replaceAll('\0', ' ') ?? '';
    const clientBackend = /\(\d+\)|\[local\]/.test(command);
    if (clientBackend && !(database && command.includes(` ${database} `))) continue;
    ticks.set(Number(entry), processTicks(entry));
  }
  return ticks;
}

/** database: the PostgreSQL database the server uses, if any. */
export function cpuSnapshot(serverPid: number | null, database: string | null = null): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    machineBusy: machineBusyTicks(),
    server: serverPid === null ? 0 : processTicks(serverPid),
    postgres: postgresTicks(database),
    generatorUs: usage.user + usage.system,
  };
}

export function cpuUse(from: CpuSnapshot, to: CpuSnapshot): CpuUse {
  const seconds = (to.at - from.at) / 1000;
  const cores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
  const machine = cores(to.machineBusy - from.machineBusy);
  const server = cores(to.server - from.server);
  let postgresTicksUsed = 0;
  for (const [pid, ticks] of to.postgres) postgresTicksUsed += ticks - (from.postgres.get(pid) ?? 0);
  const postgres = cores(postgresTicksUsed);
  const generator = (to.generatorUs - from.generatorUs) / 1e6 / seconds;
  return { server, postgres, generator, other: Math.max(0, machine - server - postgres - generator), machine };
}
