import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { Mailer } from './mail/mailer.ts';
import type { SessionStore } from './auth/sessions.ts';
import type { Throttle } from './auth/throttle.ts';

/** What route plugins reach through `app.services`; built once by buildApp. */
export interface Services {
  config: Config;
  database: Database;
  clock: Clock;
  sessions: SessionStore;
  throttle: Throttle;
  mailer: Mailer;
  /** Base address for links in emails, without a trailing slash. */
  publicUrl: string;
}
