import { sql } from 'kysely';
import { CompanyName, Country, Email, Password, PersonName, type Account } from '../shared/contracts.ts';
import { hashPassword, passwordPolicyErrors } from '../server/auth/passwords.ts';
import type { Database } from '../server/db/database.ts';
import type { ChangeContext } from '../server/domain/audit/record.ts';
import { recordUserChange } from '../server/domain/audit/record.ts';
import { insertAccountWithOwner } from '../server/domain/accounts/accounts.ts';
import type { PlanCatalog } from '../server/domain/plans/catalog.ts';
import { findUserByEmail, insertUser } from '../server/domain/users/users.ts';
import { CliError, EXIT } from './output.ts';

/** Changes made from the command line are audited as the system, from the CLI. */
function cliContext(): ChangeContext {
  return { actor: { type: 'system', id: null }, clientAddress: null, userAgent: 'tessera-cli', requestId: null, now: new Date() };
}

/** Validates one value with a contract schema; a failure is a usage error naming the option. */
function valid<T>(option: string, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new CliError(`${option}: ${result.error.issues.map((i) => i.message).join('; ')}`, EXIT.usage);
  return result.data;
}

async function validPassword(ask: () => Promise<string>, person: { email: string; name?: string }): Promise<string> {
  const password = valid('password', Password, await ask());
  const errors = passwordPolicyErrors(password, person);
  if (errors.length > 0) throw new CliError(`password: ${errors.map((e) => e.message).join('; ')}`, EXIT.usage);
  return password;
}

/** Same stop that portal sessions use: the running nodes drop the person's cached sessions. */
async function forgetSessionsOf(database: Database, userId: string): Promise<void> {
  await sql`select pg_notify('tessera_sessions', ${JSON.stringify({ user: userId })})`.execute(database.db);
}

export async function adminCreateAccount(
  database: Database,
  plans: PlanCatalog,
  options: { email: string; company: string; country: string; name?: string; plan?: string },
  askPassword: () => Promise<string>,
): Promise<{ account: Account; owner: { id: string; email: string }; newUser: boolean }> {
  const email = valid('--email', Email, options.email);
  const planId = options.plan ?? plans.defaultId;
  if (!plans.has(planId)) throw new CliError(`--plan: "${planId}" is not a plan of the catalog (${plans.plans.map((p) => p.id).join(', ')}).`, EXIT.usage);
  const input = { companyName: valid('--company', CompanyName, options.company), country: valid('--country', Country, options.country), planId };
  const existing = await findUserByEmail(database.db, email);
  let passwordHash: string | null = null;
  let name = '';
  if (!existing) {
    if (!options.name) throw new CliError('--name: a new owner needs a name.', EXIT.usage);
    name = valid('--name', PersonName, options.name);
    passwordHash = await hashPassword(await validPassword(askPassword, { email, name }));
  }
  const context = cliContext();
  return database.inSystem(async (tx) => {
    const owner = existing ?? (await insertUser(tx, { name, email, passwordHash: passwordHash! }, context.now));
    if (!existing) await recordUserChange(tx, context, { userId: owner.id, action: 'user.registered', after: { via: 'cli' } });
    const account = await insertAccountWithOwner(tx, context, owner.id, input);
    return { account, owner: { id: owner.id, email: owner.email }, newUser: !existing };
  });
}

export async function adminResetPassword(database: Database, emailOption: string, askPassword: () => Promise<string>): Promise<void> {
  const email = valid('--email', Email, emailOption);
  const user = await findUserByEmail(database.db, email);
  if (!user) throw new CliError(`No person signs in with ${email}.`, EXIT.refused);
  const passwordHash = await hashPassword(await validPassword(askPassword, user));
  const context = cliContext();
  await database.inSystem(async (tx) => {
    await tx.updateTable('users').set({ password_hash: passwordHash, updated_at: context.now }).where('id', '=', user.id).execute();
    await tx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
    await tx.deleteFrom('sign_in_throttle').where('key', '=', `sign-in:email:${user.email.toLowerCase()}`).execute();
    await recordUserChange(tx, context, { userId: user.id, action: 'user.password_reset', after: { via: 'cli' } });
  });
  await forgetSessionsOf(database, user.id);
}

export interface AccountSummary {
  id: string;
  companyName: string;
  country: string;
  planId: string;
  owners: string[];
  users: number;
  members: number;
  createdAt: string;
}

export async function adminListAccounts(database: Database): Promise<AccountSummary[]> {
  const rows = await database.db
    .selectFrom('accounts as a')
    .select([
      'a.account_id',
      'a.company_name',
      'a.country',
      'a.plan_id',
      'a.created_at',
      sql<string[]>`coalesce((select array_agg(u.email order by u.email) from memberships m join users u on u.id = m.user_id where m.account_id = a.account_id and m.role = 'owner'), '{}')`.as('owners'),
      sql<number>`(select count(*)::int from memberships m where m.account_id = a.account_id)`.as('users'),
      sql<number>`(select count(*)::int from team_members t where t.account_id = a.account_id)`.as('members'),
    ])
    .orderBy('a.created_at')
    .orderBy('a.account_id')
    .execute();
  return rows.map((r) => ({
    id: r.account_id,
    companyName: r.company_name,
    country: r.country,
    planId: r.plan_id,
    owners: r.owners,
    users: r.users,
    members: r.members,
    createdAt: r.created_at.toISOString(),
  }));
}
