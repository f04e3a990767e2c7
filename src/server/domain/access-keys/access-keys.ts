import type { Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { AccessKey, CreateAccessKeyBody, IssuedAccessKey } from '../../../shared/access-keys.ts';
import { ACCESS_KEY_PREFIX } from '../../auth/access-keys.ts';
import { generateSecret, hashSecret } from '../../auth/secrets.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { AccessKeysTable } from '../../db/schema.ts';
import { fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { assertScopeExists, describeScope } from '../access/grants.ts';

type KeyRow = Selectable<AccessKeysTable>;

/** How much of the secret a list shows: the prefix and four characters, enough to tell keys apart. */
const SHOWN_CHARS = ACCESS_KEY_PREFIX.length + 4;

async function toAccessKey(tx: Tx, row: KeyRow, now: Date): Promise<AccessKey> {
  const creator = row.created_by ? await tx.selectFrom('users').select(['id', 'name']).where('id', '=', row.created_by).executeTakeFirst() : undefined;
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    grant: await describeScope(tx, row.account_id, { role: row.role, groupId: row.group_id ?? undefined, organizationId: row.organization_id ?? undefined }),
    createdBy: creator ?? null,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
    status: row.expires_at && row.expires_at <= now ? 'expired' : 'active',
  };
}

/** The account's keys, newest first; expired ones stay listed (marked) until revoked. */
export async function listAccessKeys(database: Database, accountId: string, now: Date): Promise<AccessKey[]> {
  return database.inTenant(accountId, async (tx) => {
    const rows = await tx.selectFrom('access_keys').selectAll().where('account_id', '=', accountId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return Promise.all(rows.map((row) => toAccessKey(tx, row, now)));
  });
}

/** Makes a key; the answer carries the secret, which is stored only as its SHA-256. */
export async function createAccessKey(database: Database, context: ChangeContext, accountId: string, body: CreateAccessKeyBody): Promise<IssuedAccessKey> {
  const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
  if (expiresAt && expiresAt <= context.now) throw fieldError('expiresAt', 'in_past', 'Choose a moment in the future');
  return database
    .inTenant(accountId, async (tx) => {
      await assertScopeExists(tx, accountId, body);
      const secret = generateSecret(ACCESS_KEY_PREFIX);
      const row: KeyRow = {
        account_id: accountId,
        id: uuidv7(),
        name: body.name,
        role: body.role,
        group_id: body.groupId ?? null,
        organization_id: body.organizationId ?? null,
        secret_hash: hashSecret(secret),
        prefix: secret.slice(0, SHOWN_CHARS),
        created_by: context.actor.type === 'user' ? context.actor.id : null,
        created_at: context.now,
        expires_at: expiresAt,
        last_used_at: null,
      };
      await tx.insertInto('access_keys').values(row).execute();
      const key = await toAccessKey(tx, row, context.now);
      await recordAccountChange(tx, context, { accountId, action: 'access_key.created', target: { type: 'access_key', id: row.id }, after: key });
      return { key, secret };
    })
    .catch(uniqueClash('name', 'already_used', 'Another key of this account has this name'));
}

/** Revokes a key: the row goes (the audit record keeps what it was); follow with forgetEverywhere. */
export async function revokeAccessKey(database: Database, context: ChangeContext, accountId: string, keyId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const row = await tx.deleteFrom('access_keys').where('account_id', '=', accountId).where('id', '=', keyId).returningAll().executeTakeFirst();
    if (!row) throw notFound('The access key');
    await recordAccountChange(tx, context, { accountId, action: 'access_key.revoked', target: { type: 'access_key', id: keyId }, before: await toAccessKey(tx, row, context.now) });
  });
}
