import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { ROOT } from './server.ts';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  commit: string;
  date: string;
}

function cpuModel(): string {
  try {
    const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
    if (model) return model.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/**
 * Short commit, plus "+dirty" when the working tree differs from it. Read-only: status runs
 * with --no-optional-locks, so it never rewrites the index under someone committing.
 */
function gitCommit(): string {
  const git = (...args: string[]) =>
    execFileSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=normal') !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): Machine {
  return {
    cores: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: gitCommit(),
    date: new Date().toISOString(),
  };
}
