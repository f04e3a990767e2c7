import { PROBLEM_STATUS, type FieldError, type ProblemCode } from '../../shared/problems.ts';

/**
 * A failure the caller can act on. Services throw these; one handler turns them into
 * RFC 9457 problem documents (src/server/http/problem-handler.ts).
 */
export class AppError extends Error {
  readonly code: ProblemCode;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  /** RFC 9457 extension members, e.g. `{ limit: 'account' }` on a refused connection. */
  readonly extensions: Record<string, string | number>;

  constructor(
    code: ProblemCode,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; extensions?: Record<string, string | number> } = {},
  ) {
    super(detail);
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }

  get status(): number {
    return PROBLEM_STATUS[this.code];
  }
}

export const notFound = (what = 'The resource') => new AppError('not_found', `${what} does not exist.`);
export const forbidden = (detail: string) => new AppError('forbidden', detail);
export const conflict = (detail: string, errors?: FieldError[]) => new AppError('conflict', detail, errors ? { errors } : {});
export const unauthenticated = () => new AppError('unauthenticated', 'Sign in to continue.');

export function fieldError(field: string, code: string, message: string): AppError {
  return new AppError('validation_failed', message, { errors: [{ field, code, message }] });
}

/**
 * For `.catch` after a write guarded by a unique index: a clash (SQLSTATE 23505) becomes a 409
 * naming the field; any other error passes through.
 */
export function uniqueClash(field: string, code: string, message: string, detail = `${message}.`): (error: unknown) => never {
  return (error) => {
    if ((error as { code?: string }).code === '23505') throw conflict(detail, [{ field, code, message }]);
    throw error;
  };
}

/** Reads like prose at the call site: `assertThat(found, notFound('Account'))`. */
export function assertThat(condition: unknown, error: AppError): asserts condition {
  if (!condition) throw error;
}
