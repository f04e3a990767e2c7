import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSecret, hashSecret, isWellFormedSecret } from './secrets.ts';

describe('secrets handed to people', () => {
  it('carry 256 random bits: no two of many thousands repeat, and every one is well formed', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const secret = generateSecret('tsr_ses_');
      assert.ok(isWellFormedSecret(secret, 'tsr_ses_'), secret);
      seen.add(secret);
    }
    assert.equal(seen.size, 20_000);
    const body = generateSecret('tsr_pr_').slice('tsr_pr_'.length, -7);
    assert.equal(Buffer.from(body, 'base64url').length, 32);
  });

  it('refuse a mistyped secret by its checksum, without a lookup', () => {
    const secret = generateSecret('tsr_pr_');
    const i = 12;
    const typo = secret.slice(0, i) + (secret[i] === 'a' ? 'b' : 'a') + secret.slice(i + 1);
    assert.equal(isWellFormedSecret(typo, 'tsr_pr_'), false);
    assert.equal(isWellFormedSecret(secret, 'tsr_ev_'), false, 'another kind of secret is refused');
    assert.equal(isWellFormedSecret(secret.slice(0, -1), 'tsr_pr_'), false);
  });

  it('are stored as SHA-256 only', () => {
    const secret = generateSecret('tsr_ev_');
    assert.equal(hashSecret(secret).length, 32);
    assert.notEqual(hashSecret(secret).toString('utf8'), secret);
  });
});
