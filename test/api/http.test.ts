import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { BACKENDS } from '../support/databases.ts';
import { registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';

/** A raw session: cookies and CSRF token, for requests the SDK would never send. */
async function rawSession(t: TestApp) {
  const csrf = await t.app.inject({ method: 'GET', url: '/api/v1/auth/csrf' });
  const cookie = String(csrf.headers['set-cookie']).split(';')[0]!;
  const { csrfToken } = csrf.json() as { csrfToken: string };
  return { cookie, csrfToken };
}

function assertProblem(response: LightMyRequestResponse, status: number, code: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const body = response.json() as { type: string; status: number; title: string; requestId: string };
  assert.equal(body.type, `/api/v1/problems/${code}`);
  assert.equal(body.status, status);
  assert.ok(body.title);
  assert.equal(body.requestId, response.headers['x-request-id']);
  return body as unknown as { errors?: { field: string; code: string }[]; detail?: string };
}

for (const backend of BACKENDS) {
  describe(`HTTP edge (${backend})`, () => {
    let t: TestApp;
    let s: { cookie: string; csrfToken: string };
    const register = (payload: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'x-csrf-token': s.csrfToken, cookie: s.cookie, 'content-type': 'application/json', ...headers },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
    const valid = () => ({ name: 'Grace', email: uniqueEmail(), password: STRONG_PASSWORD, companyName: 'Navy', country: 'US' });
    const userCount = async () => (await t.db.database.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;

    before(async () => {
      t = await startTestApp(backend, { bodyLimitBytes: 4096 });
      s = await rawSession(t);
    });
    after(() => t.close());

    it('answers broken JSON with a problem document and writes nothing', async () => {
      const before = await userCount();
      assertProblem(await register('{"name": "Grace",'), 400, 'malformed_request');
      assertProblem(await register(''), 400, 'malformed_request');
      assertProblem(await register('{"__proto__": {"admin": true}}'), 400, 'malformed_request');
      assert.equal(await userCount(), before);
    });

    it('names wrong types, missing fields, unknown fields and over-long strings', async () => {
      const before = await userCount();
      const wrongType = assertProblem(await register({ ...valid(), name: 42 }), 400, 'validation_failed');
      assert.deepEqual(wrongType.errors?.map((e) => e.field), ['name']);
      const { email: _omit, ...missing } = valid();
      const missingField = assertProblem(await register(missing), 400, 'validation_failed');
      assert.deepEqual(missingField.errors?.map((e) => [e.field, e.code]), [['email', 'required']]);
      const unknown = assertProblem(await register({ ...valid(), isAdmin: true }), 400, 'validation_failed');
      assert.deepEqual(unknown.errors?.map((e) => [e.field, e.code]), [['isAdmin', 'unknown_field']]);
      const long = assertProblem(await register({ ...valid(), companyName: 'x'.repeat(161) }), 400, 'validation_failed');
      assert.deepEqual(long.errors?.map((e) => e.field), ['companyName']);
      const notObject = assertProblem(await register([1, 2]), 400, 'validation_failed');
      assert.ok(notObject.errors?.length);
      assert.equal(await userCount(), before);
    });

    it('refuses a body past the size limit with 413 and a non-JSON body with 415', async () => {
      assertProblem(await register({ ...valid(), name: 'x'.repeat(5000) }), 413, 'payload_too_large');
      assertProblem(await register('name=Grace', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
      assertProblem(await register('hello', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    });

    it('answers unknown routes and bad path ids with problem documents', async () => {
      assertProblem(await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' }), 404, 'not_found');
      assertProblem(await t.app.inject({ method: 'DELETE', url: '/api/v1/me', headers: { 'x-csrf-token': s.csrfToken, cookie: s.cookie } }), 404, 'not_found');
      const person = await registerPerson(t);
      const signedIn = await rawSignedIn(t, person.email);
      const badId = assertProblem(await t.app.inject({ method: 'GET', url: '/api/v1/accounts/not-a-uuid', headers: { cookie: signedIn } }), 400, 'validation_failed');
      assert.deepEqual(badId.errors?.map((e) => e.field), ['params.accountId']);
    });

    it('requires a CSRF token bound to the session on every unsafe method', async () => {
      const person = await registerPerson(t);
      const cookie = await rawSignedIn(t, person.email);
      const patch = (headers: Record<string, string>) =>
        t.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${person.account.id}`, headers: { cookie, 'content-type': 'application/json', ...headers }, payload: '{"companyName":"CSRF"}' });
      assertProblem(await patch({}), 403, 'csrf_failed');
      assertProblem(await patch({ 'x-csrf-token': s.csrfToken }), 403, 'csrf_failed');
      assertProblem(await patch({ 'x-csrf-token': 'forged-token' }), 403, 'csrf_failed');
      assert.equal((await person.client.getAccount(person.account.id)).companyName, person.account.companyName);
    });

    it('answers 401 without a session and ignores a forged session cookie', async () => {
      assertProblem(await t.app.inject({ method: 'GET', url: '/api/v1/me' }), 401, 'unauthenticated');
      assertProblem(await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: 'tessera_session=tsr_ses_forged' } }), 401, 'unauthenticated');
    });

    it('echoes a sane request id and replaces an unsafe one', async () => {
      const given = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
      assert.equal(given.headers['x-request-id'], 'abc-123');
      const unsafe = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a\u0000b c' } });
      assert.notEqual(unsafe.headers['x-request-id'], 'a\u0000b c');
    });

    it('sends security headers: no framing, no sniffing, our own scripts only', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/me' });
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['strict-transport-security'], undefined, 'no HSTS over plain http');
    });

    it('sets the CSRF cookie HttpOnly and SameSite=Lax, and not Secure over plain http', async () => {
      const csrf = await t.app.inject({ method: 'GET', url: '/api/v1/auth/csrf' });
      const cookie = ([] as string[]).concat(csrf.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_csrf='));
      assert.ok(cookie, 'the CSRF secret is set as a cookie');
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Lax/);
      assert.match(cookie, /; Path=\//);
      assert.doesNotMatch(cookie, /Secure/, 'over plain http a Secure cookie would never come back');
    });

    it('behind a trusted https proxy: HSTS, and the session and CSRF cookies marked Secure', async () => {
      const proxied = await startTestApp(backend, { trustProxy: 'true' });
      try {
        const https = { 'x-forwarded-proto': 'https' };
        const probe = await proxied.app.inject({ method: 'GET', url: '/healthz', headers: https });
        assert.equal(probe.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
        assert.equal((await proxied.app.inject({ method: 'GET', url: '/healthz' })).headers['strict-transport-security'], undefined, 'plain http: none');
        const csrf = await proxied.app.inject({ method: 'GET', url: '/api/v1/auth/csrf', headers: https });
        const csrfCookie = ([] as string[]).concat(csrf.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_csrf='));
        assert.match(csrfCookie ?? '', /; Secure/);
        assert.match(csrfCookie ?? '', /; HttpOnly/);
        assert.match(csrfCookie ?? '', /; SameSite=Lax/);
        const registered = await proxied.app.inject({
          method: 'POST',
          url: '/api/v1/auth/register',
          headers: { ...https, 'x-csrf-token': (csrf.json() as { csrfToken: string }).csrfToken, cookie: String(csrf.headers['set-cookie']).split(';')[0]! },
          payload: { name: 'S', email: uniqueEmail(), password: STRONG_PASSWORD, companyName: 'Secure Co', country: 'FR' },
        });
        assert.equal(registered.statusCode, 201, registered.body);
        const session = ([] as string[]).concat(registered.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_session='));
        assert.match(session ?? '', /; Secure/);
        assert.match(session ?? '', /HttpOnly/);
        const plain = await proxied.app.inject({ method: 'GET', url: '/api/v1/auth/csrf' });
        const plainCookie = ([] as string[]).concat(plain.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_csrf='));
        assert.doesNotMatch(plainCookie ?? '', /Secure/, 'the same proxy forwarding plain http: not Secure');
      } finally {
        await proxied.close();
      }
    });

    it('reports health and readiness', async () => {
      assert.deepEqual((await t.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
      assert.deepEqual((await t.app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready', database: 'ok', migrations: 'applied' });
    });

    it('documents every /api/v1 and /client/v1 route in the OpenAPI 3.1 document, with error answers', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as {
        openapi: string;
        paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
      };
      assert.equal(doc.openapi, '3.1.0');
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`)),
      );
      const checked = t.app.registeredRoutes.filter(
        (r) => /^\/(api|client)\/v1\//.test(r.url) && r.method !== 'HEAD' && r.url !== '/api/v1/openapi.json',
      );
      assert.ok(checked.length >= 25, `walked ${checked.length} routes`);
      const missing = checked.map((r) => `${r.method} ${r.url}`).filter((route) => !documented.has(route));
      assert.deepEqual(missing, []);
      for (const [path, ops] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/v1') && !path.startsWith('/client/v1')) continue;
        for (const [method, op] of Object.entries(ops)) {
          assert.ok(op.operationId, `${method} ${path} has an operationId`);
          assert.ok(op.responses['4XX'] ?? op.responses['400'], `${method} ${path} documents its error answers`);
        }
      }
      const docs = await t.app.inject({ method: 'GET', url: '/api/docs/' });
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /openapi\.json/, 'the rendered reference reads our document');
    });

    it('gives every request body an example in the document, each one accepted by the schema the route validates with', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as {
        paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, unknown> }> } }>>;
      };
      const withBodies = t.app.registeredRoutes.filter((r) => r.body && /^\/(api|client)\/v1\//.test(r.url));
      assert.ok(withBodies.length >= 25, `${withBodies.length} routes take a body`);
      const problems: string[] = [];
      for (const route of withBodies) {
        const examples = (route.body!.meta()?.examples ?? []) as unknown[];
        if (examples.length === 0) problems.push(`${route.method} ${route.url}: no example`);
        for (const example of examples) {
          const parsed = route.body!.safeParse(example);
          if (!parsed.success) problems.push(`${route.method} ${route.url}: example ${JSON.stringify(example)} is refused: ${parsed.error.message}`);
        }
        const operation = doc.paths[route.url.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
        // @fastify/swagger shows one example as the media type's `example`, several as its `examples`
        const shown = Object.values(operation?.requestBody?.content ?? {}).some((c) => (c.example !== undefined ? 1 : Object.keys(c.examples ?? {}).length) === examples.length);
        if (examples.length > 0 && !shown) problems.push(`${route.method} ${route.url}: the document does not show its examples`);
      }
      assert.deepEqual(problems, []);
    });
  });
}

async function rawSignedIn(t: TestApp, email: string): Promise<string> {
  const { cookie, csrfToken } = await rawSession(t);
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/sign-in',
    headers: { cookie, 'x-csrf-token': csrfToken },
    payload: { email, password: STRONG_PASSWORD },
  });
  assert.equal(response.statusCode, 200, response.body);
  const session = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_session='))!;
  return `${session.split(';')[0]}; ${cookie}`;
}
