import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { Mailer } from './mail/mailer.ts';
import type { SessionStore } from './auth/sessions.ts';
import type { Throttle } from './auth/throttle.ts';
import type { Sealer } from './auth/sealing.ts';
import type { ClientSessionStore } from './client-api/sessions.ts';
import type { AccessKeyStore } from './auth/access-keys.ts';
import type { PresenceHub } from './domain/presence/hub.ts';
import type { PresencePolicy, PresenceRecorder } from './domain/presence/presence.ts';
import type { EventStreams } from './http/event-stream.ts';
import type { PlanCatalog } from './domain/plans/catalog.ts';
import type { PaymentProvider } from './domain/billing/provider.ts';
import type { OwnerNotifier } from './domain/notifications/owner-mail.ts';
import type { WebAuthnCeremonies } from './auth/webauthn.ts';

/** What route plugins reach through `app.services`; built once by buildApp. */
export interface Services {
  config: Config;
  database: Database;
  clock: Clock;
  sessions: SessionStore;
  /** Desktop sessions of team members. */
  clientSessions: ClientSessionStore;
  /** Access keys of programs calling the management API. */
  accessKeys: AccessKeyStore;
  /** Seals the secrets owners may see again (login tokens). */
  sealer: Sealer;
  throttle: Throttle;
  /** Passkey ceremonies, bound to the host of publicUrl. */
  webauthn: WebAuthnCeremonies;
  /** Heartbeats in, presence out (streams on every node). */
  presence: { policy: PresencePolicy; recorder: PresenceRecorder; hub: PresenceHub };
  /** Open Server-Sent Events responses, ended when the app closes. */
  eventStreams: EventStreams;
  mailer: Mailer;
  /** The plans offered (built in, or TESSERA_PLANS_FILE). */
  plans: PlanCatalog;
  /** Mails owners about changes when their account's notifications are on. */
  notifier: OwnerNotifier;
  /** Collects what invoices say is owed (docs/billing.md). */
  paymentProvider: PaymentProvider;
  /** Base address for links in emails, without a trailing slash. */
  publicUrl: string;
}
