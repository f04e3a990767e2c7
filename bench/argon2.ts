import { hash } from '@node-rs/argon2';
import { ARGON2_OPTIONS } from '../src/server/auth/passwords.ts';

export interface Argon2Reference {
  options: typeof ARGON2_OPTIONS;
  /**
   * One hash on one core, ms: the fastest of the samples. A hash cannot run faster than the
   * machine allows, only slower when other processes interfere, so the fastest is the estimate.
   */
  msPerHash: number;
  medianMs: number;
  samplesMs: number[];
  cores: number;
  /** The most sign-ins per second the machine could do: cores × 1000 / msPerHash. */
  limitPerSec: number;
  /** Best of three rounds with `cores` hashes in flight (memory bandwidth shows up here). */
  parallelHashesPerSec: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Times argon2id with the server's own parameters, in this process, before any server runs. */
export async function measureArgon2(samples: number, cores: number): Promise<Argon2Reference> {
  const password = 'Lantern-0123456789-42';
  for (let i = 0; i < 2; i++) await hash(password, ARGON2_OPTIONS); // warm-up
  const samplesMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await hash(password, ARGON2_OPTIONS); // one at a time: one core
    samplesMs.push(performance.now() - start);
  }
  const msPerHash = Math.min(...samplesMs);

  const perCore = Math.max(4, Math.ceil(samples / 3));
  let parallelHashesPerSec = 0;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    await Promise.all(
      Array.from({ length: cores }, async () => {
        for (let i = 0; i < perCore; i++) await hash(password, ARGON2_OPTIONS);
      }),
    );
    parallelHashesPerSec = Math.max(parallelHashesPerSec, (cores * perCore * 1000) / (performance.now() - start));
  }

  return {
    options: ARGON2_OPTIONS,
    msPerHash,
    medianMs: median(samplesMs),
    samplesMs,
    cores,
    limitPerSec: (cores * 1000) / msPerHash,
    parallelHashesPerSec,
  };
}
