/**
 * The kinds of id the API takes, and which parameter or body field names carry each: what the
 * suites that walk the OpenAPI document (tenant isolation, the fuzzer) fill in from a seeded world.
 * A name missing here fails those suites, so a new kind of id cannot slip past them.
 */

export const ID_KINDS = ['accountId', 'organizationId', 'groupId', 'deviceId', 'memberId', 'tokenId', 'leaseId', 'userId', 'invitationId', 'keyId'] as const;
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
};
