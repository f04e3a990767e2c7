import { cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts';
import type { AuditFixture } from './data.ts';
import { expectStatus } from './fixtures.ts';
import { readMemory, resetPeak } from './server.ts';

/**
 * The audit log of one account with a million events (bench/data.ts insertAuditLog): its search
 * (GET /api/v1/accounts/:a/audit-events) in the shapes the portal and API clients ask for, each
 * loaded on its own, and its export (…/audit-events/export) read to the end by one client while
 * the server's memory is watched.
 */

/** Events a page of the search (the portal's page size, and the API's default). */
export const AUDIT_PAGE_LIMIT = 50;

/** One query shape of the search: a row of the table. */
export interface AuditShape {
  /** Short label for the row: `action=member.*`. */
  label: string;
  path: string;
  /** Events of the account the filter matches (all of them for no filter). */
  matching: number;
}

const base = (accountId: string) => `/api/v1/accounts/${accountId}/audit-events`;

/** The shapes loaded with autocannon, but the far page (walkAuditPages finds its cursor). */
export function auditSearchShapes(fixture: AuditFixture, ownerUserId: string): AuditShape[] {
  const path = (query: Record<string, string>) => `${base(fixture.accountId)}?${new URLSearchParams({ limit: String(AUDIT_PAGE_LIMIT), ...query }).toString()}`;
  const all = fixture.seeded + fixture.existing;
  return [
    { label: `page 1 of ${all.toLocaleString('en-US')} events`, path: path({}), matching: all },
    { label: 'action=member.updated', path: path({ action: 'member.updated' }), matching: fixture.matching.action },
    { label: 'action=member.*', path: path({ action: 'member.*' }), matching: fixture.matching.group },
    { label: 'actorId=<the owner>', path: path({ actorId: ownerUserId }), matching: fixture.matching.actor },
    { label: 'targetId=<a device>', path: path({ targetId: fixture.targetId }), matching: fixture.matching.target },
    { label: 'from/to: one day', path: path({ from: fixture.day.from, to: fixture.day.to }), matching: fixture.matching.day },
  ];
}

interface AuditPage {
  items: Array<{ id: string; occurredAt: string }>;
  nextCursor: string | null;
}

export interface AuditWalk {
  /** The request path of page `page`, with its cursor. */
  pagePath: string;
  page: number;
  walkMs: number;
  /** Mean ms per page of the walk (one request at a time). */
  meanPageMs: number;
}

/**
 * Walks the unfiltered log from page 1 to page `page` once, one request at a time, checking that
 * every page is full and that (occurredAt, id) keeps falling across items and pages (ISO strings
 * in one format and lower-case uuids compare as the database orders them).
 */
export async function walkAuditPages(baseUrl: string, headers: Record<string, string>, accountId: string, page: number): Promise<AuditWalk> {
  const first = `${base(accountId)}?limit=${AUDIT_PAGE_LIMIT}`;
  let path = first;
  let previous: [string, string] | null = null;
  const started = performance.now();
  for (let n = 1; n < page; n++) {
    const answer = (await expectStatus(await fetch(`${baseUrl}${path}`, { headers }), 200, `GET …/audit-events page ${n}`)) as AuditPage;
    if (answer.items.length !== AUDIT_PAGE_LIMIT || !answer.nextCursor) {
      throw new Error(`GET …/audit-events page ${n} answered ${answer.items.length} events${answer.nextCursor ? '' : ' and no next cursor'}; expected ${AUDIT_PAGE_LIMIT} and more to come`);
    }
    for (const item of answer.items) {
      const key: [string, string] = [item.occurredAt, item.id];
      if (previous && !(key[0] < previous[0] || (key[0] === previous[0] && key[1] < previous[1]))) {
        throw new Error(`GET …/audit-events page ${n}: event ${item.id} (${item.occurredAt}) is not older than the one before it (${previous[1]}, ${previous[0]})`);
      }
      previous = key;
    }
    path = `${first}&cursor=${encodeURIComponent(answer.nextCursor)}`;
  }
  const walkMs = performance.now() - started;
  const last = (await expectStatus(await fetch(`${baseUrl}${path}`, { headers }), 200, `GET …/audit-events page ${page}`)) as AuditPage;
  if (last.items.length !== AUDIT_PAGE_LIMIT) throw new Error(`GET …/audit-events page ${page} answered ${last.items.length} events, not ${AUDIT_PAGE_LIMIT}`);
  return { pagePath: path, page, walkMs, meanPageMs: page > 1 ? walkMs / (page - 1) : NaN };
}

export type AuditExportFormat = 'jsonl' | 'csv';

/** One export of the whole log, read to the end by one client. */
export interface AuditExportResult {
  scenario: string;
  format: AuditExportFormat;
  /** Events read: lines (JSON Lines), or lines after the header (CSV). */
  events: number;
  /** Events the account held: what the export must answer. */
  expected: number;
  bytes: number;
  /** Request sent → last byte read, ms. */
  wallMs: number;
  /** Request sent → first byte of the body, ms. */
  firstByteMs: number;
  eventsPerSec: number;
  /**
   * Server RSS, bytes: just before the request, highest while it streamed (VmHWM, reset before, and
   * samples every 100 ms), right after; and the highest sample while the client read the first
   * tenth of the events, so that `peak − firstTenth` tells a ramp-up (the heap growing to its
   * working size) from memory that keeps growing with the events sent (buffering).
   */
  rss: { before: number; peak: number; sampledPeak: number; firstTenth: number; lateGrowth: number; after: number; growth: number; samples: number; peakFrom: 'VmHWM' | 'samples' };
  cpu: CpuUse;
  /** What was wrong with the answer (count, status, first line); empty when right. */
  problems: string[];
}

const NEWLINE = 0x0a;

/** GET …/audit-events/export?format= once, counting lines as they arrive, while sampling the server's RSS every 100 ms. */
export async function measureAuditExport(
  options: { baseUrl: string; headers: Record<string, string>; accountId: string; format: AuditExportFormat; pid: number; database: string | null; expected: number; scenario: string },
): Promise<AuditExportResult> {
  const { pid, format } = options;
  const before = readMemory(pid)?.rss ?? NaN;
  const hwmReset = resetPeak(pid);
  let sampledPeak = before;
  let firstTenth = before;
  let samples = 0;
  let lines = 0;
  const sampler = setInterval(() => {
    const memory = readMemory(pid);
    if (!memory) return;
    samples += 1;
    sampledPeak = Math.max(sampledPeak, memory.rss);
    if (lines <= options.expected / 10) firstTenth = Math.max(firstTenth, memory.rss);
  }, 100);
  const problems: string[] = [];
  let bytes = 0;
  let head = '';
  let lastByte = NEWLINE;
  let firstByteMs = NaN;
  const cpuBefore = cpuSnapshot(pid, options.database);
  const started = performance.now();
  try {
    const response = await fetch(`${options.baseUrl}/api/v1/accounts/${options.accountId}/audit-events/export?format=${format}`, { headers: options.headers });
    if (response.status !== 200 || !response.body) {
      problems.push(`answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    } else {
      const type = response.headers.get('content-type') ?? '';
      if (!type.startsWith(format === 'csv' ? 'text/csv' : 'application/jsonl')) problems.push(`answered content-type ${type}`);
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
        if (head.length < 4096) head += Buffer.from(chunk.subarray(0, 4096)).toString('utf8');
        for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) lines += 1;
        if (chunk.length) lastByte = chunk[chunk.length - 1]!;
      }
    }
  } catch (error) {
    problems.push(`the stream broke off: ${(error as Error).message}`);
  } finally {
    clearInterval(sampler);
  }
  const wallMs = performance.now() - started;
  const cpu = cpuUse(cpuBefore, cpuSnapshot(pid, options.database));
  const afterMemory = readMemory(pid);
  sampledPeak = Math.max(sampledPeak, afterMemory?.rss ?? 0);
  const peak = hwmReset && afterMemory ? Math.max(afterMemory.hwm, sampledPeak) : sampledPeak;

  if (lastByte !== NEWLINE) problems.push('the last line does not end with a newline');
  const firstLine = head.slice(0, head.indexOf('\n') === -1 ? head.length : head.indexOf('\n'));
  const events = format === 'csv' ? Math.max(0, lines - 1) : lines;
  if (bytes > 0) {
    if (format === 'csv' && !firstLine.startsWith('occurred_at,action,actor_type,actor_id,actor_name,')) problems.push(`the CSV header is ${JSON.stringify(firstLine.slice(0, 120))}`);
    if (format === 'jsonl') {
      try {
        const event = JSON.parse(firstLine) as { id?: unknown; occurredAt?: unknown; action?: unknown };
        if (typeof event.id !== 'string' || typeof event.occurredAt !== 'string' || typeof event.action !== 'string') problems.push('the first line is not an event');
      } catch {
        problems.push(`the first line is not JSON: ${JSON.stringify(firstLine.slice(0, 120))}`);
      }
    }
  }
  if (problems.length === 0 && events !== options.expected) problems.push(`${events.toLocaleString('en-US')} events exported, but the account holds ${options.expected.toLocaleString('en-US')}`);
  return {
    scenario: options.scenario,
    format,
    events,
    expected: options.expected,
    bytes,
    wallMs,
    firstByteMs,
    eventsPerSec: events / (wallMs / 1000),
    rss: {
      before,
      peak,
      sampledPeak,
      firstTenth,
      lateGrowth: sampledPeak - firstTenth,
      after: afterMemory?.rss ?? NaN,
      growth: peak - before,
      samples,
      peakFrom: hwmReset ? 'VmHWM' : 'samples',
    },
    cpu,
    problems,
  };
}
