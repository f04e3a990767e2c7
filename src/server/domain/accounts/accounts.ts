import type { Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Account, CreateAccountBody, UpdateAccountBody } from '../../../shared/contracts.ts';
import type { Database } from '../../db/database.ts';
import type { AccountsTable } from '../../db/schema.ts';
import { notFound } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import type { Tx } from '../../db/database.ts';

type AccountRow = Selectable<AccountsTable>;

export function toAccount(row: AccountRow): Account {
  return {
    id: row.account_id,
    companyName: row.company_name,
    country: row.country,
    emailNotifications: row.email_notifications,
    requireTwoFactor: row.require_two_factor,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Creates an account with `ownerId` as its owner, inside the caller's transaction. */
export async function insertAccountWithOwner(
  tx: Tx,
  context: ChangeContext,
  ownerId: string,
  input: { companyName: string; country: string; planId: string },
): Promise<Account> {
  const row: AccountRow = {
    account_id: uuidv7(),
    company_name: input.companyName,
    country: input.country,
    email_notifications: true,
    require_two_factor: false,
    plan_id: input.planId,
    plan_since: context.now,
    created_at: context.now,
    updated_at: context.now,
  };
  await tx.insertInto('accounts').values(row).execute();
  await tx
    .insertInto('memberships')
    .values({ account_id: row.account_id, user_id: ownerId, role: 'owner', created_at: context.now })
    .execute();
  const account = toAccount(row);
  await recordAccountChange(tx, context, {
    accountId: row.account_id,
    action: 'account.created',
    target: { type: 'account', id: row.account_id },
    after: account,
  });
  await recordAccountChange(tx, context, {
    accountId: row.account_id,
    action: 'membership.created',
    target: { type: 'user', id: ownerId },
    after: { userId: ownerId, role: 'owner' },
  });
  return account;
}

export async function createAccount(database: Database, context: ChangeContext, ownerId: string, input: CreateAccountBody, planId: string): Promise<Account> {
  return database.inSystem((tx) => insertAccountWithOwner(tx, context, ownerId, { ...(input as { companyName: string; country: string }), planId }));
}

export async function getAccount(database: Database, accountId: string): Promise<Account> {
  return database.inTenant(accountId, async (tx) => {
    const row = await tx.selectFrom('accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
    if (!row) throw notFound('The account');
    return toAccount(row);
  });
}

export async function updateAccount(database: Database, context: ChangeContext, accountId: string, patch: UpdateAccountBody): Promise<Account> {
  return database.inTenant(accountId, async (tx) => {
    const before = await tx
      .selectFrom('accounts')
      .selectAll()
      .where('account_id', '=', accountId)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw notFound('The account');
    const row = await tx
      .updateTable('accounts')
      .set({
        ...(patch.companyName !== undefined ? { company_name: patch.companyName } : {}),
        ...(patch.country !== undefined ? { country: patch.country } : {}),
        ...(patch.emailNotifications !== undefined ? { email_notifications: patch.emailNotifications } : {}),
        ...(patch.requireTwoFactor !== undefined ? { require_two_factor: patch.requireTwoFactor } : {}),
        updated_at: context.now,
      })
      .where('account_id', '=', accountId)
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = toAccount(row);
    await recordAccountChange(tx, context, {
      accountId,
      action: 'account.updated',
      target: { type: 'account', id: accountId },
      before: toAccount(before),
      after,
    });
    return after;
  });
}
