import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { equalInConstantTime, generateSecret, hashSecret, isWellFormedSecret } from './secrets.ts';

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

  // Uniqueness and length cannot tell 256 random bits from a 32-byte counter or a generator with a
  // few bytes of entropy padded out: both pass the test above. Each of the 256 bit positions must be
  // set in about half of the secrets. With n = 20,000 a position's count has a standard deviation of
  // about 71; a bound of ±600 (8.5 σ) makes a false alarm across all 256 positions less likely than
  // 1 in 10^13, while a counter (its high bits never move) or zero padding is off by thousands.
  it('set every one of their 256 bits in about half of many secrets', () => {
    const n = 20_000;
    const setCounts = new Array<number>(256).fill(0);
    for (let i = 0; i < n; i++) {
      const bytes = Buffer.from(generateSecret('tsr_ses_').slice('tsr_ses_'.length, -7), 'base64url');
      for (let bit = 0; bit < 256; bit++) setCounts[bit]! += (bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
    }
    const skewed = setCounts.map((count, bit) => ({ bit, count })).filter(({ count }) => Math.abs(count - n / 2) > 600);
    assert.deepEqual(skewed, [], `bit positions set in far more or far fewer than ${n / 2} of ${n} secrets`);
  });

  it('refuse a mistyped secret by its checksum, without a lookup', () => {
    const secret = generateSecret('tsr_pr_');
    const i = 12;
    const typo = secret.slice(0, i) + (secret[i] === 'a' ? 'b' : 'a') + secret.slice(i + 1);
    assert.equal(isWellFormedSecret(typo, 'tsr_pr_'), false);
    assert.equal(isWellFormedSecret(secret, 'tsr_ev_'), false, 'another kind of secret is refused');
    assert.equal(isWellFormedSecret(secret.slice(0, -1), 'tsr_pr_'), false);
    // six characters, but not six bytes: refused, not a RangeError from timingSafeEqual (a 500)
    assert.equal(isWellFormedSecret(`${secret.slice(0, -6)}éééééé`, 'tsr_pr_'), false);
  });

  it('compare checksums in constant time: equal, unequal, and of another length', () => {
    assert.equal(equalInConstantTime('k3Zq1w', 'k3Zq1w'), true);
    assert.equal(equalInConstantTime('k3Zq1w', 'k3Zq1x'), false, 'the last character differs');
    assert.equal(equalInConstantTime('k3Zq1w', 'x3Zq1w'), false, 'the first character differs');
    assert.equal(equalInConstantTime('k3Zq1w', 'k3Zq1'), false, 'shorter');
    assert.equal(equalInConstantTime('k3Zq1w', 'k3Zq1ww'), false, 'longer');
    assert.equal(equalInConstantTime('k3Zq1é', 'k3Zq1w'), false, 'as many characters, more bytes');
    assert.equal(equalInConstantTime('', ''), true);
  });

  // No answer tells timingSafeEqual from ===, and the time a six-byte comparison takes is far below
  // what a test can measure, so the rule is read from the code itself: the checksum goes through
  // the helper above, and the helper through timingSafeEqual. Swapping in === fails here.
  it('compare checksums through timingSafeEqual, never ===', () => {
    assert.match(equalInConstantTime.toString(), /&& timingSafeEqual\(left, right\);/);
    assert.match(isWellFormedSecret.toString(), /return equalInConstantTime\(sum, checksum\(body\)\);/);
  });

  it('are stored as SHA-256 only', () => {
    const secret = generateSecret('tsr_ev_');
    assert.equal(hashSecret(secret).length, 32);
    assert.notEqual(hashSecret(secret).toString('utf8'), secret);
  });
});
