import type { FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';
import type { ChangeContext } from '../domain/audit/record.ts';

/** The audit context of a request: its principal, client address, user agent and request id. */
export function changeContext(request: FastifyRequest, clock: Clock): ChangeContext {
  const { principal, accessKey } = request;
  return {
    actor: accessKey ? { type: 'access_key', id: accessKey.id } : principal ? { type: 'user', id: principal.user.id } : { type: 'system', id: null },
    clientAddress: request.ip ?? null,
    userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
    requestId: request.id,
    now: clock.now(),
  };
}

/** Who made a request's change, as a mail names them: the person, or the access key a program used. */
export function actorName(request: FastifyRequest): string {
  if (request.accessKey) return `The access key "${request.accessKey.name}"`;
  return request.principal?.user.name ?? 'Tessera';
}
