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
  throw fieldError('query.cursor', 'invalid_cursor', 'This cursor is not one this list gave out');
}

/** `%`-escaped pattern for a case-insensitive "contains" filter. */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
