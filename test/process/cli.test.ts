import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { createServerDatabase } from '../support/databases.ts';
import { freePort, killAllServers, makeTempDir, REPO_ROOT, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/**
 * The `tessera` binary (bin/tessera.js), run as a user runs it, against a real server process on
 * the PostgreSQL server: exit codes, --json output, the stored desktop session (mode 0600), a
 * connection held until SIGTERM, and the admin commands on the same database.
 */

const BIN = path.join(REPO_ROOT, 'bin/tessera.js');
const PASSWORD = 'correct horse 42 battery';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let server: ServerProcess;
let databaseUrl: string;
let configDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion; `stdin` is written and closed. */
function tessera(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, TESSERA_CONFIG_DIR: configDir, DATABASE_URL: databaseUrl, TESSERA_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

async function json<T>(args: string[], options?: { stdin?: string }): Promise<T> {
  const run = await tessera([...args, '--json'], options);
  assert.equal(run.code, 0, `tessera ${args.join(' ')} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

before(async () => {
  const database = await createServerDatabase();
  databaseUrl = database.url;
  cleanups.push(database.drop);
  const data = makeTempDir('cli-server');
  cleanups.push(data.remove);
  const config = makeTempDir('cli-config');
  cleanups.push(config.remove);
  configDir = path.join(config.dir, 'tessera');
  server = await startServerProcess({ dataDir: data.dir, databaseUrl, env: { TESSERA_LEASE_TTL_SECONDS: '6' } });
});

describe('the tessera command', () => {
  test('answers --help on every command, and exit codes that mean something', async () => {
    for (const args of [['--help'], ['client', '--help'], ['client', 'connect', '--help'], ['admin', 'create-account', '--help'], ['migrate', '--help']]) {
      const run = await tessera(args);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /Usage: tessera/);
    }
    assert.equal((await tessera(['no-such-command'])).code, 2);
    assert.equal((await tessera(['client', 'login', '--server', server.url])).code, 2, 'neither --token nor --email');
    const status = await tessera(['client', 'status']);
    assert.equal(status.code, 3);
    assert.match(status.stderr, /Not signed in/);
    const unreachable = await tessera(['client', 'login', '--server', `http://127.0.0.1:${await freePort()}`, '--token', 'tsr_mt_x']);
    assert.equal(unreachable.code, 5, unreachable.stderr);
  });

  test('admin: migrate, create an account with its owner, list accounts, reset a password', async () => {
    const migrated = await json<{ applied: string[] }>(['migrate']);
    assert.deepEqual(migrated.applied, [], 'the running server migrated already');

    const email = `cli-owner.${process.pid}@example.test`;
    const weak = await tessera(['admin', 'create-account', '--email', email, '--name', 'Cli Owner', '--company', 'Cli GmbH', '--country', 'DE'], { stdin: 'password1\n' });
    assert.equal(weak.code, 2, 'a common password is refused');
    assert.match(weak.stderr, /password/);

    const created = await json<{ account: { id: string }; newUser: boolean }>(
      ['admin', 'create-account', '--email', email, '--name', 'Cli Owner', '--company', 'Cli GmbH', '--country', 'de'],
      { stdin: `${PASSWORD}\n` },
    );
    assert.equal(created.newUser, true);
    const owner = server.client();
    await owner.signIn({ email, password: PASSWORD });
    assert.deepEqual((await owner.me()).accounts.map((a) => [a.id, a.role]), [[created.account.id, 'owner']]);

    const listed = await json<Array<{ id: string; owners: string[]; country: string }>>(['admin', 'list-accounts']);
    const row = listed.find((a) => a.id === created.account.id);
    assert.deepEqual(row?.owners, [email]);
    assert.equal(row?.country, 'DE');
    const table = await tessera(['admin', 'list-accounts']);
    assert.match(table.stdout, /^ID\s+COMPANY\s+COUNTRY/);
    assert.match(table.stdout, /Cli GmbH/);

    const reset = await tessera(['admin', 'reset-password', '--email', email], { stdin: 'a new 42 password here\n' });
    assert.equal(reset.code, 0, reset.stderr);
    await assert.rejects(owner.me(), (error: unknown) => error instanceof TesseraError && error.status === 401, 'the reset ended the session');
    await assert.rejects(server.client().signIn({ email, password: PASSWORD }), TesseraError);
    await server.client().signIn({ email, password: 'a new 42 password here' });
    assert.equal((await tessera(['admin', 'reset-password', '--email', 'nobody@example.test'], { stdin: `${PASSWORD}\n` })).code, 4);
  });

  test('client: login with a login token, status, devices, hold a connection until SIGTERM, logout', async () => {
    const owner: TesseraClient = server.client();
    const registered = await owner.register({ name: 'Desk Owner', email: `desk.${process.pid}@example.test`, password: PASSWORD, companyName: 'Desk AG', country: 'CH' });
    const accountId = registered.account.id;
    const organization = await owner.createOrganization(accountId, { name: 'Plant' });
    await owner.createDevice(accountId, organization.id, { name: 'Press 1', kind: 'plc', identifier: 'PRESS-1' });
    const added = await owner.addTeamMember(accountId, { name: 'Night shift', connectionLimit: 1 });
    await owner.createDevice(accountId, organization.id, { name: 'Press 2', kind: 'plc', identifier: 'PRESS-2' });

    assert.equal((await tessera(['client', 'login', '--server', server.url, '--token', 'tsr_mt_wrong'])).code, 3);
    const login = await json<{ member: { name: string } }>(['client', 'login', '--server', server.url, '--token', '-'], { stdin: `${added.firstToken.secret}\n` });
    assert.equal(login.member.name, 'Night shift');
    const stored = path.join(configDir, 'session.json');
    assert.equal(fs.statSync(stored).mode & 0o777, 0o600, 'the stored session is readable by its owner only');
    assert.ok(!fs.readFileSync(stored, 'utf8').includes(added.firstToken.secret), 'the login token itself is not kept');

    const status = await json<{ member: { name: string }; account: { companyName: string } }>(['client', 'status']);
    assert.equal(status.account.companyName, 'Desk AG');
    const devices = await json<{ items: Array<{ name: string; available: boolean }> }>(['client', 'devices']);
    assert.deepEqual(devices.items.map((d) => d.name), ['Press 1', 'Press 2']);
    assert.match((await tessera(['client', 'devices'])).stdout, /^NAME\s+KIND\s+IDENTIFIER\s+STATE/);

    // hold a connection: it shows in the portal, renews past its 6 s lease, and closes on SIGTERM
    const connect = spawn(process.execPath, [BIN, 'client', 'connect', 'press-1', '--json'], { env: { ...process.env, TESSERA_CONFIG_DIR: configDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    connect.stdout.on('data', (chunk) => (out += chunk));
    connect.stderr.on('data', (chunk) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => connect.on('close', resolve));
    const events = () => out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string });
    const until = async (event: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (!events().some((e) => e.event === event)) {
        if (Date.now() > deadline) assert.fail(`no ${event} event within ${ms} ms: ${out} ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until('connected', 15_000);
    assert.equal((await owner.listOpenConnections(accountId)).length, 1);
    const presenceOf = async () => (await owner.listPresence(accountId)).items.find((m) => m.name === 'Night shift')?.state;
    const untilPresence = async (state: string) => {
      const deadline = Date.now() + 5000;
      while ((await presenceOf()) !== state) {
        if (Date.now() > deadline) assert.fail(`the member never showed ${state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await untilPresence('online');
    await until('renewed', 10_000);
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal((await owner.listOpenConnections(accountId)).length, 1, 'still open after the first lease time ran out: it was renewed');

    // the member's fixed limit is 1: a second connection is refused with exit code 4
    const refused = await tessera(['client', 'connect', 'Press 2']);
    assert.equal(refused.code, 4, refused.stderr);

    connect.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.ok(events().some((e) => e.event === 'disconnected'));
    assert.equal((await owner.listOpenConnections(accountId)).length, 0, 'SIGTERM closed the connection at once');
    assert.equal(await presenceOf(), 'offline', 'and the member shows offline at once');

    const session = JSON.parse(fs.readFileSync(stored, 'utf8')) as { refreshToken: string };
    const logout = await tessera(['client', 'logout']);
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(fs.existsSync(stored), false);
    const desktop = new TesseraDesktopClient({ baseUrl: server.url });
    desktop.useRefreshToken(session.refreshToken);
    await assert.rejects(desktop.refresh(), (error: unknown) => error instanceof TesseraOAuthError && error.error === 'invalid_grant', 'logout revoked the session on the server');
    assert.equal((await tessera(['client', 'status'])).code, 3);
  });
});
