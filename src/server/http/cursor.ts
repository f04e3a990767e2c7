import { sql, type RawBuilder } from 'kysely';
import { fieldError } from './errors.ts';

/**
 * Keyset pagination cursors: the sort key of the last row of a page, opaque to clients
 * (base64url JSON). A page costs the same whether it is the first or the thousandth.
 */
export function encodeCursor(key: ReadonlyArray<string>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, parts: number): string[] | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === parts && key.every((k) => typeof k === 'string')) return key as string[];
  } catch {
    // falls through to the field error
  }
  throw invalidCursor();
}

/** The answer to a cursor this list did not give out (also for one that decodes but makes no sense). */
export function invalidCursor() {
  return fieldError('query.cursor', 'invalid_cursor', 'This cursor is not one this list gave out');
}

/** `%`-escaped pattern for a case-insensitive "contains" filter. */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Lists sorted by name (case-insensitive) then id, seeking on the generated `name_key` column:
 * the condition for rows after `cursor`, with the table alias when the query joins others.
 */
export function afterNameCursor(cursor: string | undefined, alias?: string): RawBuilder<boolean> | null {
  const after = decodeCursor(cursor, 2);
  if (!after) return null;
  const prefix = alias ? sql.raw(`${alias}.`) : sql.raw('');
  return sql<boolean>`(${prefix}name_key, ${prefix}id) > (${after[0]}, ${after[1]}::uuid)`;
}

/** Cuts a page from `limit + 1` rows fetched in name_key order; the extra row says there is more. */
export function namePage<R extends { name_key: string; id: string }>(rows: R[], limit: number): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor([last.name_key, last.id]) : null };
}
