import type { Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { AccessKey, CreateAccessKeyBody, IssuedAccessKey } from '../../../shared/access-keys.ts';
import { ACCESS_KEY_PREFIX } from '../../auth/access-keys.ts';
import { generateSecret, hashSecret } from '../../auth/secrets.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { AccessKeysTable, ScopedRole } from '../../db/schema.ts';
import { fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { assertScopeExists } from '../access/grants.ts';
import { toRoleGrant } from '../../auth/access.ts';

type KeyRow = Selectable<AccessKeysTable>;

/** How much of the secret a list shows: the prefix and four characters, enough to tell keys apart. */
const SHOWN_CHARS = ACCESS_KEY_PREFIX.length + 4;

/** Keys with their creator's name and their scope's name, in one query. */
function keysWithNames(tx: Tx, accountId: string) {
  return tx
    .selectFrom('access_keys as k')
    .leftJoin('users as u', 'u.id', 'k.created_by')
    .leftJoin('organization_groups as g', (join) => join.onRef('g.account_id', '=', 'k.account_id').onRef('g.id', '=', 'k.group_id'))
    .leftJoin('organizations as o', (join) => join.onRef('o.account_id', '=', 'k.account_id').onRef('o.id', '=', 'k.organization_id'))
    .select([
      'k.id',
      'k.name',
      'k.prefix',
      'k.role',
      'k.group_id',
      'k.organization_id',
      'k.created_by',
      'k.created_at',
      'k.last_used_at',
      'k.expires_at',
      'u.name as creator_name',
      'g.name as group_name',
      'o.name as organization_name',
    ])
    .where('k.account_id', '=', accountId);
}

type NamedKeyRow = Awaited<ReturnType<ReturnType<typeof keysWithNames>['executeTakeFirstOrThrow']>>;

function toAccessKey(row: NamedKeyRow, now: Date): AccessKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    grant: row.group_id || row.organization_id ? toRoleGrant({ ...row, role: row.role as ScopedRole }) : { role: row.role, scope: 'account', scopeId: null, scopeName: null },
    createdBy: row.created_by && row.creator_name !== null ? { id: row.created_by, name: row.creator_name } : null,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
    status: row.expires_at && row.expires_at <= now ? 'expired' : 'active',
  };
}

/** One key as the API shows it, or a 404. */
async function findAccessKey(tx: Tx, accountId: string, keyId: string, now: Date): Promise<AccessKey> {
  const row = await keysWithNames(tx, accountId).where('k.id', '=', keyId).executeTakeFirst();
  if (!row) throw notFound('The access key');
  return toAccessKey(row, now);
}

/** The account's keys, newest first; expired ones stay listed (marked) until revoked. */
export async function listAccessKeys(database: Database, accountId: string, now: Date): Promise<AccessKey[]> {
  return database.inTenant(accountId, async (tx) => {
    const rows = await keysWithNames(tx, accountId).orderBy('k.created_at', 'desc').orderBy('k.id', 'desc').execute();
    return rows.map((row) => toAccessKey(row, now));
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
      const key = await findAccessKey(tx, accountId, row.id, context.now);
      await recordAccountChange(tx, context, { accountId, action: 'access_key.created', target: { type: 'access_key', id: row.id }, after: key });
      return { key, secret };
    })
    .catch(uniqueClash('name', 'already_used', 'Another key of this account has this name'));
}

/** Revokes a key: the row goes (the audit record keeps what it was); follow with forgetEverywhere. */
export async function revokeAccessKey(database: Database, context: ChangeContext, accountId: string, keyId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const before = await findAccessKey(tx, accountId, keyId, context.now);
    // a revocation racing this one may have taken it meanwhile: only one of them is recorded
    const deleted = await tx.deleteFrom('access_keys').where('account_id', '=', accountId).where('id', '=', keyId).returning('id').executeTakeFirst();
    if (!deleted) throw notFound('The access key');
    await recordAccountChange(tx, context, { accountId, action: 'access_key.revoked', target: { type: 'access_key', id: keyId }, before });
  });
}
