import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import scalar from '@scalar/fastify-api-reference';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { ProblemDocument } from '../shared/contracts.ts';
import { registerAuthorization, type AccessRule } from './auth/access.ts';
import { authRoutes } from './auth/routes.ts';
import { oidcRoutes } from './auth/oidc.ts';
import { COOKIE_FLAGS, CSRF_COOKIE, SESSION_COOKIE } from './auth/cookies.ts';
import { SessionStore, type PortalPrincipal } from './auth/sessions.ts';
import { AccessKeyStore } from './auth/access-keys.ts';
import { authenticateAccessKey, bearerOf } from './auth/key-authentication.ts';
import { Throttle } from './auth/throttle.ts';
import { relyingPartyOf, WebAuthnCeremonies } from './auth/webauthn.ts';
import { passkeySignInRoutes } from './auth/passkey-sign-in.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { accountRoutes } from './domain/accounts/routes.ts';
import { memberRoutes } from './domain/members/routes.ts';
import { organizationRoutes } from './domain/organizations/routes.ts';
import { deviceRoutes } from './domain/devices/routes.ts';
import { connectionRoutes } from './domain/connections/routes.ts';
import { accessRoutes } from './domain/access/routes.ts';
import { accessKeyRoutes } from './domain/access-keys/routes.ts';
import { presenceRoutes } from './domain/presence/routes.ts';
import { auditRoutes } from './domain/audit/routes.ts';
import { securityRoutes } from './domain/users/security-routes.ts';
import { passkeyRoutes } from './domain/users/passkey-routes.ts';
import { loadPlanCatalog } from './domain/plans/catalog.ts';
import { billingRoutes } from './domain/billing/routes.ts';
import { recordingProvider, type PaymentProvider } from './domain/billing/provider.ts';
import { OwnerNotifier } from './domain/notifications/owner-mail.ts';
import { PresenceHub } from './domain/presence/hub.ts';
import { presencePolicy, PresenceRecorder } from './domain/presence/presence.ts';
import { EventStreams } from './http/event-stream.ts';
import { clientRoutes } from './client-api/routes.ts';
import { ClientSessionStore } from './client-api/sessions.ts';
import { createSealer } from './auth/sealing.ts';
import { healthRoutes } from './http/health.ts';
import { registerProblemHandlers, sendProblem } from './http/problem-handler.ts';
import { registerTextGuard } from './http/text-guard.ts';
import { problemTypeRoutes } from './http/problem-types.ts';
import { API_REFERENCE_HEADERS, HSTS, SECURITY_HEADERS } from './http/security-headers.ts';
import { createMailer, type Mailer } from './mail/mailer.ts';
import type { Services } from './services.ts';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Every route as registered (method, url, and its body schema): what the OpenAPI and authorization tests walk. */
    registeredRoutes: RegisteredRoute[];
  }
  interface FastifyRequest {
    principal: PortalPrincipal | null;
  }
}

export interface RegisteredRoute {
  method: string;
  url: string;
  /** The zod schema the route validates its body with, if it takes one. */
  body: ZodType | undefined;
}

