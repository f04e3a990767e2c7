import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * PGlite is one process's database: two processes writing one data directory corrupt it.
 * The holder writes its identity into a lock file created exclusively; a later starter refuses
 * while the holder lives and takes the lock over once the holder is gone.
 */
interface Holder {
  pid: number;
  host: string;
  /** Kernel start time of the process, so a recycled pid is not mistaken for the holder. */
  processStart: string | null;
  startedAt: string;
}

export class DataDirLockedError extends Error {
  readonly dir: string;
  readonly holder: Holder;
  constructor(dir: string, holder: Holder) {
    super(
      `The data directory ${dir} is in use by process ${holder.pid} on ${holder.host} ` +
        `(since ${holder.startedAt}). Stop that process first, or give this one another ` +
        `TESSERA_DATA_DIR; several server nodes need DATABASE_URL.`,
    );
    this.dir = dir;
    this.holder = holder;
  }
}

function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) follows the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== os.hostname()) return true; // cannot see another machine's processes
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStartTime(holder.pid);
  return holder.processStart === null || start === null || start === holder.processStart;
}

function readHolder(file: string): Holder | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
  } catch {
    return null; // vanished, or half-written by a holder killed while writing it
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'tessera.lock');
  const me: Holder = {
    pid: process.pid,
    host: os.hostname(),
    processStart: processStartTime(process.pid),
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return {
        release() {
          if (readHolder(file)?.pid === me.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(file);
    if (holder && isAlive(holder)) throw new DataDirLockedError(dir, holder);
    // The holder is gone. Move its lock aside atomically: of several starters racing for the
    // takeover, only one rename succeeds; the others loop and find the winner's fresh lock.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      continue;
    }
    const moved = readHolder(aside);
    if (moved && holder && moved.pid !== holder.pid) {
      // Another starter took over between our read and our rename: give its lock back.
      try {
        fs.linkSync(aside, file);
      } catch {
        // a third process already holds a fresh lock; the next attempt sees it
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`Could not take the lock on ${dir}; another process keeps replacing it.`);
}
