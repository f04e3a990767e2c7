import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';

/** What Kysely's PostgreSQL driver sends to start and end a transaction with default settings. */
const BEGIN = 'begin';
const ENDS = { commit: 'COMMIT', rollback: 'ROLLBACK' } as const;

type Result = PostgresQueryResult<unknown>;

/**
 * The pool Kysely's PostgreSQL driver draws from, saving a round trip per transaction where it
 * can: BEGIN is held back until the transaction's first statement. When that statement takes no
 * parameters, both go in one message of the simple protocol, which carries several statements
 * (a tenant transaction's scope is written so: see database.ts); a statement with parameters
 * needs the extended protocol, one statement a message, so BEGIN goes alone just before it. The
 * statements, their order and the transaction are the same either way; a transaction that ends
 * before its first statement sends nothing.
 */
export function beginWithFirstStatement(pool: pg.Pool): PostgresPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    options: pool.options,
    async connect() {
      const client = await pool.connect();
      let deferring = clients.get(client);
      if (!deferring) clients.set(client, (deferring = deferringBegin(client)));
      return deferring;
    },
    end: () => pool.end(),
  };
}

function deferringBegin(client: pg.PoolClient): PostgresPoolClient {
  let beginPending = false;
  const send = async (text: string, parameters?: readonly unknown[]) => (await client.query(text, parameters as unknown[] | undefined)) as unknown as Result;
  // what Kysely reads of an answer: the command tag, the row count and the rows
  const answered = (command: string) => ({ command, rowCount: 0, rows: [] }) as unknown as Result;
  const query = async (text: string, parameters: readonly unknown[]): Promise<Result> => {
    if (text === BEGIN && parameters.length === 0) {
      beginPending = true;
      return answered('BEGIN');
    }
    if (!beginPending) return send(text, parameters);
    beginPending = false;
    // the transaction ends before any statement ran in it: there is nothing to end
    if (Object.hasOwn(ENDS, text)) return answered(ENDS[text as keyof typeof ENDS]);
    if (parameters.length === 0) {
      // one answer per statement: BEGIN's, then the statement's
      const answers = (await send(`${BEGIN}; ${text}`)) as unknown as Result[];
      return answers.at(-1)!;
    }
    await send(BEGIN);
    return send(text, parameters);
  };
  return {
    query,
    release(destroy?: boolean) {
      beginPending = false;
      client.release(destroy);
    },
  } as PostgresPoolClient;
}
