import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { timingSafeEqual } from 'node:crypto';
import * as openid from 'openid-client';
import { uuidv7 } from 'uuidv7';
import { z } from 'zod';
import { CompanyName, Country, Id, PersonName } from '../../shared/contracts.ts';
import { LinkedIdentities, OidcProviderInfo, type OidcErrorCode } from '../../shared/oidc.ts';
import { oidcSettingsOf, type OidcSettings } from '../config.ts';
import type { Tx } from '../db/database.ts';
import { insertAccountWithOwner } from '../domain/accounts/accounts.ts';
import { recordUserChange, type ChangeContext } from '../domain/audit/record.ts';
import { hasTwoFactor } from '../domain/users/two-factor.ts';
import { findUserByEmail, findUserById, insertUser, type UserRow } from '../domain/users/users.ts';
import { changeContext } from '../http/context.ts';
import { conflict, notFound } from '../http/errors.ts';
import type { Services } from '../services.ts';
import { requireUser } from './access.ts';
import { clearSessionCookie, COOKIE_FLAGS, PENDING_SIGN_IN_MS, setPendingSignInCookie } from './cookies.ts';
import { startPortalSession } from './routes.ts';
import { toUser } from './sessions.ts';

/**
 * Sign-in with an OpenID Connect provider (Google by default): authorization code with PKCE, state
 * and nonce, the ID token checked by openid-client. See docs/oidc.md for the flow and linking rules.
 */

const OIDC_PATH = '/api/v1/auth/oidc';
export const CALLBACK_PATH = `${OIDC_PATH}/callback`;

/** The browser's half of a started sign-in: what the answer must match, and the PKCE verifier. */
const FLOW_COOKIE = 'tessera_oidc_flow';
/** Long enough to type a password at the provider, short enough that a forgotten tab expires. */
const FLOW_MS = 10 * 60_000;
/** A verified email matched a person who has not linked the identity yet: linked at their next password sign-in. */
const LINK_PENDING_COOKIE = 'tessera_oidc_link_pending';

const FlowState = z.object({
  state: z.string(),
  nonce: z.string(),
  verifier: z.string(),
  /** Set when a signed-in person links the identity from their profile. */
  linkUserId: z.string().nullable(),
  expiresAt: z.number(),
});
type FlowState = z.infer<typeof FlowState>;

const PendingLink = z.object({ userId: z.string(), issuer: z.string(), subject: z.string(), email: z.string(), expiresAt: z.number() });
type PendingLink = z.infer<typeof PendingLink>;

/** The account a person registered through the provider starts with, when the token names no country. */
const FALLBACK_COUNTRY = 'US';

function sealCookie(reply: FastifyReply, name: string, value: object, maxAgeMs: number, path: string): void {
  const encoded = Buffer.from(JSON.stringify(value)).toString('base64url');
  reply.setCookie(name, encoded, { ...COOKIE_FLAGS, path, signed: true, maxAge: Math.floor(maxAgeMs / 1000) });
}

/** A cookie we signed, parsed by its schema; null when absent, forged, malformed or expired. */
function openCookie<T extends { expiresAt: number }>(request: FastifyRequest, name: string, schema: z.ZodType<T>, now: Date): T | null {
  const raw = request.cookies[name];
  if (!raw) return null;
  const unsigned = request.unsignCookie(raw);
  if (!unsigned.valid || unsigned.value === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString());
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  return parsed.success && parsed.data.expiresAt > now.getTime() ? parsed.data : null;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** A refusal that ends the flow on a portal page with a message the portal knows. */
class OidcRefusal extends Error {
  readonly code: OidcErrorCode;
  constructor(code: OidcErrorCode) {
    super(code);
    this.code = code;
  }
}

/** Which of our refusals an openid-client error is. */
function refusalOf(error: unknown): OidcRefusal {
  if (error instanceof OidcRefusal) return error;
  if (error instanceof openid.AuthorizationResponseError) return new OidcRefusal('provider_denied');
  // the token endpoint refused the code: used already (a replay), expired, or not ours
  if (error instanceof openid.ResponseBodyError) return new OidcRefusal('code_rejected');
  if (error instanceof openid.ClientError) {
    // openid-client wraps oauth4webapi's error, whose cause names the claim that did not match
    const claim = (error.cause as { cause?: { claim?: string } } | undefined)?.cause?.claim;
    if (error.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && claim === 'nonce') return new OidcRefusal('nonce_mismatch');
    return new OidcRefusal('token_invalid');
  }
  // fetch failures (TypeError), timeouts: the provider could not be reached
  return new OidcRefusal('provider_unavailable');
}

function toLinkedIdentity(row: { id: string; issuer: string; email: string; linked_at: Date }) {
  return { id: row.id, issuer: row.issuer, email: row.email, linkedAt: row.linked_at.toISOString() };
}

async function insertIdentity(tx: Tx, context: ChangeContext, userId: string, identity: { issuer: string; subject: string; email: string }): Promise<boolean> {
  // (issuer, subject) is unique: when someone else holds the identity nothing is inserted
  const inserted = await tx
    .insertInto('linked_identities')
    .values({ id: uuidv7(), user_id: userId, ...identity, linked_at: context.now })
    .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) await recordUserChange(tx, context, { userId, action: 'user.identity_linked', after: { issuer: identity.issuer, email: identity.email } });
  return inserted !== undefined;
}

