/**
 * Better Auth as the benchmark's peer (see docs/benchmarks.md, "A peer side by side"): email and
 * password, the organization plugin and the API-key plugin, on PostgreSQL through a `pg` pool
 * (Better Auth wraps it in its Kysely adapter). Only what a comparison with Tessera needs is
 * changed from Better Auth's defaults, each for a reason given below.
 */
import { hash, verify } from '@node-rs/argon2';
import { apiKey } from '@better-auth/api-key';
import { betterAuth } from 'better-auth';
import { organization } from 'better-auth/plugins/organization';
import pg from 'pg';

/** Tessera's own parameters (src/server/auth/passwords.ts): argon2id, 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS = {
  algorithm: 2, // Algorithm.Argon2id (a const enum, which type stripping cannot read)
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** The connections of Tessera's server pool (bench/leases.ts SERVER_POOL_SIZE): the same for the peer. */
export const POOL_SIZE = 10;

export interface PeerSettings {
  databaseUrl: string;
  baseURL: string;
  secret: string;
}

export function settingsFromEnv(): PeerSettings {
  const databaseUrl = process.env.DATABASE_URL;
  const secret = process.env.BETTER_AUTH_SECRET;
  if (!databaseUrl || !secret) throw new Error('DATABASE_URL and BETTER_AUTH_SECRET must be set');
  return { databaseUrl, secret, baseURL: process.env.BETTER_AUTH_URL ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}` };
}

export function createAuth(settings: PeerSettings) {
  const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: POOL_SIZE });
  const auth = betterAuth({
    baseURL: settings.baseURL,
    secret: settings.secret,
    database: pool,
    emailAndPassword: {
      enabled: true,
      // the same hash as Tessera's, from the same library, so a sign-in costs both the same hash
      // (Better Auth's default is scrypt with its own parameters)
      password: {
        hash: (password) => hash(password, ARGON2_OPTIONS),
        verify: ({ hash: stored, password }) => verify(stored, password),
      },
    },
    // Better Auth's own limiter (on in production: 3 sign-ins per 10 s an address) would refuse
    // the load; Tessera's sign-in throttle counts failures only, which the load has none of
    rateLimit: { enabled: false },
    // no calls out of the machine
    telemetry: { enabled: false },
    // session.cookieCache stays off (the default): it would answer a revoked session for up to
    // its maxAge, where Tessera drops a revoked session from every node's cache at once
    plugins: [
      organization(),
      // enableSessionForAPIKeys: a request carrying `x-api-key` is authenticated by the key (the
      // HTTP counterpart of the server-only auth.api.verifyApiKey); the per-key rate limit
      // (default 10 requests a day) is off, as Tessera has none on access keys
      apiKey({ enableSessionForAPIKeys: true, rateLimit: { enabled: false } }),
    ],
  });
  return { auth, pool };
}
