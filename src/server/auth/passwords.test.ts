import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from './passwords.ts';

/** OWASP Password Storage Cheat Sheet: argon2id, 19 MiB (19,456 KiB), 2 iterations, 1 lane. */
const OWASP_ARGON2ID = '$argon2id$v=19$m=19456,t=2,p=1$';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('passwords', () => {
  it('are hashed with argon2id, 19 MiB, 2 iterations and 1 lane, salted', async () => {
    const first = await hashPassword('correct horse 42 battery');
    const second = await hashPassword('correct horse 42 battery');
    assert.ok(first.startsWith(OWASP_ARGON2ID), first);
    assert.notEqual(first, second, 'each hash has a salt of its own');
    assert.equal(await verifyPassword(first, 'correct horse 42 battery'), true);
    assert.equal(await verifyPassword(first, 'correct horse 42 batterY'), false);
  });

  it('refuse a person without a hash, whatever the password, and a hash that is not one', async () => {
    // the dummy hash's own password must not open anything either
    assert.equal(await verifyPassword(null, 'tessera-timing-equalizer-0'), false);
    assert.equal(await verifyPassword(null, ''), false);
    assert.equal(await verifyPassword('not a hash', 'anything'), false);
  });

  // An unknown email must cost what a wrong password costs, or the time of the answer tells which
  // emails exist. The two are timed in the same process, interleaved, and their medians compared as
  // a ratio, so a slow or busy machine slows both alike. A real argon2 verification takes tens of
  // milliseconds; without the dummy verification the unknown email answers in microseconds, a
  // ratio near 0.001. The bound of 0.25 leaves a factor of four for noise on the passing side and
  // of hundreds on the failing side.
  it('spend a real argon2 verification on an unknown person, as long as a wrong password takes', async () => {
    const stored = await hashPassword('correct horse 42 battery');
    const timed = async (hash: string | null) => {
      const started = performance.now();
      assert.equal(await verifyPassword(hash, 'wrong horse 43 battery'), false);
      return performance.now() - started;
    };
    await timed(stored);
    await timed(null); // warm-up: the first call also waits for the dummy hash to be made
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 7; round++) {
      known.push(await timed(stored));
      unknown.push(await timed(null));
    }
    const ratio = median(unknown) / median(known);
    assert.ok(ratio > 0.25, `an unknown person took ${median(unknown).toFixed(2)} ms, a wrong password ${median(known).toFixed(2)} ms (ratio ${ratio.toFixed(3)})`);
  });
});
