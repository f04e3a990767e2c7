import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { GLOBAL_TABLES } from '../../src/server/db/schema.ts';
import { BACKENDS, openTestDatabase, type TestDatabase } from '../support/databases.ts';

interface TableInfo {
  table: string;
  has_account_id: boolean;
  pk_columns: string[] | null;
  row_security: boolean;
  policies: number;
}

interface ForeignKey {
  table: string;
  referenced: string;
  columns: string[];
  referenced_columns: string[];
}

for (const backend of BACKENDS) {
  describe(`schema rules read from the catalog (${backend})`, () => {
    let t: TestDatabase;
    let tables: TableInfo[];
    let foreignKeys: ForeignKey[];

    before(async () => {
      t = await openTestDatabase(backend);
      const db = t.database.db;
      tables = (
        await sql<TableInfo>`
          select c.relname as table,
                 exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'account_id' and not a.attisdropped) as has_account_id,
                 (select array_agg(a.attname::text order by k.ord)
                    from pg_constraint pk
                    cross join lateral unnest(pk.conkey) with ordinality as k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                   where pk.conrelid = c.oid and pk.contype = 'p') as pk_columns,
                 c.relrowsecurity as row_security,
                 (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'public' and c.relkind in ('r', 'p')`.execute(db)
      ).rows;
      foreignKeys = (
        await sql<ForeignKey>`
          select c.conrelid::regclass::text as table, c.confrelid::regclass::text as referenced,
                 (select array_agg(a.attname::text order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as columns,
                 (select array_agg(a.attname::text order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum) as referenced_columns
            from pg_constraint c join pg_namespace n on n.oid = c.connamespace
           where c.contype = 'f' and n.nspname = 'public'`.execute(db)
      ).rows;
    });
    after(() => t.close());

    it('knows every table: a table without account_id must be declared global, with a reason', () => {
      const undeclared = tables.filter((x) => !x.has_account_id && !(x.table in GLOBAL_TABLES)).map((x) => x.table);
      assert.deepEqual(undeclared, [], 'tables with neither account_id nor a GLOBAL_TABLES entry');
      const names = new Set(tables.map((x) => x.table));
      assert.deepEqual(Object.keys(GLOBAL_TABLES).filter((n) => !names.has(n)), [], 'GLOBAL_TABLES lists tables that do not exist');
      assert.ok(tables.some((x) => x.has_account_id), 'there are tenant tables');
    });

    it('puts account_id first in the primary key of every tenant table', () => {
      const broken = tables.filter((x) => x.has_account_id && x.pk_columns?.[0] !== 'account_id');
      assert.deepEqual(broken.map((x) => `${x.table} (${x.pk_columns?.join(', ')})`), []);
    });

    it('leads every foreign key between tenant tables with account_id on both sides', () => {
      const tenant = new Set(tables.filter((x) => x.has_account_id).map((x) => x.table));
      const broken = foreignKeys.filter(
        (fk) => tenant.has(fk.referenced) && (fk.columns[0] !== 'account_id' || fk.referenced_columns[0] !== 'account_id'),
      );
      assert.deepEqual(broken.map((fk) => `${fk.table}(${fk.columns}) -> ${fk.referenced}(${fk.referenced_columns})`), []);
      const globalToTenant = foreignKeys.filter((fk) => !tenant.has(fk.table) && tenant.has(fk.referenced));
      assert.deepEqual(globalToTenant.map((fk) => `${fk.table} -> ${fk.referenced}`), [], 'a global table never points into one account');
    });

    it('guards every tenant table with row-level security', () => {
      const unguarded = tables.filter((x) => x.has_account_id && (!x.row_security || x.policies === 0));
      assert.deepEqual(unguarded.map((x) => x.table), []);
    });
  });
}
