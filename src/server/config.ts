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
  /** Desktop clients: access-token lifetime, refresh-token lifetime, grace for a lost refresh answer. */
  clientAccessTokenSeconds: z.coerce.number().int().positive().default(900),
  clientRefreshTokenDays: z.coerce.number().positive().default(30),
  clientRefreshGraceSeconds: z.coerce.number().min(0).default(10),
  /** How long a resolved access token stays in the per-node cache (bounds cross-node staleness). */
  clientTokenCacheSeconds: z.coerce.number().min(0).default(60),
  /** How long an invitation link works. */
  invitationDays: z.coerce.number().positive().max(90).default(7),
  /** A member whose desktop client sent no heartbeat for this long is offline. */
  presenceTimeoutSeconds: z.coerce.number().int().min(3).max(3600).default(60),
  /** A connection lease not renewed within this time ends by itself. */
  leaseTtlSeconds: z.coerce.number().int().min(5).max(3600).default(60),
  /** A JSON plan catalog (see docs/billing.md); the built-in plans when absent. */
  plansFile: z.string().min(1).optional(),
  /** Minutes between runs of the periodic work (usage roll-up, audit retention); 0 turns it off. */
  housekeepingMinutes: z.coerce.number().min(0).max(1440).default(60),
  /** The embedded database's buffer pool (shared_buffers); more trades memory for fewer file reads. */
  pgliteSharedBuffers: z.string().regex(/^\d+(kB|MB|GB)$/, 'must be a size such as 32MB').optional(),
  /** Audit events older than this are deleted (hourly); 0 keeps them forever. */
  auditRetentionDays: z.coerce.number().int().min(0).max(36500).default(365),
  /**
   * The OpenID Connect issuer people may sign in with (docs/oidc.md): `google` for Google, or any
   * issuer URL; absent, the feature is off. Plain http only for a loopback issuer (tests, development).
   */
  oidcIssuer: z.string().min(1).optional(),
  oidcClientId: z.string().min(1).optional(),
  oidcClientSecret: z.string().min(1).optional(),
  /** The provider's name on the portal's button ("Sign in with …"); "Google" for the preset. */
  oidcName: z.string().min(1).max(40).optional(),
  bodyLimitBytes: z.coerce.number().int().positive().default(64 * 1024),
  shutdownGraceMs: z.coerce.number().int().positive().default(10_000),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {}

export function parseConfig(input: ConfigInput, names: Record<string, string> = {}): Config {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const field = i.path.join('.');
      return `  ${names[field] ?? field}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const oidcProblem = oidcConfigProblem(result.data);
  if (oidcProblem) throw new ConfigError(`Invalid configuration:\n  ${oidcProblem}`);
  return { ...result.data, dataDir: path.resolve(result.data.dataDir) };
}

/** The preset issuers, by the short name TESSERA_OIDC_ISSUER accepts for them. */
const OIDC_PRESETS: Record<string, { issuer: string; name: string }> = {
  google: { issuer: 'https://accounts.google.com', name: 'Google' },
};

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  name: string;
}

/** The OpenID Connect provider to sign in with, or null when none is configured. */
export function oidcSettingsOf(config: Config): OidcSettings | null {
  if (!config.oidcIssuer || !config.oidcClientId || !config.oidcClientSecret) return null;
  const preset = OIDC_PRESETS[config.oidcIssuer];
  const issuer = new URL(preset?.issuer ?? config.oidcIssuer);
  return { issuer, clientId: config.oidcClientId, clientSecret: config.oidcClientSecret, name: config.oidcName ?? preset?.name ?? issuer.hostname };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function oidcConfigProblem(config: Config): string | null {
  if (!config.oidcIssuer) return null;
  if (!config.oidcClientId || !config.oidcClientSecret) return 'TESSERA_OIDC_ISSUER needs TESSERA_OIDC_CLIENT_ID and TESSERA_OIDC_CLIENT_SECRET';
  if (OIDC_PRESETS[config.oidcIssuer]) return null;
  if (!URL.canParse(config.oidcIssuer)) return `TESSERA_OIDC_ISSUER: must be ${Object.keys(OIDC_PRESETS).join(', ')} or an issuer URL`;
  const url = new URL(config.oidcIssuer);
  // tokens fetched over plain http could be read or changed on the way; only a local issuer may use it
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return null;
  return 'TESSERA_OIDC_ISSUER: must be an https:// URL (http:// only for localhost)';
}

/** The environment variable behind each config field. */
const ENV_NAMES: Record<keyof ConfigInput, string> = {
  port: 'PORT',
  host: 'HOST',
  dataDir: 'TESSERA_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  secret: 'TESSERA_SECRET',
  publicUrl: 'TESSERA_PUBLIC_URL',
  smtpUrl: 'TESSERA_SMTP_URL',
  mailFrom: 'TESSERA_MAIL_FROM',
  logLevel: 'TESSERA_LOG_LEVEL',
  trustProxy: 'TESSERA_TRUST_PROXY',
  webDir: 'TESSERA_WEB_DIR',
  sessionIdleHours: 'TESSERA_SESSION_IDLE_HOURS',
  sessionMaxDays: 'TESSERA_SESSION_MAX_DAYS',
  sessionCacheSeconds: 'TESSERA_SESSION_CACHE_SECONDS',
  clientAccessTokenSeconds: 'TESSERA_CLIENT_ACCESS_TOKEN_SECONDS',
  clientRefreshTokenDays: 'TESSERA_CLIENT_REFRESH_TOKEN_DAYS',
  clientRefreshGraceSeconds: 'TESSERA_CLIENT_REFRESH_GRACE_SECONDS',
  invitationDays: 'TESSERA_INVITATION_DAYS',
  clientTokenCacheSeconds: 'TESSERA_CLIENT_TOKEN_CACHE_SECONDS',
  presenceTimeoutSeconds: 'TESSERA_PRESENCE_TIMEOUT_SECONDS',
  leaseTtlSeconds: 'TESSERA_LEASE_TTL_SECONDS',
  plansFile: 'TESSERA_PLANS_FILE',
  auditRetentionDays: 'TESSERA_AUDIT_RETENTION_DAYS',
  pgliteSharedBuffers: 'TESSERA_PGLITE_SHARED_BUFFERS',
  housekeepingMinutes: 'TESSERA_HOUSEKEEPING_MINUTES',
  oidcIssuer: 'TESSERA_OIDC_ISSUER',
  oidcClientId: 'TESSERA_OIDC_CLIENT_ID',
  oidcClientSecret: 'TESSERA_OIDC_CLIENT_SECRET',
  oidcName: 'TESSERA_OIDC_NAME',
  bodyLimitBytes: 'TESSERA_BODY_LIMIT_BYTES',
  shutdownGraceMs: 'TESSERA_SHUTDOWN_GRACE_MS',
};

/** Reads the config from environment variables; unset or empty ones fall back to defaults. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const [field, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[field] = value;
  }
  return parseConfig(input as ConfigInput, ENV_NAMES);
}
