import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../../db/database.ts';
import type { NewCredential, VerifiedUse } from '../../auth/webauthn.ts';
import { conflict, notFound } from '../../http/errors.ts';
import { PASSKEY_LIMIT, type Passkey } from '../../../shared/passkeys.ts';

/** A person's passkeys as rows: listed, added, renamed, removed, and their use recorded. See docs/passkeys.md. */

interface PasskeyRow {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  backed_up: boolean;
}

function toPasskey(row: PasskeyRow): Passkey {
  return { id: row.id, name: row.name, createdAt: row.created_at.toISOString(), lastUsedAt: row.last_used_at?.toISOString() ?? null, synced: row.backed_up };
}

const LISTED = ['id', 'name', 'created_at', 'last_used_at', 'backed_up'] as const;

export async function listPasskeys(db: Database['db'] | Tx, userId: string): Promise<Passkey[]> {
  const rows = await db.selectFrom('passkeys').select(LISTED).where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toPasskey);
}

/** What a ceremony needs of the person's passkeys: their ids and how to reach them. */
export function passkeyDescriptors(db: Database['db'] | Tx, userId: string): Promise<Array<{ credential_id: string; transports: string[] }>> {
  return db.selectFrom('passkeys').select(['credential_id', 'transports']).where('user_id', '=', userId).execute();
}

export async function countPasskeys(db: Database['db'] | Tx, userId: string): Promise<number> {
  const row = await db.selectFrom('passkeys').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Adds a verified credential under a name (by default "Passkey <n>"). The person's row is locked
 * first so two additions at once cannot pass the limit together; a credential already registered
 * (by anyone) is refused by its unique index.
 */
export async function insertPasskey(tx: Tx, userId: string, credential: NewCredential, name: string | undefined, now: Date): Promise<Passkey> {
  await tx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirstOrThrow();
  const held = await countPasskeys(tx, userId);
  if (held >= PASSKEY_LIMIT) throw conflict(`You have ${PASSKEY_LIMIT} passkeys, the most one person can hold. Remove one first.`);
  const row = await tx
    .insertInto('passkeys')
    .values({
      id: randomUUID(),
      user_id: userId,
      credential_id: credential.credentialId,
      public_key: credential.publicKey,
      sign_count: credential.signCount,
      transports: credential.transports,
      backed_up: credential.backedUp,
      aaguid: credential.aaguid,
      name: name ?? `Passkey ${held + 1}`,
      created_at: now,
      last_used_at: null,
    })
    .onConflict((oc) => oc.column('credential_id').doNothing())
    .returning(LISTED)
    .executeTakeFirst();
  if (!row) throw conflict('This passkey is registered already.', [{ field: 'credential', code: 'already_registered', message: 'This passkey is registered already' }]);
  return toPasskey(row);
}

export async function renamePasskey(tx: Tx, userId: string, passkeyId: string, name: string): Promise<{ before: Passkey; after: Passkey }> {
  const before = await tx.selectFrom('passkeys').select(LISTED).where('id', '=', passkeyId).where('user_id', '=', userId).forUpdate().executeTakeFirst();
  if (!before) throw notFound('The passkey');
  const after = await tx.updateTable('passkeys').set({ name }).where('id', '=', passkeyId).returning(LISTED).executeTakeFirstOrThrow();
  return { before: toPasskey(before), after: toPasskey(after) };
}

/** Removes one of the person's passkeys; another person's id is not found. */
export async function deletePasskey(tx: Tx, userId: string, passkeyId: string): Promise<Passkey> {
  const row = await tx.deleteFrom('passkeys').where('id', '=', passkeyId).where('user_id', '=', userId).returning(LISTED).executeTakeFirst();
  if (!row) throw notFound('The passkey');
  return toPasskey(row);
}

/**
 * Saves what a verified signature brought: the counter and when. Guarded by the counter read
 * before verifying, so of two answers racing with the same counter only one counts.
 */
export async function recordPasskeyUse(tx: Tx, use: VerifiedUse, now: Date): Promise<boolean> {
  const updated = await tx
    .updateTable('passkeys')
    .set({ sign_count: use.signCount, backed_up: use.backedUp, last_used_at: now })
    .where('id', '=', use.passkey.id)
    .where('sign_count', '=', use.passkey.sign_count)
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}
