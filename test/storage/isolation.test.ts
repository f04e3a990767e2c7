import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { BACKENDS, openTestDatabase, type TestDatabase } from '../support/databases.ts';

for (const backend of BACKENDS) {
  describe(`row-level security, the second wall (${backend})`, () => {
    let t: TestDatabase;
    const a = uuidv7();
    const b = uuidv7();
    const userA = uuidv7();

    before(async () => {
      t = await openTestDatabase(backend);
      const now = new Date();
      await t.database.inSystem(async (tx) => {
        await tx.insertInto('users').values({ id: userA, email: `${userA}@example.test`, name: 'A', password_hash: null, email_verified_at: null, created_at: now, updated_at: now }).execute();
        for (const id of [a, b]) {
          await tx.insertInto('accounts').values({ account_id: id, company_name: `Company ${id}`, country: 'DE', created_at: now, updated_at: now }).execute();
        }
        await tx.insertInto('memberships').values({ account_id: a, user_id: userA, role: 'owner', created_at: now }).execute();
      });
    });
    after(() => t.close());

    it("shows nothing of account A inside account B's transaction, even without the service's own filter", async () => {
      const seen = await t.database.inTenant(b, async (tx) => ({
        accounts: await tx.selectFrom('accounts').select('account_id').execute(),
        aByKey: await tx.selectFrom('accounts').select('account_id').where('account_id', '=', a).execute(),
        memberships: await tx.selectFrom('memberships').selectAll().execute(),
      }));
      assert.deepEqual(seen.accounts.map((r) => r.account_id), [b]);
      assert.deepEqual(seen.aByKey, []);
      assert.deepEqual(seen.memberships, []);
    });

    it("cannot change or write account A's rows from account B's transaction", async () => {
      const updated = await t.database.inTenant(b, (tx) =>
        tx.updateTable('accounts').set({ company_name: 'hijacked' }).where('account_id', '=', a).executeTakeFirst(),
      );
      assert.equal(Number(updated.numUpdatedRows), 0);
      await assert.rejects(
        t.database.inTenant(b, (tx) => tx.insertInto('memberships').values({ account_id: a, user_id: userA, role: 'viewer', created_at: new Date() }).execute()),
        /row-level security/,
      );
      const row = await t.database.inSystem((tx) => tx.selectFrom('accounts').select('company_name').where('account_id', '=', a).executeTakeFirstOrThrow());
      assert.equal(row.company_name, `Company ${a}`);
    });

    it('runs tenant transactions as the restricted role, and resets it afterwards', async () => {
      const inside = await t.database.inTenant(a, async (tx) => (await sql<{ r: string }>`select current_user as r`.execute(tx)).rows[0]!.r);
      assert.equal(inside, 'tessera_app');
      const outside = await t.database.inSystem(async (tx) => (await sql<{ r: string }>`select current_user as r`.execute(tx)).rows[0]!.r);
      assert.notEqual(outside, 'tessera_app');
      const unscoped = await t.database.inSystem(async (tx) => {
        await sql`select set_config('role', 'tessera_app', true)`.execute(tx);
        return tx.selectFrom('accounts').select('account_id').execute();
      });
      assert.deepEqual(unscoped, [], 'without an account set, the restricted role sees no account');
    });
  });
}
