import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Plan } from '../../../shared/billing.ts';
import type { Clock } from '../../clock.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { Mailer } from '../../mail/mailer.ts';

/**
 * Mails to an account's owners about changes they should hear of, when the account's "Email
 * notifications" flag is on (nothing at all when it is off): team members and portal users added
 * or removed, the plan changed, the connection allowance reached. Sent after the change has
 * committed and never in the way of the answer: a failed mail is logged, the change stands.
 */

export type OwnerNotice =
  | { kind: 'member_added' | 'member_removed'; memberName: string; by: string }
  | { kind: 'user_added' | 'user_removed'; userName: string; userEmail: string; by: string }
  | { kind: 'plan_changed'; from: Plan; to: Plan; by: string }
  | { kind: 'allowance_reached'; allowance: number };

/** An allowance reached again within this time mails no one again. */
export const ALLOWANCE_NOTICE_EVERY_MS = 86_400_000;

function compose(notice: OwnerNotice, company: string): { subject: string; text: string } {
  switch (notice.kind) {
    case 'member_added':
      return { subject: `${company}: team member ${notice.memberName} added`, text: `${notice.by} added the team member ${notice.memberName} to ${company}.` };
    case 'member_removed':
      return { subject: `${company}: team member ${notice.memberName} removed`, text: `${notice.by} removed the team member ${notice.memberName} from ${company}. Their desktop sessions have ended.` };
    case 'user_added':
      return { subject: `${company}: ${notice.userName} can now use the portal`, text: `${notice.by} gave ${notice.userName} (${notice.userEmail}) access to ${company}.` };
    case 'user_removed':
      return { subject: `${company}: ${notice.userName} no longer has access`, text: `${notice.by} removed ${notice.userName} (${notice.userEmail}) from ${company}.` };
    case 'plan_changed':
      return {
        subject: `${company} is now on the ${notice.to.name} plan`,
        text:
          `${notice.by} changed the plan of ${company} from ${notice.from.name} to ${notice.to.name}: ${notice.to.connectionAllowance} connections at once, ` +
          `${notice.to.memberLimit} team members and ${notice.to.organizationLimit} organizations.`,
      };
    case 'allowance_reached':
      return {
        subject: `${company} has used all ${notice.allowance} connections of its plan`,
        text: `A desktop client of ${company} could not connect: all ${notice.allowance} connections of the plan were in use. A larger plan allows more at once.`,
      };
  }
}

export class OwnerNotifier {
  readonly #database: Database;
  readonly #mailer: Mailer;
  readonly #clock: Clock;
  readonly #publicUrl: string;
  readonly #log: FastifyBaseLogger;

  constructor(options: { database: Database; mailer: Mailer; clock: Clock; publicUrl: string; log: FastifyBaseLogger }) {
    this.#database = options.database;
    this.#mailer = options.mailer;
    this.#clock = options.clock;
    this.#publicUrl = options.publicUrl;
    this.#log = options.log;
  }

  /** Mails the account's owners about `notice` in the background; resolves once sent (tests wait on it), never rejects. */
  notify(accountId: string, notice: OwnerNotice): Promise<void> {
    return this.#send(accountId, notice).catch((err: unknown) => this.#log.error({ err, accountId, notice: notice.kind }, 'owner notification failed'));
  }

  async #send(accountId: string, notice: OwnerNotice): Promise<void> {
    const now = this.#clock.now();
    const recipients = await this.#database.inTenant(accountId, async (tx) => {
      const account = await tx.selectFrom('accounts').select(['company_name', 'email_notifications']).where('account_id', '=', accountId).executeTakeFirst();
      if (!account?.email_notifications) return null;
      if (notice.kind === 'allowance_reached' && !(await claimOncePerDay(tx, accountId, notice.kind, now))) return null;
      const owners = await tx
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select('u.email')
        .where('m.account_id', '=', accountId)
        .where('m.role', '=', 'owner')
        .orderBy('u.email')
        .execute();
      return { company: account.company_name, emails: owners.map((o) => o.email) };
    });
    if (!recipients) return;
    const link = `${this.#publicUrl}/accounts/${accountId}/profile`;
    const { subject, text } = compose(notice, recipients.company);
    const body = `${text}\n\nYou receive this as an owner of ${recipients.company}. Turn these emails off under "Email notifications" in the account's profile:\n${link}\n`;
    await Promise.all(recipients.emails.map((to) => this.#mailer.send({ to, subject, text: body })));
  }
}

/** True for the first claim of `kind` for the account in a day; the upsert decides between nodes. */
async function claimOncePerDay(tx: Tx, accountId: string, kind: string, now: Date): Promise<boolean> {
  const since = new Date(now.getTime() - ALLOWANCE_NOTICE_EVERY_MS);
  const { rows } = await sql<{ kind: string }>`
    insert into owner_notices (account_id, kind, sent_at) values (${accountId}, ${kind}, ${now})
    on conflict (account_id, kind) do update set sent_at = excluded.sent_at where owner_notices.sent_at <= ${since}
    returning kind`.execute(tx);
  return rows.length > 0;
}
