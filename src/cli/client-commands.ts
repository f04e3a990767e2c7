import type { Command } from 'commander';
import { TesseraDesktopClient } from '../client/desktop.ts';
import type { ClientDevice, Lease } from '../shared/connections.ts';
import { deleteSession, readSession, withTokens, writeSession, type StoredSession } from './credentials.ts';
import { CliError, EXIT, print } from './output.ts';
import { readSecret } from './prompt.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USER_AGENT = 'tessera-cli';

/** The desktop client resumed from the stored session; every new token pair is stored at once. */
function resume(): { client: TesseraDesktopClient; session: StoredSession } {
  const session = readSession();
  if (!session) throw new CliError('Not signed in: run `tessera client login` first.', EXIT.unauthenticated);
  let current = session;
  const client = new TesseraDesktopClient({
    baseUrl: session.server,
    userAgent: USER_AGENT,
    onTokens: (tokens) => {
      current = withTokens(current, tokens);
      writeSession(current);
    },
  });
  const fresh = session.accessExpiresAt > Date.now();
  client.useRefreshToken(session.refreshToken, fresh ? session.accessToken : '');
  return { client, session };
}

/** A device by id, or by its exact name or identifier (case-insensitive). */
async function findDevice(client: TesseraDesktopClient, wanted: string): Promise<ClientDevice> {
  const page = await client.devices({ q: UUID.test(wanted) ? undefined : wanted, limit: 100 });
  const lowered = wanted.toLowerCase();
  const matches = page.items.filter((d) => d.id === wanted || d.name.toLowerCase() === lowered || d.identifier.toLowerCase() === lowered);
  if (UUID.test(wanted) && matches.length === 0) return { id: wanted, name: wanted, identifier: wanted, kind: '', organizationId: '', available: true };
  if (matches.length === 0) throw new CliError(`No device named ${wanted}: see \`tessera client devices\`.`, EXIT.refused);
  if (matches.length > 1) throw new CliError(`Several devices are named ${wanted}: use its id.`, EXIT.usage);
  return matches[0]!;
}

export function clientCommands(program: Command): void {
  const client = program.command('client').description("The desktop client's side: sign in as a team member, list devices, hold a connection");

  client
    .command('login')
    .description('Sign in as a team member with a login token or member credentials; the session is kept in the config directory (mode 0600)')
    .option('--server <url>', 'Tessera server address', process.env.TESSERA_SERVER ?? 'http://localhost:3000')
    .option('--token <token>', 'a login token (tsr_mt_…); "-" reads it from standard input')
    .option('--email <email>', 'member credentials: the email; the password is asked for, or read from standard input')
    .option('--json', 'print the signed-in member as JSON')
    .action(async (options: { server: string; token?: string; email?: string; json?: boolean }) => {
      if (!options.token === !options.email) throw new CliError('Give either --token or --email.', EXIT.usage);
      const server = options.server.replace(/\/$/, '');
      const desktop = new TesseraDesktopClient({ baseUrl: server, userAgent: USER_AGENT });
      const tokens = options.token
        ? await desktop.signInWithLoginToken(options.token === '-' ? await readSecret('Login token: ') : options.token)
        : await desktop.signInWithPassword(options.email!, await readSecret('Password: '));
      const me = await desktop.me();
      const session = withTokens({ server, member: { id: me.member.id, name: me.member.name }, account: me.account }, desktop.tokens ?? tokens);
      writeSession(session);
      print(Boolean(options.json), { server, member: me.member, account: me.account }, [
        { signedIn: `${me.member.name} in ${me.account.companyName}`, server },
      ]);
    });

  client
    .command('status')
    .description('Who is signed in, and the connections in use')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { client: desktop, session } = resume();
      const me = await desktop.me();
      const c = me.connections;
      print(Boolean(options.json), { server: session.server, ...me }, [
        {
          member: me.member.name,
          account: me.account.companyName,
          connections: `${c.memberInUse}${c.memberLimit === null ? '' : `/${c.memberLimit}`} yours, ${c.accountInUse}/${c.accountAllowance} account`,
          server: session.server,
        },
      ]);
    });

  client
    .command('devices')
    .description('Devices of the account, by name')
    .option('--search <text>', 'match name or identifier')
    .option('--limit <n>', 'at most this many (1–1000)', '100')
    .option('--json', 'print as JSON')
    .action(async (options: { search?: string; limit: string; json?: boolean }) => {
      const { client: desktop } = resume();
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit takes a whole number from 1 to 1000.', EXIT.usage);
      const page = await desktop.devices({ q: options.search, limit });
      print(
        Boolean(options.json),
        page,
        page.items.map((d) => ({ name: d.name, kind: d.kind, identifier: d.identifier, state: d.available ? 'available' : 'in use', id: d.id })),
      );
    });

  client
    .command('connect')
    .description('Open a connection to a device and hold it (renewing the lease, showing the member online) until Ctrl-C or SIGTERM closes it')
    .argument('<device>', 'device id, name or identifier')
    .option('--json', 'print events as JSON lines')
    .action(async (wanted: string, options: { json?: boolean }) => {
      const { client: desktop } = resume();
      const device = await findDevice(desktop, wanted);
      let lease: Lease = await desktop.connect(device.id);
      const say = (event: string, extra: Record<string, unknown> = {}) => {
        if (options.json) process.stdout.write(`${JSON.stringify({ event, leaseId: lease.leaseId, deviceId: lease.deviceId, ...extra })}\n`);
        else process.stdout.write(`${extra.message ?? event}\n`);
      };
      say('connected', { message: `Connected to ${device.name} (lease ${lease.leaseId}); Ctrl-C disconnects.`, expiresAt: lease.expiresAt });
      // while connected, the member shows online to teammates: a heartbeat as often as the server asks
      const beat = await desktop.heartbeat('online');
      await new Promise<void>((resolve, reject) => {
        let closing = false;
        const stop = (error?: unknown) => {
          clearInterval(renewals);
          clearInterval(heartbeats);
          if (error) reject(error);
        };
        // renew at a third of the lease's life: two renewals may fail before it lapses
        const renewals = setInterval(() => {
          desktop.renew(lease.leaseId).then(
            (renewed) => {
              lease = renewed;
              if (options.json) say('renewed', { expiresAt: renewed.expiresAt });
            },
            (error: unknown) => stop(error),
          );
        }, Math.max(1000, (lease.ttlSeconds * 1000) / 3));
        const heartbeats = setInterval(() => {
          desktop.heartbeat('online').catch((error: unknown) => stop(error));
        }, beat.heartbeatSeconds * 1000);
        const close = () => {
          if (closing) return;
          closing = true;
          stop();
          // offline first, so teammates see it at once rather than after the timeout
          desktop
            .heartbeat('offline')
            .catch(() => undefined)
            .then(() => desktop.disconnect(lease.leaseId))
            .then(() => {
              say('disconnected', { message: `Disconnected from ${device.name}.` });
              resolve();
            }, reject);
        };
        process.once('SIGINT', close);
        process.once('SIGTERM', close);
      });
    });

  client
    .command('logout')
    .description('End the desktop session on the server and forget it here')
    .action(async () => {
      const session = readSession();
      if (!session) {
        process.stdout.write('Not signed in.\n');
        return;
      }
      const { client: desktop } = resume();
      try {
        await desktop.signOut();
      } finally {
        // forget it here even when the server cannot be told: the user asked to be signed out
        deleteSession();
      }
      process.stdout.write('Signed out.\n');
    });
}
