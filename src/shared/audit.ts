import { z } from 'zod';
import { Id } from './contracts.ts';

/**
 * The audit log of an account: every change, who made it, to what, when and from where.
 * Contracts of /api/v1 (search, export) and the catalog of actions the server records.
 */

/**
 * Every action recorded in an account's log. The server's `recordAccountChange` accepts only
 * these, so a new kind of change must be named here (and the portal's filter offers it).
 */
export const ACCOUNT_AUDIT_ACTIONS = [
  'account.created',
  'account.updated',
  'account.ownership_transferred',
  'account.plan_changed',
  'billing.details_updated',
  'invoice.issued',
  'membership.created',
  'user.added',
  'user.roles_changed',
  'user.removed',
  'invitation.created',
  'invitation.resent',
  'invitation.revoked',
  'invitation.accepted',
  'member.created',
  'member.updated',
  'member.deleted',
  'member.enrolled',
  'member.credentials_set',
  'member.credentials_removed',
  'login_token.created',
  'login_token.revealed',
  'login_token.revoked',
  'client_session.created',
  'client_session.ended',
  'client_session.revoked',
  'connection.closed',
  'organization.created',
  'organization.updated',
  'organization.deleted',
  'organization.selected',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.organization_added',
  'group.organization_removed',
  'device.created',
  'device.updated',
  'device.deleted',
  'access_key.created',
  'access_key.revoked',
] as const;
export type AccountAuditAction = (typeof ACCOUNT_AUDIT_ACTIONS)[number];

/** The nouns of the actions (`member` of `member.created`): `member.*` selects all of them. */
export const AUDIT_ACTION_GROUPS = [...new Set(ACCOUNT_AUDIT_ACTIONS.map((a) => a.slice(0, a.indexOf('.'))))];

export const AuditActorType = z.enum(['user', 'access_key', 'member', 'system']);
export type AuditActorType = z.infer<typeof AuditActorType>;

const KNOWN_ACTIONS = new Set<string>(ACCOUNT_AUDIT_ACTIONS);
const KNOWN_GROUPS = new Set(AUDIT_ACTION_GROUPS);

/** `member.created,device.*`: exact actions and whole groups, comma-separated, expanded to a list. */
const ActionFilter = z
  .string()
  .trim()
  .min(1)
  .max(1000)
  .transform((value, ctx) => {
    const actions = new Set<string>();
    for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
      if (part.endsWith('.*') && KNOWN_GROUPS.has(part.slice(0, -2))) {
        for (const action of ACCOUNT_AUDIT_ACTIONS) if (action.startsWith(part.slice(0, -1))) actions.add(action);
      } else if (KNOWN_ACTIONS.has(part)) {
        actions.add(part);
      } else {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not an action of the audit log`, params: { code: 'unknown_action' } });
        return z.NEVER;
      }
    }
    return [...actions].sort();
  })
  .describe('Actions, comma-separated; `member.*` selects every action on members');

const Instant = z.iso.datetime({ offset: true, message: 'Enter a date and time, e.g. 2026-12-01T00:00:00Z' });

const filterFields = {
  actorType: AuditActorType.optional().describe('Who acted: a person, an access key, a team member (desktop) or the system'),
  actorId: Id.optional().describe('The person, access key or team member who acted'),
  action: ActionFilter.optional(),
  targetType: z.string().trim().regex(/^[a-z_]{1,40}$/, { message: 'A target type is a word such as member or device' }).optional(),
  targetId: z.string().trim().min(1).max(200).optional().describe('The id of what was changed'),
  from: Instant.optional().describe('Events at or after this moment'),
  to: Instant.optional().describe('Events before this moment'),
};

function rangeInOrder(query: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx): void {
  if (query.from && query.to && Date.parse(query.from) >= Date.parse(query.to)) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'The end must come after the start', params: { code: 'range_reversed' } });
  }
}

/** Search: newest first, a page at a time (keyset: pass `nextCursor` back as `cursor`). */
export const AuditSearchQuery = z
  .strictObject({
    ...filterFields,
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional(),
  })
  .superRefine(rangeInOrder);
export type AuditSearchQuery = z.input<typeof AuditSearchQuery>;
export type AuditFilter = Omit<z.output<typeof AuditSearchQuery>, 'limit' | 'cursor'>;

export const AuditExportFormat = z.enum(['csv', 'jsonl']);
export type AuditExportFormat = z.infer<typeof AuditExportFormat>;

export const AuditExportQuery = z
  .strictObject({
    ...filterFields,
    format: AuditExportFormat.default('csv').describe('csv (one row per event) or jsonl (JSON Lines: one event object per line)'),
  })
  .superRefine(rangeInOrder);
export type AuditExportQuery = z.input<typeof AuditExportQuery>;

export const AuditEvent = z
  .object({
    id: Id,
    occurredAt: z.iso.datetime(),
    actor: z.object({
      type: AuditActorType,
      id: Id.nullable(),
      /** The person's, key's or member's name now; null once it is gone. */
      name: z.string().nullable(),
    }),
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string().nullable() }),
    before: z.unknown().optional().describe('What changed, as it was (absent for a creation)'),
    after: z.unknown().optional().describe('What changed, as it became (absent for a deletion)'),
    clientAddress: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' });
export type AuditEvent = z.infer<typeof AuditEvent>;

export const AuditEventPage = z.object({ items: z.array(AuditEvent), nextCursor: z.string().nullable() }).meta({ id: 'AuditEventPage' });
export type AuditEventPage = z.infer<typeof AuditEventPage>;
