import type { FastifyRequest } from 'fastify';
import { AppError } from '../http/errors.ts';
import type { Services } from '../services.ts';
import { ACCESS_KEY_PREFIX, type KeyPrincipal } from './access-keys.ts';
import { hashSecret, isWellFormedSecret } from './secrets.ts';
import type { ThrottleKey, ThrottleRule } from './throttle.ts';

/**
 * Guessing access keys is counted per client address, like every other guessable secret. Only
 * requests whose key is not in this node's cache reach the counter: a key proven a moment ago
 * costs no extra query.
 */
export const ACCESS_KEY_RULE: ThrottleRule = { limit: 30, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 };

/** The token of an `Authorization: Bearer …` header, or undefined when there is none. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  // a malformed Authorization header is still a credential that did not work: refuse it below
  return match ? match[1]! : '';
}

function invalidKey(): AppError {
  return new AppError('unauthenticated', 'The access key is not valid: it is unknown, revoked or expired.', {
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  });
}

/** The access key of a bearer token on /api/v1; a token that is not a valid key answers 401. */
export async function authenticateAccessKey(services: Services, request: FastifyRequest, bearer: string): Promise<KeyPrincipal> {
  const secretHash = hashSecret(bearer);
  const cached = services.accessKeys.cached(secretHash);
  if (cached) return cached;
  // a malformed token (wrong prefix, length or checksum) is refused without a query
  if (!isWellFormedSecret(bearer, ACCESS_KEY_PREFIX)) throw invalidKey();
  const keys: ThrottleKey[] = [{ key: `access-key:address:${request.ip}`, rule: ACCESS_KEY_RULE }];
  await services.throttle.check(keys);
  const principal = await services.accessKeys.load(secretHash);
  if (principal) return principal;
  await services.throttle.fail(keys);
  throw invalidKey();
}
