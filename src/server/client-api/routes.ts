import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ClientMe, Enrolled, EnrollBody, OAuthError, RevokeRequest, TokenRequest, TokenResponse, LOGIN_TOKEN_GRANT } from '../../shared/client-api.ts';
import { enroll } from './enroll.ts';
import { SIGN_IN_RULES, type ThrottleKey } from '../auth/throttle.ts';
import { changeContext } from '../http/context.ts';
import { AppError } from '../http/errors.ts';
import { clientDevices, closeOwnLease, openLease, renewLease } from '../domain/connections/leases.ts';
import { ClientDevicePage, LeaseParams, Lease, OpenConnectionBody } from '../../shared/connections.ts';
import { PageQuery } from '../../shared/organizations.ts';
import { exchangeLoginToken, exchangePassword, OAuthFailure, refreshPair, revokeToken } from './grants.ts';
import type { ClientPrincipal } from './sessions.ts';
import { UsageSnapshots } from '../domain/connections/usage.ts';
import { HeartbeatAnswer, HeartbeatBody, PRESENCE_STREAM_DESCRIPTION, PresenceList } from '../../shared/presence.ts';
import { presenceList, servePresenceStream } from '../domain/presence/routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    client: ClientPrincipal | null;
  }
}

/** Guessing login and refresh tokens is counted per client address. */
export const CLIENT_TOKEN_RULE = { limit: 30, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 };

const GRANTS = new Set([LOGIN_TOKEN_GRANT, 'password', 'refresh_token']);

function sendOAuthError(reply: FastifyReply, failure: OAuthFailure) {
  return reply
    .code(failure.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...failure.headers })
    .type('application/json')
    .serializer(JSON.stringify)
    .send({ error: failure.error, error_description: failure.message });
}

/** The bearer access token of a client request, or a 401 problem naming the reason. */
export function requireClient(request: FastifyRequest): ClientPrincipal {
  if (!request.client) {
    throw new AppError('unauthenticated', 'Send a valid access token: Authorization: Bearer <access_token>.', {
      headers: { 'www-authenticate': 'Bearer realm="tessera", error="invalid_token"' },
    });
  }
  return request.client;
}

