import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  PROBLEM_STATUS,
  PROBLEM_TITLES,
  PROBLEM_TYPE_BASE,
  type FieldError,
  type Problem,
  type ProblemCode,
} from '../../shared/problems.ts';
import { isConnectionLoss } from '../db/connection-errors.ts';
import { AppError } from './errors.ts';

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  code: ProblemCode,
  detail: string,
  errors?: FieldError[],
  extensions: Record<string, string | number> = {},
): FastifyReply {
  const status = PROBLEM_STATUS[code];
  const body: Problem = {
    ...extensions,
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: PROBLEM_TITLES[code],
    status,
    detail,
    instance: request.url.split('?')[0],
    requestId: request.id,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
  return reply.code(status).type('application/problem+json').serializer(JSON.stringify).send(body);
}

type ZodIssueLike = { keyword: string; instancePath: string; message?: string; params?: Record<string, unknown> };

function fieldErrorsFrom(issues: ZodIssueLike[], context: string | undefined): FieldError[] {
  const prefix = context && context !== 'body' ? `${context === 'querystring' ? 'query' : context}.` : '';
  return issues.flatMap((issue) => {
    const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(issue.params?.keys)) {
      return (issue.params.keys as string[]).map((key) => ({
        field: prefix + (path ? `${path}.${key}` : key),
        code: 'unknown_field',
        message: `Unknown field "${key}"`,
      }));
    }
    // a refinement names its own reason (params.code); a missing value reads as `required`
    const refinement = (issue.params?.params ?? {}) as { code?: unknown };
    const named = issue.keyword === 'custom' && typeof refinement.code === 'string' ? refinement.code : undefined;
    const code = named ?? (issue.keyword === 'invalid_type' && issue.params?.input === undefined ? 'required' : issue.keyword);
    return [
      {
        field: prefix + (path || (context === 'body' ? '(body)' : context ?? '')),
        code,
        message: code === 'required' ? 'This field is required' : (issue.message ?? 'Invalid value'),
      },
    ];
  });
}

/** Fastify's own client errors, by code, mapped to our closed set. */
const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_CSRF_INVALID_TOKEN: 'csrf_failed',
  FST_CSRF_MISSING_SECRET: 'csrf_failed',
};

/** Retry-After of a 503 for a lost database connection: the pool reconnects at once. */
const DATABASE_RETRY_AFTER_SECONDS = 1;

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      reply.headers(error.headers);
      return sendProblem(request, reply, error.code, error.message, error.errors, error.extensions);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = fieldErrorsFrom(error.validation as unknown as ZodIssueLike[], error.validationContext);
      return sendProblem(request, reply, 'validation_failed', 'Some fields are invalid.', errors);
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return sendProblem(request, reply, 'malformed_request', 'The body is not valid JSON.');
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendProblem(request, reply, mapped, error.message);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // Any other client error Fastify raised itself (e.g. a bad header): still a problem document.
      return sendProblem(request, reply, 'malformed_request', error.message);
    }
    if (isConnectionLoss(error)) {
      // The database connection broke under this request (restart, failover,
      // pg_terminate_backend): its transaction went with it and the pool opens a new connection,
      // so trying again shortly may well work. A 500 would say the request itself is at fault.
      request.log.warn({ err: error }, 'database connection lost');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(request, reply, 'unavailable', 'The database could not be reached or the connection to it was lost. Try again in a moment.');
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, 'internal', 'Something went wrong on our side. Quote the request id when you report it.');
  });
}
