import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Tx } from '../../src/server/db/database.ts';
import { BACKENDS, openTestDatabase, type TestDatabase } from '../support/databases.ts';

/**
 * On PostgreSQL a transaction's BEGIN waits for its first statement and, when that statement takes
 * no parameters, goes in the same message (src/server/db/pg-pool.ts). Whichever way it is sent,
 * the first statement must run inside the transaction, and the transaction must end as before.
 */
for (const backend of BACKENDS) {
  describe(`transactions whose BEGIN waits for the first statement (${backend})`, () => {
    let t: TestDatabase;
    const probe = async (tx: Tx) => (await sql<{ v: string | null }>`select current_setting('tessera.probe', true) as v`.execute(tx)).rows[0]!.v ?? '';

    before(async () => {
      t = await openTestDatabase(backend);
    });
    after(() => t.close());

    it('runs a first statement without parameters inside the transaction, and one with parameters too', async () => {
      const firsts = [
        ['literal', sql`select set_config('tessera.probe', 'literal', true)`],
        ['parameter', sql`select set_config('tessera.probe', ${'parameter'}, true)`],
      ] as const;
      for (const [value, first] of firsts) {
        const inside = await t.database.inSystem(async (tx) => {
          await first.execute(tx);
          return probe(tx);
        });
        assert.equal(inside, value, 'set inside the transaction');
        assert.equal(await t.database.inSystem(probe), '', 'transaction-local: gone after commit');
      }
    });

    it('rolls back what the first statement wrote when the transaction fails, and the connection serves the next one', async () => {
      const id = uuidv7();
      const now = new Date().toISOString();
      await assert.rejects(
        t.database.inSystem(async (tx) => {
          await sql`insert into users (id, email, name, created_at, updated_at) values (${sql.lit(id)}, ${sql.lit(`${id}@example.test`)}, 'Rolled back', ${sql.lit(now)}, ${sql.lit(now)})`.execute(tx);
          throw new Error('the service fails after its first statement');
        }),
        /the service fails/,
      );
      const found = await t.database.inSystem((tx) => tx.selectFrom('users').select('id').where('id', '=', id).execute());
      assert.deepEqual(found, []);
    });

    it('fails the transaction when its first statement fails, and leaves nothing open', async () => {
      for (let i = 0; i < 12; i++) {
        await assert.rejects(t.database.inSystem((tx) => sql`select 1 / 0`.execute(tx)), /division by zero/);
      }
      // more failures than pooled connections: each one's transaction ended
      assert.equal(await t.database.inSystem(probe), '');
    });

    it('commits a transaction that ran no statement', async () => {
      assert.equal(await t.database.inSystem(async () => 'nothing to do'), 'nothing to do');
      await assert.rejects(t.database.inSystem(async () => Promise.reject(new Error('refused before any statement'))), /refused before/);
      assert.equal(await t.database.inSystem(probe), '');
    });

    it('scopes a tenant transaction only to an account id that is a UUID', async () => {
      await assert.rejects(t.database.inTenant("x', true), set_config('role', 'postgres", async () => undefined), /not an account id/);
    });
  });
}