/** The desktop client's API: OAuth 2.0 token endpoint, revocation, and what the client reads. */
export const clientRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, throttle, clientSessions, sealer, plans } = app.services;
  const usage = new UsageSnapshots(database, clock);

  // RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded, each parameter once.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8 * 1024 }, (_request, body, done) => {
    const params = new URLSearchParams(body as string);
    const form: Record<string, string> = {};
    for (const [key, value] of params) {
      if (key in form) return done(new OAuthFailure('invalid_request', `The parameter ${key} is repeated.`), undefined);
      form[key] = value;
    }
    done(null, form);
  });

  // Each route takes one content type: the OAuth endpoints the form (RFC 6749), every other body
  // JSON. Both parsers are registered here, so the route says which one it answers to.
  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.schema?.body) return;
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const url = request.routeOptions.url ?? '';
    const oauth = url.endsWith('/token') || url.endsWith('/revoke');
    if (oauth && type !== 'application/x-www-form-urlencoded') {
      throw new OAuthFailure('invalid_request', 'Send the parameters as application/x-www-form-urlencoded.');
    }
    if (!oauth && type !== 'application/json') throw new AppError('unsupported_media_type', 'This endpoint takes application/json.');
  });

  app.decorateRequest('client', null);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) request.client = await clientSessions.resolve(header.slice(7).trim());
  });

  // OAuth errors keep their own format; anything else falls through to the problem handler.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof OAuthFailure) return sendOAuthError(reply, error);
    if (request.url.startsWith('/client/v1/token') || request.url.startsWith('/client/v1/revoke')) {
      if (error instanceof AppError && error.code === 'rate_limited') {
        return sendOAuthError(reply, new OAuthFailure('too_many_requests', error.message, 429, error.headers));
      }
      if (error instanceof AppError && error.status < 500) {
        return sendOAuthError(reply, new OAuthFailure('invalid_request', error.message, error.status === 413 ? 413 : 400));
      }
      const status = (error as { statusCode?: number }).statusCode;
      if (status && status >= 400 && status < 500) {
        return sendOAuthError(reply, new OAuthFailure('invalid_request', 'The request must be application/x-www-form-urlencoded with valid parameters.', status === 413 ? 413 : 400));
      }
    }
    throw error;
  });

  app.post('/token', {
    attachValidation: true,
    schema: {
      tags: ['Desktop client'],
      operationId: 'clientToken',
      summary: 'OAuth 2.0 token endpoint: a login token, member credentials or a refresh token for a token pair',
      description: `Grant types: \`${LOGIN_TOKEN_GRANT}\` (with \`login_token\`), \`password\` (member credentials: \`username\` is the email), \`refresh_token\`.`,
      consumes: ['application/x-www-form-urlencoded'],
      body: TokenRequest,
      response: { 200: TokenResponse, 400: OAuthError, 429: OAuthError },
      security: [],
    },
  }, async (request, reply) => {
    const raw = (request.body ?? {}) as Record<string, unknown>;
    if (request.validationError) {
      const grant = typeof raw.grant_type === 'string' ? raw.grant_type : undefined;
      if (grant && !GRANTS.has(grant)) throw new OAuthFailure('unsupported_grant_type', `The grant type ${grant} is not supported.`);
      throw new OAuthFailure('invalid_request', 'A required parameter is missing or malformed.');
    }
    const body = request.body;
    const keys: ThrottleKey[] = [{ key: `client:address:${request.ip}`, rule: CLIENT_TOKEN_RULE }];
    if (body.grant_type === 'password') keys.push({ key: `client:email:${body.username.toLowerCase()}`, rule: SIGN_IN_RULES.email });
    await throttle.check(keys);
    const context = changeContext(request, clock);
    const client = { address: request.ip, userAgent: request.headers['user-agent'] ?? null };
    try {
      const tokens =
        body.grant_type === LOGIN_TOKEN_GRANT
          ? await exchangeLoginToken(database, clientSessions, context, body.login_token, client)
          : body.grant_type === 'password'
            ? await exchangePassword(database, clientSessions, context, body.username, body.password, client)
            : await refreshPair(database, clientSessions, context, body.refresh_token);
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      return tokens;
    } catch (error) {
      if (error instanceof OAuthFailure && error.error === 'invalid_grant') await throttle.fail(keys);
      throw error;
    }
  });

  app.post('/enroll', {
    schema: {
      tags: ['Desktop client'],
      operationId: 'clientEnroll',
      summary: "Enroll this PC: an owner's or manager's email and password create a team member, its first login token and a token pair",
      description: 'Throttled like portal sign-in. A wrong password and a person who may not add members (a viewer, or someone outside the account) get the same 401.',
      body: EnrollBody,
      response: { 201: Enrolled },
      security: [],
    },
  }, async (request, reply) => {
    const body = request.body;
    const keys: ThrottleKey[] = [
      { key: `sign-in:email:${body.email.toLowerCase()}`, rule: SIGN_IN_RULES.email },
      { key: `sign-in:address:${request.ip}`, rule: SIGN_IN_RULES.address },
    ];
    const counted = await throttle.check(keys);
    const client = { address: request.ip, userAgent: request.headers['user-agent'] ?? null };
    try {
      const { accountId, enrolled } = await enroll(database, sealer, plans, clientSessions, changeContext(request, clock), body, client);
      if (counted.has(keys[0]!.key)) await throttle.clear(keys[0]!.key);
      void app.services.notifier.notify(accountId, { kind: 'member_added', memberName: enrolled.member.name, by: `A desktop installer signed in as ${body.email}` });
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      return reply.code(201).send(enrolled);
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_credentials') await throttle.fail(keys);
      throw error;
    }
  });

  app.post('/revoke', {
    attachValidation: true,
    schema: {
      tags: ['Desktop client'],
      operationId: 'clientRevoke',
      summary: 'RFC 7009 revocation: ends the desktop session of an access or refresh token',
      consumes: ['application/x-www-form-urlencoded'],
      body: RevokeRequest,
      response: { 200: z.object({}).describe('Revoked, or the token was unknown'), 400: OAuthError },
      security: [],
    },
  }, async (request, reply) => {
    if (request.validationError) throw new OAuthFailure('invalid_request', 'The token parameter is required.');
    await revokeToken(database, clientSessions, changeContext(request, clock), request.body.token);
    reply.header('cache-control', 'no-store');
    return {};
  });

  app.get('/me', {
    schema: {
      tags: ['Desktop client'],
      operationId: 'clientMe',
      summary: 'The member this client is signed in as, its account, and its connection limits',
      response: { 200: ClientMe },
      security: [{ clientAccessToken: [] }],
    },
  }, async (request) => {
    const principal = requireClient(request);
    const inUse = await usage.get(principal);
    return {
      member: { id: principal.memberId, name: principal.memberName, connectionLimit: principal.connectionLimit },
      account: { id: principal.accountId, companyName: principal.companyName },
      connections: {
        memberInUse: inUse.member,
        memberLimit: principal.connectionLimit,
        accountInUse: inUse.account,
        accountAllowance: plans.of(principal.planId).connectionAllowance,
      },
      session: { id: principal.sessionId, grant: principal.grant, createdAt: principal.sessionCreatedAt.toISOString() },
    };
  });

  const leaseTtlMs = app.services.config.leaseTtlSeconds * 1000;
  const connectionTags = ['Desktop client'];
  const clientSecurity = [{ clientAccessToken: [] }];

  app.get('/devices', {
    schema: {
      tags: connectionTags,
      operationId: 'clientListDevices',
      summary: 'Devices this member may connect to, a keyset page at a time, with whether each is free',
      querystring: PageQuery,
      response: { 200: ClientDevicePage },
      security: clientSecurity,
    },
  }, async (request) => clientDevices(database, requireClient(request), request.query, clock.now()));

  app.post('/connections', {
    schema: {
      tags: connectionTags,
      operationId: 'clientOpenConnection',
      summary: "Open a connection to a device: counts against the member's limit and the account allowance; 409 names the limit hit",
      body: OpenConnectionBody,
      response: { 201: Lease },
      security: clientSecurity,
    },
  }, async (request, reply) => {
    const principal = requireClient(request);
    const allowance = plans.of(principal.planId).connectionAllowance;
    const lease = await openLease(database, principal, allowance, request.body.deviceId, clock.now(), leaseTtlMs).catch((error: unknown) => {
      // a desktop refused for want of the account's allowance: owners hear of it (once a day)
      if (error instanceof AppError && error.extensions.limit === 'account') void app.services.notifier.notify(principal.accountId, { kind: 'allowance_reached', allowance });
      throw error;
    });
    return reply.code(201).send(lease);
  });

  app.post('/connections/:leaseId/renew', {
    schema: {
      tags: connectionTags,
      operationId: 'clientRenewConnection',
      summary: 'Keep a connection open for another lease period',
      params: LeaseParams,
      response: { 200: Lease },
      security: clientSecurity,
    },
  }, async (request) => renewLease(database, requireClient(request), request.params.leaseId, clock.now(), leaseTtlMs));

  app.delete('/connections/:leaseId', {
    schema: {
      tags: connectionTags,
      operationId: 'clientCloseConnection',
      summary: 'Close a connection and free its slot',
      params: LeaseParams,
      response: { 204: z.null().describe('Closed') },
      security: clientSecurity,
    },
  }, async (request, reply) => {
    await closeOwnLease(database, requireClient(request), request.params.leaseId, clock.now());
    return reply.code(204).send(null);
  });

  // Presence: heartbeats, and the teammates' presence as a list or a stream
  const { presence } = app.services;

  app.post('/presence', {
    schema: {
      tags: connectionTags,
      operationId: 'clientHeartbeat',
      summary: 'Say this member is online or away (a heartbeat), or going offline; the answer says how often to repeat it',
      body: HeartbeatBody,
      response: { 200: HeartbeatAnswer },
      security: clientSecurity,
    },
  }, async (request) => {
    const principal = requireClient(request);
    await presence.recorder.heartbeat(principal, request.body.state, clock.now());
    return { state: request.body.state, heartbeatSeconds: presence.policy.heartbeatSeconds, timeoutSeconds: presence.policy.timeoutSeconds };
  });

  app.get('/presence', {
    schema: {
      tags: connectionTags,
      operationId: 'clientListPresence',
      summary: "The presence of this member's teammates (every team member of the account)",
      response: { 200: PresenceList },
      security: clientSecurity,
    },
  }, (request) => presenceList(app.services, requireClient(request).accountId));

  app.get('/presence/stream', {
    schema: {
      tags: connectionTags,
      operationId: 'clientStreamPresence',
      summary: "The teammates' presence as it changes (Server-Sent Events)",
      description: PRESENCE_STREAM_DESCRIPTION,
      response: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } } },
      security: clientSecurity,
    },
  }, (request, reply) => servePresenceStream(app.services, reply, requireClient(request).accountId));
};
