import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Cold start of the `tessera` command, as a person types it: `node bin/tessera.js …` in a fresh
 * process each time (bin/tessera.js hands over to the pinned Node 24 when the first Node cannot
 * strip types, so that hop is measured too where it happens).
 */

const BIN = fileURLToPath(new URL('../bin/tessera.js', import.meta.url));

export interface CliStart {
  command: string;
  /** Milliseconds from spawn to exit, sorted. */
  samplesMs: number[];
  medianMs: number;
  p90Ms: number;
  exitCode: number | null;
}

function time(args: string[], env: NodeJS.ProcessEnv): { ms: number; code: number | null } {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [BIN, ...args], { env, stdio: 'ignore' });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, code: result.status };
}

/** `tessera --help` and `tessera client status` (signed out: answers exit 3 without the network), `runs` times each. */
export function measureCliStart(runs: number): CliStart[] {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-cli-'));
  const env = { ...process.env, TESSERA_CONFIG_DIR: configDir };
  try {
    return [['--help'], ['client', 'status']].map((args) => {
      time(args, env); // the file cache warm, as on any machine that ran it once
      const samples = Array.from({ length: runs }, () => time(args, env));
      const samplesMs = samples.map((s) => s.ms).sort((a, b) => a - b);
      return {
        command: `tessera ${args.join(' ')}`,
        samplesMs,
        medianMs: samplesMs[Math.floor(samplesMs.length / 2)]!,
        p90Ms: samplesMs[Math.min(samplesMs.length - 1, Math.ceil(samplesMs.length * 0.9) - 1)]!,
        exitCode: samples[0]!.code,
      };
    });
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}
