import type { Role } from '../../shared/contracts.ts';
import { forbidden, notFound, unauthenticated } from '../http/errors.ts';
import type { FastifyRequest } from 'fastify';
import type { PortalPrincipal } from './sessions.ts';

const RANK: Record<Role, number> = { viewer: 1, manager: 2, owner: 3 };

export function requireUser(request: FastifyRequest): PortalPrincipal {
  if (!request.principal) throw unauthenticated();
  return request.principal;
}

/**
 * The caller's role in an account, at least `minimum`. An account the caller does not belong to
 * answers 404, exactly like one that does not exist; too weak a role answers 403.
 */
export function requireAccountRole(principal: PortalPrincipal, accountId: string, minimum: Role): Role {
  const membership = principal.accounts.find((a) => a.id === accountId);
  if (!membership) throw notFound('The account');
  if (RANK[membership.role] < RANK[minimum]) {
    throw forbidden(`This needs the ${minimum} role in the account; you are ${membership.role}.`);
  }
  return membership.role;
}
