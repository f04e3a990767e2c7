import { uuidv7 } from 'uuidv7';
import type { Database, Tx } from '../../db/database.ts';
import type { EmailTokenPurpose, UsersTable } from '../../db/schema.ts';
import { generateSecret, hashSecret, isWellFormedSecret } from '../../auth/secrets.ts';
import { AppError } from '../../http/errors.ts';

export type UserRow = UsersTable;

/** A single read needs no transaction of its own: pass the database's Kysely instance. */
export function findUserByEmail(tx: Tx | Database['db'], email: string): Promise<UserRow | undefined> {
  return tx
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export function findUserById(tx: Tx | Database['db'], id: string): Promise<UserRow | undefined> {
  return tx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A person signing up through an OpenID Connect provider has no password, and an email the provider verified. */
export async function insertUser(tx: Tx, input: { name: string; email: string; passwordHash: string | null; emailVerifiedAt?: Date }, now: Date): Promise<UserRow> {
  const row: UserRow = {
    id: uuidv7(),
    email: input.email,
    name: input.name,
    password_hash: input.passwordHash,
    email_verified_at: input.emailVerifiedAt ?? null,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('users').values(row).execute();
  return row;
}

const PREFIX = { verify_email: 'tsr_ev_', reset_password: 'tsr_pr_', change_email: 'tsr_ec_' } as const;
export const EMAIL_TOKEN_TTL_MS = { verify_email: 48 * 3600_000, reset_password: 3600_000, change_email: 24 * 3600_000 } as const;

/**
 * Issues a single-use emailed link secret. Issuing a new one retires the person's earlier
 * unused links of the same purpose, so only the latest email works.
 */
export async function issueEmailToken(tx: Tx, user: { id: string; email: string }, purpose: EmailTokenPurpose, now: Date): Promise<string> {
  await tx
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('user_id', '=', user.id)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
  const secret = generateSecret(PREFIX[purpose]);
  await tx
    .insertInto('email_tokens')
    .values({
      token_hash: hashSecret(secret),
      user_id: user.id,
      purpose,
      email: user.email,
      created_at: now,
      expires_at: new Date(now.getTime() + EMAIL_TOKEN_TTL_MS[purpose]),
      used_at: null,
    })
    .execute();
  return secret;
}

const invalidLink = () =>
  new AppError('validation_failed', 'This link is invalid, used or expired. Ask for a new one.', {
    errors: [{ field: 'token', code: 'invalid_token', message: 'This link is invalid, used or expired' }],
  });

/** Marks a link used (once, before it expires); returns the person and the address it was sent to. */
async function spendEmailToken(tx: Tx, secret: string, purpose: EmailTokenPurpose, now: Date): Promise<{ user: UserRow; sentTo: string }> {
  if (!isWellFormedSecret(secret, PREFIX[purpose])) throw invalidLink();
  const spent = await tx
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', hashSecret(secret))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email'])
    .executeTakeFirst();
  if (!spent) throw invalidLink();
  const user = await findUserById(tx, spent.user_id);
  if (!user) throw invalidLink();
  return { user, sentTo: spent.email };
}

/** Spends an emailed link: valid once, before it expires, and only for the address it was sent to. */
export async function consumeEmailToken(tx: Tx, secret: string, purpose: Exclude<EmailTokenPurpose, 'change_email'>, now: Date): Promise<UserRow> {
  const { user, sentTo } = await spendEmailToken(tx, secret, purpose, now);
  if (user.email.toLowerCase() !== sentTo.toLowerCase()) throw invalidLink();
  return user;
}

/**
 * Issues the link that confirms a new email address; it goes to the new address, which is what
 * the token row records. Only the latest requested change can be confirmed.
 */
export function issueEmailChangeToken(tx: Tx, user: { id: string }, newEmail: string, now: Date): Promise<string> {
  return issueEmailToken(tx, { id: user.id, email: newEmail }, 'change_email', now);
}

/** Spends an email-change link: the person, and the new address the link proved. */
export async function consumeEmailChangeToken(tx: Tx, secret: string, now: Date): Promise<{ user: UserRow; newEmail: string }> {
  const { user, sentTo } = await spendEmailToken(tx, secret, 'change_email', now);
  return { user, newEmail: sentTo };
}
