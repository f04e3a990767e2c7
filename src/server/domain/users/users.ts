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

export function findUserById(tx: Tx, id: string): Promise<UserRow | undefined> {
  return tx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertUser(tx: Tx, input: { name: string; email: string; passwordHash: string }, now: Date): Promise<UserRow> {
  const row: UserRow = {
    id: uuidv7(),
    email: input.email,
    name: input.name,
    password_hash: input.passwordHash,
    email_verified_at: null,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('users').values(row).execute();
  return row;
}

const PREFIX = { verify_email: 'tsr_ev_', reset_password: 'tsr_pr_' } as const;
export const EMAIL_TOKEN_TTL_MS = { verify_email: 48 * 3600_000, reset_password: 3600_000 } as const;

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

/** Spends an emailed link: valid once, before it expires, and only for the address it was sent to. */
export async function consumeEmailToken(tx: Tx, secret: string, purpose: EmailTokenPurpose, now: Date): Promise<UserRow> {
  const invalid = new AppError('validation_failed', 'This link is invalid, used or expired. Ask for a new one.', {
    errors: [{ field: 'token', code: 'invalid_token', message: 'This link is invalid, used or expired' }],
  });
  if (!isWellFormedSecret(secret, PREFIX[purpose])) throw invalid;
  const spent = await tx
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', hashSecret(secret))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email'])
    .executeTakeFirst();
  if (!spent) throw invalid;
  const user = await findUserById(tx, spent.user_id);
  if (!user || user.email.toLowerCase() !== spent.email.toLowerCase()) throw invalid;
  return user;
}
