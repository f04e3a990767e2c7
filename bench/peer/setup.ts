/**
 * Makes the peer's schema on an empty database (Better Auth's programmatic migrations: the same
 * as `npx auth migrate`) and seeds what the benchmark loads, through Better Auth's server API
 * (auth.api.*): one person signed up with email and password, owning one organization of
 * PEER_MEMBERS members (the others signed up the same way and added as `member`), and an API key
 * of that person. Prints the fixture as one line of JSON on stdout.
 */
import { randomBytes } from 'node:crypto';
import { getMigrations } from 'better-auth/db/migration';
import { createAuth, settingsFromEnv } from './auth.ts';

/** Members of the organization, the owner among them (bench/peer.ts sets it; at most 100, the plugin's default membershipLimit). */
const MEMBERS = Number(process.env.PEER_MEMBERS ?? 50);

const { auth, pool } = createAuth(settingsFromEnv());
try {
  const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  const tables = toBeCreated.map((t) => t.table);

  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const password = `Lantern-${randomBytes(6).toString('hex')}-42`;
  const signUp = async (name: string, email: string) => (await auth.api.signUpEmail({ body: { name, email, password } })).user;
  const owner = await signUp('Bench Person', `bench.${tag}@example.test`);
  const organization = await auth.api.createOrganization({ body: { name: 'Bench Works', slug: `bench-works-${tag}`, userId: owner.id } });
  if (!organization) throw new Error('createOrganization answered nothing');
  // the other members, four at a time (each sign-up hashes a password)
  let next = 1;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < MEMBERS) {
        const n = next++;
        const user = await signUp(`Bench Member ${n}`, `bench.${tag}.member${n}@example.test`);
        await auth.api.addMember({ body: { userId: user.id, organizationId: organization.id, role: 'member' } });
      }
    }),
  );
  const key = await auth.api.createApiKey({ body: { name: 'Bench reader', userId: owner.id } });
  process.stdout.write(
    `${JSON.stringify({
      email: owner.email,
      password,
      userId: owner.id,
      organizationId: organization.id,
      members: MEMBERS,
      apiKey: key.key,
      migration: { tablesCreated: tables, columnsAdded: toBeAdded.length },
    })}\n`,
  );
} finally {
  await pool.end();
}
