/**
 * The kinds of id the API takes, and which parameter or body field names carry each: what the
 * suites that walk the OpenAPI document (tenant isolation, the fuzzer) fill in from a seeded world.
 * A name missing here fails those suites, so a new kind of id cannot slip past them.
 */

export const ID_KINDS = ['accountId', 'organizationId', 'groupId', 'deviceId', 'memberId', 'tokenId', 'leaseId', 'userId', 'invitationId', 'keyId', 'identityId', 'passkeyId'] as const;
export type IdKind = (typeof ID_KINDS)[number];

/** Parameter and field names (last segment, `[]` dropped) → the kind of id they carry. */
export const ID_SOURCES: Record<string, IdKind> = {
  accountId: 'accountId',
  organizationId: 'organizationId',
  organizationIds: 'organizationId',
  groupId: 'groupId',
  deviceId: 'deviceId',
  memberId: 'memberId',
  tokenId: 'tokenId',
  leaseId: 'leaseId',
  userId: 'userId',
  invitationId: 'invitationId',
  keyId: 'keyId',
  identityId: 'identityId',
  passkeyId: 'passkeyId',
};

/**
 * Query parameters that filter by an id rather than look one up: the audit log is searched by who
 * acted and what was changed, ids that stay in the log after the person, key or device is gone.
 * Another account's id matches nothing, exactly like an unknown id: the same 2xx answer with no
 * events, never a refusal. Keyed by `operationId query.name`; the value is the kind of id tried.
 */
export const FILTER_IDS: Record<string, IdKind> = {
  'searchAuditEvents query.actorId': 'userId',
  'searchAuditEvents query.targetId': 'deviceId',
  'exportAuditEvents query.actorId': 'userId',
  'exportAuditEvents query.targetId': 'deviceId',
};

/**
 * Parameters and fields named like ids that name no resource of a tenant, with the reason. The
 * walkers skip them; anything else named like an id must have a source above.
 */
export const NOT_IDS: Record<string, string> = {
  'getProblemType path.code': 'names a problem type of the global, static catalog (not_found, conflict, …)',
  'changePlan body.planId': 'names a plan of the global catalog',
  'setBillingDetails body.taxId': "is the company's tax number",
  'addPasskey body.credential.rawId': "is the authenticator's credential id, as the browser sends it (WebAuthn)",
  'signInWithPasskey body.credential.rawId': "is the authenticator's credential id, as the browser sends it (WebAuthn)",
  'completeTwoFactorSignIn body.passkey.rawId': "is the authenticator's credential id, as the browser sends it (WebAuthn)",
};
