import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');
/** Arbitrary, fixed key of the advisory lock that serializes nodes migrating one database. */
const MIGRATION_LOCK_KEY = 7_301_555_201;

export interface Migration {
  id: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      return {
        id: file.replace(/\.sql$/, ''),
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    });
}

export class MigrationError extends Error {}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock:
 * nodes that start together wait for the first one and then find nothing left to do.
 * Returns the ids applied by this call.
 */
export async function migrate(database: Database, migrations = loadMigrations()): Promise<string[]> {
  return database.withSession(async (session) => {
    await session.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await session.exec(`CREATE TABLE IF NOT EXISTS tessera_migrations (
        id text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = new Map(
        (await session.query<{ id: string; checksum: string }>('select id, checksum from tessera_migrations')).map(
          (row) => [row.id, row.checksum],
        ),
      );
      for (const [id, checksum] of applied) {
        const known = migrations.find((m) => m.id === id);
        if (known && known.checksum !== checksum) {
          throw new MigrationError(`Migration ${id} was changed after it was applied; add a new migration instead.`);
        }
      }
      const done: string[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.id)) continue;
        await session.exec('BEGIN');
        try {
          await session.exec(migration.sql);
          await session.query('insert into tessera_migrations (id, checksum) values ($1, $2)', [
            migration.id,
            migration.checksum,
          ]);
          await session.exec('COMMIT');
        } catch (error) {
          await session.exec('ROLLBACK');
          throw new MigrationError(`Migration ${migration.id} failed: ${(error as Error).message}`, { cause: error });
        }
        done.push(migration.id);
      }
      return done;
    } finally {
      await session.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  });
}

/** True when every migration this build knows is recorded as applied. */
export async function migrationsApplied(database: Database, migrations = loadMigrations()): Promise<boolean> {
  const latest = migrations.at(-1);
  if (!latest) return true;
  const rows = await database.withSession((session) =>
    session.query('select 1 from tessera_migrations where id = $1', [latest.id]),
  );
  return rows.length === 1;
}
