import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { killAllServers, makeTempDir, spawnServer, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/**
 * The embedded database belongs to one process: a second server on the same data directory is
 * refused with a message naming the holder, and a lock left behind by a killed server is taken
 * over by the next start, with the data intact.
 */

const PASSWORD = 'correct horse 42 battery';
const cleanups: Array<() => void> = [];

after(async () => {
  await killAllServers();
  for (const cleanup of cleanups) cleanup();
});

function tempDataDir(): string {
  const temp = makeTempDir('lock');
  cleanups.push(temp.remove);
  return temp.dir;
}

function lockHolder(dataDir: string): { pid: number } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'tessera.lock'), 'utf8')) as { pid: number };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** A start refused because `holder` has the directory: exits non-zero, says who and which dir. */
async function assertRefused(refused: ServerProcess, holder: ServerProcess, dataDir: string): Promise<void> {
  const exit = await refused.waitExit(30_000);
  assert.notEqual(exit.code, 0, `the second start must fail\n${refused.output()}`);
  assert.equal(exit.signal, null);
  assert.match(refused.stderr, new RegExp(`process ${holder.pid}\\b`), `stderr names the holder's pid\n${refused.output()}`);
  assert.ok(refused.stderr.includes(dataDir), `stderr names the directory\n${refused.output()}`);
  assert.match(refused.stderr, /TESSERA_DATA_DIR/, 'stderr says what to do about it');
}

describe('the PGlite data-directory lock, across processes', () => {
  test('a second server is refused while the first lives; a lock left by a killed server is taken over', async () => {
    const dataDir = tempDataDir();
    const first = await startServerProcess({ dataDir });
    assert.equal(lockHolder(dataDir)?.pid, first.pid, 'the lock names the running server');

    const email = `lock.${process.pid}.${randomBytes(3).toString('hex')}@example.test`;
    const registered = await first.client().register({ name: 'Ada Lovelace', email, password: PASSWORD, companyName: 'Engines Ltd', country: 'DE' });

    const second = await spawnServer({ dataDir });
    await assertRefused(second, first, dataDir);
    // The refused start left the holder and its lock alone.
    assert.equal(first.exitResult, null);
    assert.equal(lockHolder(dataDir)?.pid, first.pid);
    await first.waitReady(5_000);
    const signedIn = await first.client().signIn({ email, password: PASSWORD });
    assert.equal(signedIn.user.id, registered.user.id);

    // SIGKILL: no chance to release the lock.
    assert.deepEqual(await first.crash(), { code: null, signal: 'SIGKILL' });
    assert.equal(lockHolder(dataDir)?.pid, first.pid, 'the dead server left its lock behind');

    const third = await startServerProcess({ dataDir });
    assert.equal(lockHolder(dataDir)?.pid, third.pid, 'the new server took the stale lock over');
    const client = third.client();
    const again = await client.signIn({ email, password: PASSWORD });
    assert.equal(again.user.id, registered.user.id, 'the person registered before the kill is still there');
    const account = await client.getAccount(registered.account.id);
    assert.equal(account.companyName, 'Engines Ltd');

    // And the new holder is protected like the first one was.
    const fourth = await spawnServer({ dataDir });
    await assertRefused(fourth, third, dataDir);

    assert.deepEqual(await third.stop(), { code: 0, signal: null }, third.output());
    assert.equal(lockHolder(dataDir), null, 'a clean stop removes the lock');
    assert.deepEqual(
      fs.readdirSync(dataDir).filter((name) => name.startsWith('tessera.lock')),
      [],
      'no stale lock copies are left in the directory',
    );
  });

  test('two servers started at the same moment on a new directory: exactly one gets it', async () => {
    const dataDir = tempDataDir();
    const racers = [await spawnServer({ dataDir }), await spawnServer({ dataDir })];
    const outcome = await Promise.all(
      racers.map((racer) =>
        Promise.race([
          racer.waitReady(60_000).then(() => 'ready' as const),
          racer.exited.then(() => 'exited' as const),
        ]).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}\n${racers.map((r) => r.output()).join('\n')}`);
        }),
      ),
    );
    const winner = racers[outcome.indexOf('ready')];
    const loser = racers[outcome.indexOf('exited')];
    assert.ok(winner && loser, `one ready, one refused: ${outcome.join(', ')}\n${racers.map((r) => r.output()).join('\n')}`);
    await assertRefused(loser, winner, dataDir);
    assert.equal(lockHolder(dataDir)?.pid, winner.pid);
    const email = `race.${process.pid}.${randomBytes(3).toString('hex')}@example.test`;
    await winner.client().register({ name: 'Ada Lovelace', email, password: PASSWORD, companyName: 'Engines Ltd', country: 'DE' });
    assert.deepEqual(await winner.stop(), { code: 0, signal: null }, winner.output());
    assert.equal(lockHolder(dataDir), null);
  });
});