/**
 * Called by the password sign-in (and its second step) in the sign-in's transaction: an identity
 * waiting for this person's password is linked now. The cookie is cleared either way once read.
 */
export async function linkPendingIdentity(tx: Tx, request: FastifyRequest, reply: FastifyReply, context: ChangeContext, userId: string): Promise<void> {
  if (!request.cookies[LINK_PENDING_COOKIE]) return;
  const pending = openCookie<PendingLink>(request, LINK_PENDING_COOKIE, PendingLink, context.now);
  reply.clearCookie(LINK_PENDING_COOKIE, COOKIE_FLAGS);
  if (!pending || pending.userId !== userId) return;
  await insertIdentity(tx, context, userId, { issuer: pending.issuer, subject: pending.subject, email: pending.email });
}

/** A country for a new person's first account: the token's locale (en-GB → GB), else the browser's, else the fallback. */
function countryOf(locale: unknown, acceptLanguage: string | undefined): string {
  for (const tag of [typeof locale === 'string' ? locale : '', ...(acceptLanguage ?? '').split(',')]) {
    const region = tag.split(';')[0]!.trim().split(/[-_]/)[1];
    if (region && Country.safeParse(region).success) return region.toUpperCase();
  }
  return FALLBACK_COUNTRY;
}

/** A name that passes our rules, from the token's name, else the email's local part. */
function personNameOf(name: unknown, email: string): string {
  const candidate = typeof name === 'string' ? name.trim().slice(0, 100) : '';
  return PersonName.safeParse(candidate).success ? candidate : email.split('@')[0]!.slice(0, 100);
}

const redirectOnly = { 302: z.null().describe('A redirect (Location header)') };

