import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { TesseraError, type TesseraClient } from '../../src/client/sdk.ts';
import { BACKENDS, createServerDatabase, type Backend } from '../support/databases.ts';
import { killAllServers, makeTempDir, startServerProcess, type ServerProcessOptions } from '../support/server-process.ts';
import { SmtpInbox } from '../support/smtp.ts';

/**
 * SIGTERM drains: requests already in flight get their whole answer, the process exits 0, and
 * (PGlite) the data-directory lock is released, so the next start needs no takeover.
 */

const PASSWORD = 'correct horse 42 battery';
const REGISTRATIONS = 6;
const SIGN_INS = 3;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function email(label: string): string {
  return `shutdown.${label}.${process.pid}.${randomBytes(3).toString('hex')}@example.test`;
}

type Outcome = { answered: true; status: number } | { answered: false; error: string };

/** The status of a complete answer (the SDK read and parsed the whole body), or the network error. */
async function outcome(request: Promise<unknown>, okStatus: number): Promise<Outcome> {
  try {
    await request;
    return { answered: true, status: okStatus };
  } catch (error) {
    if (error instanceof TesseraError) return { answered: true, status: error.status };
    return { answered: false, error: `${(error as Error).message} ${String((error as Error).cause ?? '')}` };
  }
}

interface LogLine {
  msg?: string;
  reqId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

async function options(backend: Backend, inbox: SmtpInbox): Promise<ServerProcessOptions> {
  const temp = makeTempDir(`shutdown-${backend}`);
  cleanups.push(temp.remove);
  const env = { TESSERA_SMTP_URL: inbox.url };
  if (backend === 'pglite') return { dataDir: temp.dir, logLevel: 'info', env };
  const database = await createServerDatabase();
  cleanups.push(database.drop);
  return { dataDir: temp.dir, databaseUrl: database.url, secret: randomBytes(32).toString('hex'), logLevel: 'info', env };
}

describe('SIGTERM while requests are in flight', () => {
  for (const backend of BACKENDS) {
    test(`${backend}: in-flight sign-ups and sign-ins complete, then the process exits 0`, async (t) => {
      const inbox = new SmtpInbox();
      await inbox.start();
      cleanups.push(() => inbox.stop());
      const serverOptions = await options(backend, inbox);
      const server = await startServerProcess(serverOptions);

      // People to sign in during the shutdown, registered beforehand.
      const existing = Array.from({ length: SIGN_INS }, (_, i) => email(`existing${i}`));
      for (const address of existing) {
        await server.client().register({ name: 'Existing Person', email: address, password: PASSWORD, companyName: 'Before Ltd', country: 'DE' });
      }
      // Clients with their CSRF token already fetched: the next request each sends is the write.
      const prepared = async (): Promise<TesseraClient> => {
        const client = server.client();
        await client.refreshCsrfToken();
        return client;
      };
      const registrants = await Promise.all(Array.from({ length: REGISTRATIONS }, prepared));
      const signers = await Promise.all(Array.from({ length: SIGN_INS }, prepared));
      const newPeople = registrants.map((_, i) => email(`new${i}`));
      const linesBefore = server.logLines().length;

      const pending = [
        ...registrants.map((client, i) =>
          outcome(client.register({ name: 'New Person', email: newPeople[i]!, password: PASSWORD, companyName: 'During Ltd', country: 'DE' }), 201),
        ),
        ...signers.map((client, i) => outcome(client.signIn({ email: existing[i]!, password: PASSWORD }), 200)),
      ];
      // SIGTERM as soon as the server has logged every one of them as incoming.
      const isWrite = (line: LogLine) =>
        line.msg === 'incoming request' && line.req?.method === 'POST' && /\/auth\/(register|sign-in)$/.test(line.req.url);
      await server.waitForOutput(
        (s) => s.logLines().slice(linesBefore).filter((line) => isWrite(line as LogLine)).length === pending.length,
        10_000,
        `${pending.length} incoming requests in the log`,
      );
      server.kill('SIGTERM');

      const outcomes = await Promise.all(pending);
      const exit = await server.waitExit(20_000);

      // Every request got its complete answer: 201 for the sign-ups, 200 for the sign-ins.
      assert.deepEqual(
        outcomes,
        [...registrants.map(() => ({ answered: true, status: 201 })), ...signers.map(() => ({ answered: true, status: 200 }))],
        server.output(),
      );
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());

      // The log proves the premise: some of these requests were still running when the drain began.
      const lines = server.logLines().slice(linesBefore) as LogLine[];
      const drainAt = lines.findIndex((line) => line.msg === 'draining in-flight requests, then closing the database');
      assert.ok(drainAt >= 0, `the server logged its drain\n${server.output()}`);
      const ours = new Set(lines.filter(isWrite).map((line) => line.reqId));
      const completedAfterDrain = lines.slice(drainAt).filter((line) => line.msg === 'request completed' && ours.has(line.reqId));
      t.diagnostic(`${completedAfterDrain.length} of ${pending.length} requests completed after SIGTERM`);
      assert.ok(completedAfterDrain.length > 0, `at least one request was in flight at SIGTERM\n${server.output()}`);
      assert.equal(lines.filter((line) => line.msg === 'request completed' && line.res?.statusCode === 500).length, 0, 'no 500 answers');
      assert.doesNotMatch(server.stdout + server.stderr, /"level":50|shutdown failed|grace period ran out/, 'no errors logged during the shutdown');

      // The sign-ups were answered after their mail went out: every verification mail arrived.
      for (const address of newPeople) await inbox.waitFor(address, /Confirm your email/, 5_000);

      if (backend === 'pglite') {
        assert.equal(fs.existsSync(path.join(serverOptions.dataDir, 'tessera.lock')), false, 'the lock was released');
      }
      // The next start on the same data comes up, and what was answered in the drain was kept.
      const next = await startServerProcess(serverOptions);
      for (const address of [...newPeople, ...existing]) {
        const signedIn = await next.client().signIn({ email: address, password: PASSWORD });
        assert.equal(signedIn.user.email, address);
      }
      assert.deepEqual(await next.stop(), { code: 0, signal: null }, next.output());
    });
  }
});
