import { uuidv7 } from 'uuidv7';
import type { Tx } from '../../db/database.ts';
import type { AccountAuditAction } from '../../../shared/audit.ts';
import type { ActorType } from '../../db/schema.ts';

/** Who made a change and from where; built once per request (see http/context.ts). */
export interface ChangeContext {
  actor: { type: ActorType; id: string | null };
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  now: Date;
}

export interface AccountChange {
  accountId: string;
  /** `noun.verb`, e.g. `account.updated`, `member.created`; one of the catalog in shared/audit.ts. */
  action: AccountAuditAction;
  target: { type: string; id: string | null };
  before?: unknown;
  after?: unknown;
}

/**
 * Every change to an account writes one audit event, in the caller's transaction: the change and
 * its record commit or fail together.
 */
export async function recordAccountChange(tx: Tx, context: ChangeContext, change: AccountChange): Promise<void> {
  await tx
    .insertInto('audit_events')
    .values({
      account_id: change.accountId,
      id: uuidv7(),
      occurred_at: context.now,
      actor_type: context.actor.type,
      actor_id: context.actor.id,
      action: change.action,
      target_type: change.target.type,
      target_id: change.target.id,
      before: change.before === undefined ? null : JSON.stringify(change.before),
      after: change.after === undefined ? null : JSON.stringify(change.after),
      client_address: context.clientAddress,
      user_agent: context.userAgent,
      request_id: context.requestId,
    })
    .execute();
}

/** Changes to a person rather than an account: sign-in, password, email verification. */
export async function recordUserChange(
  tx: Tx,
  context: ChangeContext,
  change: { userId: string; action: string; before?: unknown; after?: unknown },
): Promise<void> {
  await tx
    .insertInto('user_audit_events')
    .values({
      user_id: change.userId,
      id: uuidv7(),
      occurred_at: context.now,
      action: change.action,
      before: change.before === undefined ? null : JSON.stringify(change.before),
      after: change.after === undefined ? null : JSON.stringify(change.after),
      client_address: context.clientAddress,
      user_agent: context.userAgent,
      request_id: context.requestId,
    })
    .execute();
}
