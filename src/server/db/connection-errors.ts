/**
 * Errors that mean the database connection was lost or could not be made, rather than that a
 * statement was wrong: PostgreSQL restarted or failed over, an administrator ran
 * pg_terminate_backend, the network dropped. The transaction on that connection is gone (rolled
 * back by the server, or never begun), the pool replaces the connection, and the same request may
 * succeed a moment later, so the HTTP layer answers 503 with Retry-After instead of a 500.
 */

/** SQLSTATEs of a lost connection: class 08 (connection exception) and the shutdown codes of class 57. */
const LOST_SQLSTATE = /^(08...|57P0[123])$/;

/** Socket errors of a refused or broken connection (node:net), also set on an AggregateError. */
const LOST_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * node-postgres's own errors for a connection that ended under a query, or a client whose
 * connection already failed (what a rollback on a dead connection throws). They carry no code.
 */
const LOST_PG_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
];

export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (LOST_SQLSTATE.test(code) || LOST_SOCKET_CODES.has(code))) return true;
  return LOST_PG_MESSAGES.some((pattern) => pattern.test(error.message));
}