export const oidcRoutes: FastifyPluginAsyncZod = async (app) => {
  const services: Services = app.services;
  const { database, sessions, clock } = services;
  const settings = oidcSettingsOf(services.config);
  const redirectUri = `${services.publicUrl}${CALLBACK_PATH}`;

  /** The provider's metadata, fetched once; a failure is not kept, so the next sign-in tries again. */
  let configuration: Promise<openid.Configuration> | null = null;
  function providerConfiguration(provider: OidcSettings): Promise<openid.Configuration> {
    configuration ??= openid
      .discovery(provider.issuer, provider.clientId, provider.clientSecret, undefined, {
        // config.ts allows plain http only for a loopback issuer (tests, development)
        execute: provider.issuer.protocol === 'http:' ? [openid.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        configuration = null;
        throw error;
      });
    return configuration;
  }

  function requireProvider(): OidcSettings {
    if (!settings) throw notFound('Sign-in with an OpenID Connect provider');
    return settings;
  }

  app.get('/auth/oidc', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'getOidcProvider',
      summary: 'Whether sign-in with an OpenID Connect provider is configured, and the name the portal shows on its button',
      response: { 200: OidcProviderInfo },
    },
  }, async () => ({ enabled: settings !== null, name: settings?.name ?? null }));

  app.get('/auth/oidc/start', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'startOidcSignIn',
      summary: 'Open in the browser: redirects to the provider (authorization code, PKCE S256, state, nonce). With link=1, links the identity to the signed-in person instead',
      querystring: z.strictObject({ link: z.enum(['1']).optional().describe('Link to the signed-in person instead of signing in') }),
      response: redirectOnly,
    },
  }, async (request, reply) => {
    const provider = requireProvider();
    // a link asked for by a browser whose session ended: sign in first, then back to the profile
    if (request.query.link && !request.principal) return reply.redirect(`/sign-in?next=${encodeURIComponent('/security')}`, 302);
    const linkUserId = request.query.link ? requireUser(request).user.id : null;
    let metadata: openid.Configuration;
    try {
      metadata = await providerConfiguration(provider);
    } catch (err) {
      request.log.warn({ err }, 'OpenID Connect discovery failed');
      return reply.redirect(`${linkUserId ? '/security' : '/sign-in'}?error=provider_unavailable`, 302);
    }
    const flow: FlowState = {
      state: openid.randomState(),
      nonce: openid.randomNonce(),
      verifier: openid.randomPKCECodeVerifier(),
      linkUserId,
      expiresAt: clock.now().getTime() + FLOW_MS,
    };
    const url = openid.buildAuthorizationUrl(metadata, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await openid.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    // SameSite=Lax (COOKIE_FLAGS): the provider's redirect back is a top-level GET, which Lax lets through
    sealCookie(reply, FLOW_COOKIE, flow, FLOW_MS, OIDC_PATH);
    return reply.redirect(url.href, 302);
  });

  app.get('/auth/oidc/callback', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'completeOidcSignIn',
      summary: "The provider's redirect back: checks state, nonce, PKCE and the ID token, then signs in, registers, or links; errors redirect to /sign-in?error=<code>",
      querystring: z.looseObject({
        code: z.string().max(2048).optional(),
        state: z.string().max(512).optional(),
        error: z.string().max(256).optional(),
      }),
      response: redirectOnly,
    },
  }, async (request, reply) => {
    const provider = requireProvider();
    const context = changeContext(request, clock);
    const flow = openCookie<FlowState>(request, FLOW_COOKIE, FlowState, context.now);
    // one answer per started flow: a second callback in this browser finds no flow
    reply.clearCookie(FLOW_COOKIE, { ...COOKIE_FLAGS, path: OIDC_PATH });
    const errorPage = flow?.linkUserId ? '/security' : '/sign-in';
    try {
      const target = await completeFlow(request, reply, provider, flow, context);
      return reply.redirect(target, 302);
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal.code === 'provider_unavailable' || refusal.code === 'token_invalid') request.log.warn({ err: error }, 'OpenID Connect sign-in failed');
      return reply.redirect(`${errorPage}?error=${refusal.code}`, 302);
    }
  });

  /** Checks the answer and acts on it; answers the portal page to land on. */
  async function completeFlow(request: FastifyRequest, reply: FastifyReply, provider: OidcSettings, flow: FlowState | null, context: ChangeContext): Promise<string> {
    const query = request.query as { state?: string };
    // checked before the code goes anywhere: a forged or foreign answer never reaches the provider
    if (!flow || !query.state || !sameSecret(query.state, flow.state)) throw new OidcRefusal('state_mismatch');
    const metadata = await providerConfiguration(provider);
    const tokens = await openid.authorizationCodeGrant(metadata, new URL(request.url, services.publicUrl), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    // Google puts the email in the ID token; a provider that keeps it for the userinfo endpoint
    // (as OpenID Connect Core 5.4 has it) is asked there, for the same subject
    const profile: Record<string, unknown> = typeof claims.email === 'string' ? claims : await openid.fetchUserInfo(metadata, tokens.access_token, claims.sub);
    if (typeof profile.email !== 'string' || profile.email === '') throw new OidcRefusal('email_missing');
    if (profile.email_verified !== true) throw new OidcRefusal('email_unverified');
    const identity = { issuer: claims.iss, subject: claims.sub, email: profile.email };

    if (flow.linkUserId) {
      const principal = request.principal;
      // the person who started the link must still be the one signed in
      if (principal?.user.id !== flow.linkUserId) throw new OidcRefusal('state_mismatch');
      await database.inSystem(async (tx) => {
        const holder = await findIdentity(tx, identity.issuer, identity.subject);
        if (holder && holder.user_id !== principal.user.id) throw new OidcRefusal('already_linked');
        if (!holder) await insertIdentity(tx, { ...context, actor: { type: 'user', id: principal.user.id } }, principal.user.id, identity);
      });
      return '/security?linked=1';
    }

    const linked = await findIdentity(database.db, identity.issuer, identity.subject);
    if (linked) {
      const user = await findUserById(database.db, linked.user_id);
      if (!user) throw new OidcRefusal('token_invalid');
      return signIn(request, reply, user, identity.issuer, context);
    }
    const existing = await findUserByEmail(database.db, identity.email);
    if (existing) {
      // a provider vouching for an email is not enough to take over an account: its password first
      sealCookie(reply, LINK_PENDING_COOKIE, { userId: existing.id, ...identity, expiresAt: context.now.getTime() + PENDING_SIGN_IN_MS } satisfies PendingLink, PENDING_SIGN_IN_MS, '/');
      return '/sign-in?error=link_password_required';
    }
    return register(request, reply, identity, profile, context);
  }

  function findIdentity(tx: Tx | typeof database.db, issuer: string, subject: string) {
    return tx.selectFrom('linked_identities').selectAll().where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
  }

  /** As a password sign-in: a new session id, the browser's earlier session ended, and the second factor when the person has one. */
  async function signIn(request: FastifyRequest, reply: FastifyReply, user: UserRow, issuer: string, context: ChangeContext): Promise<string> {
    const previous = request.principal;
    const userContext = { ...context, actor: { type: 'user' as const, id: user.id } };
    if (await hasTwoFactor(database.db, user.id)) {
      if (previous) {
        await database.inSystem((tx) => sessions.revoke(tx, previous.sessionKey));
        await sessions.forgetEverywhere({ session: previous.sessionKey });
        clearSessionCookie(reply);
      }
      setPendingSignInCookie(reply, user, new Date(context.now.getTime() + PENDING_SIGN_IN_MS));
      return '/sign-in?step=two-factor';
    }
    await database.inSystem(async (tx) => {
      if (previous) await sessions.revoke(tx, previous.sessionKey);
      await recordUserChange(tx, userContext, { userId: user.id, action: 'user.signed_in', after: { method: 'oidc', issuer } });
      await startPortalSession(services, request, reply, tx, user.id);
    });
    if (previous) await sessions.forgetEverywhere({ session: previous.sessionKey });
    return '/';
  }

  /** Nobody has this email: the person, their first account (they own it) and the identity, then a session. */
  async function register(request: FastifyRequest, reply: FastifyReply, identity: { issuer: string; subject: string; email: string }, claims: Record<string, unknown>, context: ChangeContext): Promise<string> {
    const name = personNameOf(claims.name, identity.email);
    const companyName = CompanyName.parse(`${name}'s company`.slice(0, 160));
    const country = countryOf(claims.locale, request.headers['accept-language']);
    await database
      .inSystem(async (tx) => {
        // no password: the provider signs the person in; "Forgot password" can set one later
        const user = await insertUser(tx, { name, email: identity.email, passwordHash: null, emailVerifiedAt: context.now }, context.now);
        const userContext = { ...context, actor: { type: 'user' as const, id: user.id } };
        const account = await insertAccountWithOwner(tx, userContext, user.id, { companyName, country, planId: services.plans.defaultId });
        await recordUserChange(tx, userContext, { userId: user.id, action: 'user.registered', after: { ...toUser(user), method: 'oidc', accountId: account.id } });
        await insertIdentity(tx, userContext, user.id, identity);
        await recordUserChange(tx, userContext, { userId: user.id, action: 'user.signed_in', after: { method: 'oidc', issuer: identity.issuer } });
        await startPortalSession(services, request, reply, tx, user.id);
      })
      .catch((error: unknown) => {
        // the same email registered a moment ago (the unique index decided), or a refused value
        request.log.warn({ err: error }, 'registration through OpenID Connect failed');
        throw new OidcRefusal('registration_failed');
      });
    return '/';
  }

  app.get('/me/identities', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'listLinkedIdentities',
      summary: 'The OpenID Connect identities the signed-in person can sign in with',
      response: { 200: LinkedIdentities },
    },
  }, async (request) => {
    const principal = requireUser(request);
    const [rows, user] = await Promise.all([
      database.db.selectFrom('linked_identities').selectAll().where('user_id', '=', principal.user.id).orderBy('linked_at').execute(),
      findUserById(database.db, principal.user.id),
    ]);
    return { items: rows.map(toLinkedIdentity), hasPassword: Boolean(user?.password_hash) };
  });

  app.delete('/me/identities/:identityId', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'unlinkIdentity',
      summary: 'Unlink an identity; refused (409) when it is the only way left to sign in (no password)',
      params: z.object({ identityId: Id }),
      response: { 204: z.null().describe('Unlinked') },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    await database.inSystem(async (tx) => {
      // the person's row locked: two unlinks at once cannot both take the last two ways in
      const user = await tx.selectFrom('users').select(['id', 'password_hash']).where('id', '=', principal.user.id).forUpdate().executeTakeFirstOrThrow();
      const identities = await tx.selectFrom('linked_identities').selectAll().where('user_id', '=', user.id).execute();
      const identity = identities.find((row) => row.id === request.params.identityId);
      if (!identity) throw notFound('The linked identity');
      if (!user.password_hash && identities.length === 1) {
        throw conflict('This is your only way to sign in. Set a password first ("Forgot password" on the sign-in page), then unlink it.');
      }
      await tx.deleteFrom('linked_identities').where('id', '=', identity.id).execute();
      await recordUserChange(tx, context, { userId: user.id, action: 'user.identity_unlinked', before: { issuer: identity.issuer, email: identity.email } });
    });
    return reply.code(204).send(null);
  });
};
