import path from 'node:path';
import { z } from 'zod';

/**
 * One typed configuration, read from the environment and validated once at start.
 * The server, the CLI, the tests and the benchmarks all build the app from this shape.
 */
const ConfigSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  host: z.string().min(1).default('0.0.0.0'),
  /** Embedded PostgreSQL (PGlite) data directory; ignored when databaseUrl is set. */
  dataDir: z.string().min(1).default('./data'),
  /** postgres://… selects a PostgreSQL server instead of the embedded database. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** 32+ byte secret (base64 or hex); when absent a key is generated in the data directory. */
  secret: z.string().min(32).optional(),
  /** Address users reach the portal at; used in emailed links. */
  publicUrl: z.url().optional(),
  /** smtp://user:pass@host:port; when absent, mail is written to the log. */
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  mailFrom: z.string().min(3).default('Tessera <no-reply@tessera.local>'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Honour X-Forwarded-* from a reverse proxy (needed for client addresses and Secure cookies). */
  trustProxy: z.stringbool().default(false),
  /** Serve the built portal from this folder; empty disables the portal. */
  webDir: z.string().default('dist/web'),
  sessionIdleHours: z.coerce.number().positive().default(24 * 7),
  sessionMaxDays: z.coerce.number().positive().default(30),
  /** How long a resolved session stays in the per-node cache (bounds cross-node staleness). */
  sessionCacheSeconds: z.coerce.number().min(0).default(5),
  bodyLimitBytes: z.coerce.number().int().positive().default(64 * 1024),
  shutdownGraceMs: z.coerce.number().int().positive().default(10_000),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {}

export function parseConfig(input: ConfigInput): Config {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.dataDir) };
}

/** Maps environment variables to config fields; unset variables fall back to defaults. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (name: string) => (env[name] === '' ? undefined : env[name]);
  return parseConfig({
    port: pick('PORT') as never,
    host: pick('HOST'),
    dataDir: pick('TESSERA_DATA_DIR'),
    databaseUrl: pick('DATABASE_URL'),
    secret: pick('TESSERA_SECRET'),
    publicUrl: pick('TESSERA_PUBLIC_URL'),
    smtpUrl: pick('TESSERA_SMTP_URL'),
    mailFrom: pick('TESSERA_MAIL_FROM'),
    logLevel: pick('TESSERA_LOG_LEVEL') as never,
    trustProxy: pick('TESSERA_TRUST_PROXY') as never,
    webDir: pick('TESSERA_WEB_DIR'),
    sessionIdleHours: pick('TESSERA_SESSION_IDLE_HOURS') as never,
    sessionMaxDays: pick('TESSERA_SESSION_MAX_DAYS') as never,
    sessionCacheSeconds: pick('TESSERA_SESSION_CACHE_SECONDS') as never,
    bodyLimitBytes: pick('TESSERA_BODY_LIMIT_BYTES') as never,
    shutdownGraceMs: pick('TESSERA_SHUTDOWN_GRACE_MS') as never,
  });
}
