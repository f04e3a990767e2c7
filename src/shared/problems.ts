/**
 * The closed set of problem types Tessera answers with (RFC 9457). Each code has one HTTP status;
 * the `type` of a problem document is PROBLEM_TYPE_BASE + code, documented at that address.
 */
export const PROBLEM_STATUS = {
  validation_failed: 400,
  malformed_request: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  csrf_failed: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

export const PROBLEM_TITLES: Record<ProblemCode, string> = {
  validation_failed: 'The request has invalid fields',
  malformed_request: 'The request could not be read',
  unauthenticated: 'Sign in first',
  invalid_credentials: 'Email or password is incorrect',
  csrf_failed: 'The request lacks a valid CSRF token',
  forbidden: 'Your role does not allow this',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'The request conflicts with the current state',
  payload_too_large: 'The request body is too large',
  unsupported_media_type: 'Unsupported content type',
  rate_limited: 'Too many attempts',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

export const PROBLEM_TYPE_BASE = '/api/v1/problems/';

export interface FieldError {
  /** Dotted path of the field, e.g. `country` or `members.0.name`. */
  field: string;
  /** Stable machine-readable reason, e.g. `too_small`, `common_password`, `already_registered`. */
  code: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  /** On a refused connection: the limit that was hit. */
  limit?: 'account' | 'member' | 'device';
  /** On a refused organization delete: the devices it still holds. */
  deviceCount?: number;
}