export interface AppOptions {
  config: Config;
  database: Database;
  /** Key material (see auth/server-secret.ts). */
  secret: Buffer;
  clock?: Clock;
  mailer?: Mailer;
  /** The payment provider adapter; the recording one (docs/billing.md) when absent. */
  paymentProvider?: PaymentProvider;
  logger?: FastifyServerOptions['logger'];
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const API_PREFIX = '/api/v1';

function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id'];
  // accept a caller's id only when it cannot garble the logs
  return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Who may call a /api/v1 operation, as the OpenAPI document says it: a session, and an access key unless the rule is for people only. */
function securityOf(rule: AccessRule | undefined): Array<Record<string, string[]>> {
  const session = { portalSession: [], csrfToken: [] };
  if (!rule || rule.scope === 'public') return [];
  if (rule.scope === 'signedIn' || (rule.scope === 'account' && rule.people)) return [session];
  return [session, { accessKey: [] }];
}

function deriveKey(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(purpose).digest();
}

/**
 * Builds the whole HTTP application from one validated config. The server, the CLI, the tests
 * and the benchmarks use this same builder; only `main.ts` listens on a port.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, database } = options;
  const clock = options.clock ?? systemClock;
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    genReqId: requestId,
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    // errors the router raises before any route (a broken %-escape, an over-long path
    // parameter) get problem documents too, not Fastify's own JSON
    frameworkErrors: (error, request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendProblem(request, reply, 'not_found', 'No such resource: a path parameter is longer than any id.');
      return sendProblem(request, reply, 'malformed_request', 'The address could not be read (a broken %-escape?).');
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerTextGuard(app);
  // JSON only: a text/plain body is refused with 415 rather than validated as a string
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  const sessions = new SessionStore(database, clock, {
    idleMs: config.sessionIdleHours * 3600_000,
    maxAgeMs: config.sessionMaxDays * 86_400_000,
    cacheMs: config.sessionCacheSeconds * 1000,
  });
  const clientSessions = new ClientSessionStore(database, clock, {
    accessTtlMs: config.clientAccessTokenSeconds * 1000,
    refreshTtlMs: config.clientRefreshTokenDays * 86_400_000,
    reuseGraceMs: config.clientRefreshGraceSeconds * 1000,
    cacheMs: config.clientTokenCacheSeconds * 1000,
  });
  const accessKeys = new AccessKeyStore(database, clock, config.sessionCacheSeconds * 1000);
  const presencePolicyOfConfig = presencePolicy(config);
  const presence = { policy: presencePolicyOfConfig, recorder: new PresenceRecorder(database, presencePolicyOfConfig), hub: new PresenceHub(database, clock, presencePolicyOfConfig) };
  const eventStreams = new EventStreams();
  await sessions.start();
  await clientSessions.start();
  await accessKeys.start();
  await presence.hub.start();
  const mailer = options.mailer ?? createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, log: app.log });
  const publicUrl = (config.publicUrl ?? `http://localhost:${config.port}`).replace(/\/$/, '');
  const services: Services = {
    config,
    database,
    clock,
    sessions,
    clientSessions,
    accessKeys,
    sealer: createSealer(options.secret),
    throttle: new Throttle(database, clock),
    webauthn: new WebAuthnCeremonies(database, clock, relyingPartyOf(publicUrl), deriveKey(options.secret, 'webauthn-challenge')),
    presence,
    eventStreams,
    mailer,
    plans: loadPlanCatalog(config.plansFile),
    paymentProvider: options.paymentProvider ?? recordingProvider,
    notifier: new OwnerNotifier({ database, mailer, clock, publicUrl, log: app.log }),
    publicUrl,
  };
  app.decorate('services', services);
  app.decorateRequest('principal', null);
  app.addHook('onClose', async () => {
    await sessions.stop();
    await clientSessions.stop();
    await accessKeys.stop();
    await presence.hub.stop();
    mailer.close();
  });

  await app.register(fastifyCookie, { secret: deriveKey(options.secret, 'cookie-signing').toString('base64') });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { ...COOKIE_FLAGS, signed: true },
    csrfOpts: { hmacKey: deriveKey(options.secret, 'csrf'), userInfo: true },
    getUserInfo: (request) => request.principal?.sessionKey ?? 'anonymous',
    getToken: (request) => request.headers['x-csrf-token'] as string | undefined,
  });

  // While closing, answers end their connection. Node's server.close() ends only the connections
  // idle at that moment: one whose request is still running stays open after its answer for the
  // keep-alive timeout (72 s), so the drain outlived its grace period and exited 1 unclosed.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    // open event streams never end by themselves: end them, or the close waits on them
    eventStreams.closeAll();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(request.url.startsWith('/api/docs') ? API_REFERENCE_HEADERS : SECURITY_HEADERS);
    // over https only (directly, or through a trusted proxy's X-Forwarded-Proto): a browser told
    // over plain http would pin a site that has no certificate
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
    reply.header('x-request-id', request.id);
    if (!request.url.startsWith('/api/')) return;
    // a program's access key, or a person's session cookie: never both, so a cookie cannot ride
    // along on a request that skips the CSRF check below
    const bearer = request.url.startsWith(API_PREFIX) ? bearerOf(request) : undefined;
    if (bearer !== undefined) request.accessKey = await authenticateAccessKey(services, request, bearer);
    else request.principal = await sessions.resolve(request.cookies[SESSION_COOKIE]);
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (!UNSAFE_METHODS.has(request.method) || !request.url.startsWith(API_PREFIX) || request.accessKey) return done();
    app.csrfProtection(request, reply, done);
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera management API',
        version: '1',
        license: { name: 'Proprietary' },
        description:
          'Accounts, teams and access. The portal authenticates with a session cookie plus an ' +
          'X-CSRF-Token header on unsafe methods. Errors are RFC 9457 problem documents.',
      },
      servers: [{ url: '/' }],
      // every operation's tag, in the order the rendered reference lists them
      tags: [
        { name: 'Sign-in', description: 'Register, sign in (with a second factor when set up, or with a passkey alone) and out, confirm an email address or a change of it, reset a password, and the CSRF token.' },
        { name: 'Me', description: 'The signed-in person, the accounts they belong to, and their own security: name, password, email, two-factor sign-in, passkeys.' },
        { name: 'Accounts', description: "An account's profile, and new accounts for the signed-in person." },
        { name: 'Team members', description: 'Sub-accounts for the desktop client: connection limits, login tokens, member credentials.' },
        { name: 'Organizations', description: 'Organizations of an account, and the one each person works in.' },
        { name: 'Groups', description: 'Groups of organizations, a scope roles can be given on.' },
        { name: 'Devices', description: 'Devices of an organization, listed a page at a time.' },
        { name: 'Connections', description: 'Open connections (leases) of an account, and closing one.' },
        { name: 'Users and roles', description: 'Portal users of an account and their roles on the account, a group or an organization.' },
        { name: 'Invitations', description: 'Inviting people by email with a role, and the invitation link.' },
        { name: 'Access keys', description: 'Keys for programs calling this API, made and revoked by owners.' },
        { name: 'Billing', description: 'The plan and its limits, billing details and invoices; owners only, in person.' },
        { name: 'Audit log', description: 'Every change to the account: who, what, which target, when and from where; searched and exported by owners.' },
        { name: 'Desktop client', description: 'The desktop client: OAuth token endpoint, enrollment, devices and connections.' },
        { name: 'Operations', description: 'Probes and the catalog of problem types.' },
      ],
      components: {
        securitySchemes: {
          portalSession: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Portal session cookie' },
          csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'From GET /api/v1/auth/csrf or the sign-in answer; required on unsafe methods' },
          accessKey: { type: 'http', scheme: 'bearer', description: 'An access key (tsr_ak_…) made by an owner; acts with its role inside its scope. No CSRF header needed.' },
          clientAccessToken: { type: 'http', scheme: 'bearer', description: 'Desktop client access token from POST /client/v1/token' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
    hideUntagged: true,
  });

  registerAuthorization(app, database, API_PREFIX);

  // Every operation documents its problem answers, so the document cannot omit them.
  const registeredRoutes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', registeredRoutes);
  // (The token endpoint's own OAuth error bodies are declared on it as 400 and 429.)
  app.addHook('onRoute', (route) => {
    const body = (route.schema as { body?: ZodType } | undefined)?.body;
    for (const method of ([] as string[]).concat(route.method)) registeredRoutes.push({ method, url: route.url, body });
    const api = route.url.startsWith(API_PREFIX);
    if (!route.schema || !(api || route.url.startsWith('/client/v1'))) return;
    const schema = route.schema as { response?: Record<string, unknown>; security?: unknown };
    if (!schema.response?.['400']) schema.response = { ...schema.response, '4XX': ProblemDocument, '5XX': ProblemDocument };
    if (api) schema.security ??= securityOf(route.config?.access);
  });

  await app.register(
    async (api) => {
      await api.register(problemTypeRoutes);
      await api.register(authRoutes);
      await api.register(oidcRoutes);
      await api.register(securityRoutes);
      await api.register(passkeySignInRoutes);
      await api.register(passkeyRoutes);
      await api.register(accountRoutes);
      await api.register(memberRoutes);
      await api.register(organizationRoutes);
      await api.register(deviceRoutes);
      await api.register(connectionRoutes);
      await api.register(accessRoutes);
      await api.register(accessKeyRoutes);
      await api.register(presenceRoutes);
      await api.register(auditRoutes);
      await api.register(billingRoutes);
      api.get('/openapi.json', { config: { access: { scope: 'public' } }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: API_PREFIX },
  );
  await app.register(clientRoutes, { prefix: '/client/v1' });
  // Probes live at the root, where orchestrators look for them.
  await app.register(healthRoutes);

  await app.register(scalar, { routePrefix: '/api/docs', configuration: { url: `${API_PREFIX}/openapi.json`, title: 'Tessera API' } });

  const webDir = path.resolve(config.webDir);
  const hasPortal = config.webDir !== '' && fs.existsSync(path.join(webDir, 'index.html'));
  if (hasPortal) {
    await app.register(fastifyStatic, { root: webDir, wildcard: false, index: ['index.html'] });
  }

  app.setNotFoundHandler((request, reply) => {
    const isPage = request.method === 'GET' && !request.url.startsWith('/api/') && (request.headers.accept ?? '').includes('text/html');
    // the portal routes on the client: any unknown page address gets the app shell
    if (hasPortal && isPage) return reply.type('text/html').sendFile('index.html');
    return sendProblem(request, reply, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}.`);
  });

  return app;
}
