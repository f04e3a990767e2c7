import { TesseraError } from '../client/sdk.ts';
import { TesseraOAuthError } from '../client/desktop.ts';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** Something failed that is not one of the cases below. */
  failed: 1,
  /** Wrong command line: unknown command or option, missing argument. */
  usage: 2,
  /** Not signed in, or the server refused the credentials (sign in again). */
  unauthenticated: 3,
  /** The server refused the request as it stands: a limit reached, a conflict, not found. */
  refused: 4,
  /** The server could not be reached. */
  unreachable: 5,
} as const;

/** A failure with a message for people and an exit code for scripts. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Prints rows as an aligned table (the default) or, with --json, the value itself. */
export function print(json: boolean, value: unknown, rows?: Array<Record<string, string>>): void {
  if (json || !rows) {
    process.stdout.write(`${JSON.stringify(value, null, json ? 2 : 0)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${[line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))].join('\n')}\n`);
}

/** Maps what the SDKs and fetch throw to a message and an exit code. */
export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TesseraOAuthError) return new CliError(error.message, error.status === 429 ? EXIT.refused : EXIT.unauthenticated);
  if (error instanceof TesseraError) {
    const fields = error.fieldErrors.map((f) => `\n  ${f.field}: ${f.message}`).join('');
    const message = `${error.problem.detail ?? error.problem.title}${fields}`;
    if (error.status === 401) return new CliError(message, EXIT.unauthenticated);
    if (error.status === 400) return new CliError(message, EXIT.usage);
    if (error.status >= 400 && error.status < 500) return new CliError(message, EXIT.refused);
    return new CliError(message, EXIT.failed);
  }
  // fetch fails with a TypeError whose cause says why (refused, unknown host, reset, bad port)
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return new CliError(`Cannot reach the server (${cause?.code ?? cause?.message ?? 'no answer'}).`, EXIT.unreachable);
  }
  return new CliError(error instanceof Error ? error.message : String(error));
}
