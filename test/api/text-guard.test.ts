import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { Caller, type Answer } from '../support/caller.ts';

/**
 * src/server/http/text-guard.ts: text the database cannot store (NUL, an unpaired UTF-16 surrogate)
 * is refused before validation with the guard's own field error, `invalid_characters`, naming
 * where it sits. The fuzzer only sees that such text never causes a 5xx; these tests pin the answer.
 */

/** The field errors of a 400 validation problem, as sorted [field, code] pairs. */
function fieldErrors(answer: Answer): string[][] {
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.equal(answer.body.type, '/api/v1/problems/validation_failed');
  return (answer.body.errors as Array<{ field: string; code: string }>).map((e) => [e.field, e.code]).sort();
}

for (const backend of BACKENDS) {
  describe(`text the database cannot store (${backend})`, () => {
    let t: TestApp;
    let owner: Caller;
    let accountId: string;

    before(async () => {
      t = await startTestApp(backend);
      const person = await registerPerson(t);
      accountId = person.account.id;
      owner = await new Caller(t).signIn(person.email);
    });
    after(() => t.close());

    it('refuses a NUL and an unpaired surrogate in body fields, naming each field, and registers nobody', async () => {
      const email = uniqueEmail('guarded');
      const answer = await new Caller(t).call('POST', '/api/v1/auth/register', {
        json: { name: 'Ada\u0000Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines \uD800 Ltd', country: 'GB' },
      });
      assert.deepEqual(fieldErrors(answer), [['companyName', 'invalid_characters'], ['name', 'invalid_characters']]);
      const users = await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).execute();
      assert.equal(users.length, 0);
    });

    it('names an item of an array by its index, a query parameter by query., and a bad key by its object', async () => {
      const group = await owner.call('POST', `/api/v1/accounts/${accountId}/groups`, { json: { name: 'Guarded', organizationIds: ['\uDC00'] } });
      assert.deepEqual(fieldErrors(group), [['organizationIds.0', 'invalid_characters']]);
      const search = await owner.call('GET', `/api/v1/accounts/${accountId}/organizations?q=%00`);
      assert.deepEqual(fieldErrors(search), [['query.q', 'invalid_characters']]);
      const key = await owner.call('PATCH', `/api/v1/accounts/${accountId}`, { json: { 'company\u0000Name': 'X' } });
      assert.deepEqual(fieldErrors(key), [['(body)', 'invalid_characters']]);
    });
  });
}
