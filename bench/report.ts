import fs from 'node:fs';
import path from 'node:path';
import type { Argon2Reference } from './argon2.ts';
import type { PropagationResult } from './client-api.ts';
import type { CpuUse } from './cpu.ts';
import type { LoadResult } from './load.ts';
import type { Machine } from './machine.ts';

export type Backend = 'pglite' | 'postgres';

export interface StartTiming {
  /** spawn → first 200 from /healthz, ms. */
  healthzMs: number;
  /** RSS one second after /healthz answered, bytes. */
  idleRss: number;
}

export interface BackendRun {
  backend: Backend;
  /** spawn → /readyz on a fresh database, ms. */
  readyMs: number;
  /** RSS after start, before the fixtures (register, sign-in check), bytes. */
  idleRss: number;
  scenarios: LoadResult[];
  /** me ÷ healthz and sign-in ÷ argon2 limit by scenario name; sign-in ÷ measured (SIGN_IN_MEASURED). */
  ratios: Record<string, number>;
  /** The server's V8 CPU profile (--profile only). */
  profile?: string;
  /** PostgreSQL only: desktop sessions revoked on this server, refused by a second node. */
  propagation?: PropagationResult;
}

export interface BenchRun {
  mode: 'quick' | 'full';
  settings: { durationS: number; warmupS: number; connections: Record<string, number> };
  machine: Machine;
  argon2: Argon2Reference;
  start: { cold: StartTiming; warm: StartTiming } | null;
  /** CPU in use by other processes just before the run (cores). */
  background: CpuUse;
  backends: BackendRun[];
  failures: string[];
  notes: string[];
}

export const SCENARIO = {
  health: 'GET /healthz',
  me: 'GET /api/v1/me',
  signIn: 'POST /api/v1/auth/sign-in',
  clientMe: 'GET /client/v1/me',
  clientToken: 'POST /client/v1/token (login token)',
  clientRefresh: 'POST /client/v1/token (refresh)',
} as const;

/** GET /client/v1/me should reach this share of /healthz (a cached access token, one query). */
export const CLIENT_ME_AIM = 0.7;
/** Node B should refuse a revoked access token within this many ms (p99). */
export const PROPAGATION_AIM_MS = 100;

/** Key in BackendRun.ratios: sign-in ÷ the hash rate measured with `cores` hashes in flight. */
export const SIGN_IN_MEASURED = `${SCENARIO.signIn} ÷ measured parallel argon2`;

const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(0)} MiB` : '—');
const gib = (bytes: number) => `${(bytes / 1073741824).toFixed(1)} GiB`;
const ms = (value: number) => (!Number.isFinite(value) ? '—' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
const seconds = (valueMs: number) => `${(valueMs / 1000).toFixed(2)} s`;
const rate = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1));

function ratioText(run: BackendRun, result: LoadResult): string {
  const ratio = run.ratios[result.scenario];
  if (result.scenario === SCENARIO.health) return 'baseline';
  if (ratio === undefined) return '—';
  if (result.scenario !== SCENARIO.signIn) return `${ratio.toFixed(2)} of /healthz`;
  const measured = run.ratios[SIGN_IN_MEASURED];
  return `${ratio.toFixed(2)} of argon2 limit` + (measured === undefined ? '' : ` (${measured.toFixed(2)} of measured)`);
}

const HEADERS = ['Backend', 'Scenario', 'Conns', 'req/s', 'Ratio', 'p50 ms', 'p99 ms', 'non-2xx+err', 'RSS idle', 'RSS peak', 'RSS after', 'CPU srv/db/gen/other'];
const RIGHT = new Set([2, 3, 5, 6, 7, 8, 9, 10, 11]);
const cores = (c: CpuUse) => [c.server, c.postgres, c.generator, c.other].map((v) => v.toFixed(2)).join('/');

function propagationRow(b: BackendRun): string[][] {
  const p = b.propagation;
  if (!p) return [];
  return [
    [
      b.backend,
      p.scenario,
      '2 nodes',
      '—',
      `${p.revocations} revocations (aim p99 ≤ ${PROPAGATION_AIM_MS} ms)`,
      ms(p.fromSentMs.p50),
      ms(p.fromSentMs.p99),
      String(p.failures.length),
      '—',
      '—',
      '—',
      '—',
    ],
  ];
}

function rows(run: BenchRun): string[][] {
  return run.backends.flatMap((b) => [
    ...b.scenarios.map((r) => [
      b.backend,
      r.scenario,
      String(r.connections),
      rate(r.reqPerSec),
      ratioText(b, r),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p99),
      String(r.non2xx + r.warmup.non2xx + r.errors + r.warmup.errors + r.timeouts + r.warmup.timeouts),
      mib(r.rss.idle),
      mib(r.rss.peak),
      mib(r.rss.after),
      cores(r.cpu),
    ]),
    ...propagationRow(b),
  ]);
}

function textTable(headers: string[], body: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (RIGHT.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function markdownTable(headers: string[], body: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map((_, i) => (RIGHT.has(i) ? '---:' : '---'))), ...body.map(line)].join('\n');
}

function describeLoad(run: BenchRun): string {
  const c = run.settings.connections;
  return (
    `autocannon in the harness process (one thread), ${run.settings.durationS} s per scenario after a ` +
    `${run.settings.warmupS} s warm-up; ${c.get} connections for the GETs, ${c.signIn} for sign-in, ` +
    `${c.token ?? c.signIn} for the token endpoint. ` +
    `Login-token exchanges cycle through ${c.token ?? c.signIn} login tokens of one member, each exchange opening a new desktop session; ` +
    `each refresh connection carries one desktop session that keeps rotating, every request presenting the single-use ` +
    `refresh token the previous answer returned (never one already sent), so req/s is sustained rotations. ` +
    `The server runs as a child process; generator, server (and PostgreSQL) share the same ` +
    `${run.machine.cores} cores, so absolute figures understate a dedicated server. ` +
    `CPU columns: average cores used during the run by the server process, PostgreSQL's processes, the ` +
    `load generator, and everything else on the machine (${run.background.other.toFixed(2)} cores just before the run).`
  );
}

function referenceLines(run: BenchRun): string[] {
  const a = run.argon2;
  const lines = [
    `argon2id (m=${a.options.memoryCost} KiB, t=${a.options.timeCost}, p=${a.options.parallelism}): ` +
      `${ms(a.msPerHash)} ms per hash on one core (fastest of ${a.samplesMs.length}; median ${ms(a.medianMs)} ms) → sign-in limit ${a.cores} × 1000 / ${ms(a.msPerHash)} = ` +
      `${rate(a.limitPerSec)}/s (measured with ${a.cores} hashes in flight, best of 3: ${rate(a.parallelHashesPerSec)} hashes/s)`,
  ];
  if (run.start) {
    lines.push(
      `Start, PGlite (spawn of node src/server/start.ts → /healthz answers): empty data dir ${seconds(run.start.cold.healthzMs)} ` +
        `(idle RSS ${mib(run.start.cold.idleRss)}), second start ${seconds(run.start.warm.healthzMs)} (idle RSS ${mib(run.start.warm.idleRss)})`,
    );
  }
  for (const b of run.backends) {
    lines.push(`Start for the load runs, ${b.backend} (fresh database, spawn → /readyz): ${seconds(b.readyMs)}, idle RSS ${mib(b.idleRss)}`);
  }
  for (const b of run.backends) {
    const p = b.propagation;
    if (!p) continue;
    lines.push(
      `${p.scenario}, ${b.backend}: a second server process on the same database and secret (access tokens cached ${p.nodeBCacheSeconds} s there). ` +
        `${p.revocations} times (after ${p.warmup} unmeasured): a desktop client signs in on node A, node B caches its access token ` +
        `(GET /client/v1/me → 200), node A revokes the session (POST /client/v1/revoke) while node B is polled back to back ` +
        `(${p.pollsMean.toFixed(1)} polls per revocation on average). Revoke sent → node B's first 401: ` +
        `p50 ${ms(p.fromSentMs.p50)} ms, p90 ${ms(p.fromSentMs.p90)} ms, p99 ${ms(p.fromSentMs.p99)} ms, max ${ms(p.fromSentMs.max)} ms; ` +
        `node A's answer → node B's first 401: p50 ${ms(p.afterAnswerMs.p50)} ms, p99 ${ms(p.afterAnswerMs.p99)} ms ` +
        `(node A answers the revocation in p50 ${ms(p.revokeMs.p50)} ms, p99 ${ms(p.revokeMs.p99)} ms)` +
        (p.failures.length ? `; ${p.failures.length} failed: ${p.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  return lines;
}

/** The final table for stdout. */
export function textReport(run: BenchRun): string {
  const m = run.machine;
  return [
    `Tessera benchmarks — ${run.mode} run`,
    `Machine  ${m.cores} cores, ${m.cpuModel}, ${gib(m.memoryBytes)} memory, ${m.kernel}`,
    `Node     ${m.node}`,
    `Commit   ${m.commit}`,
    `Date     ${m.date}`,
    `Load     ${describeLoad(run)}`,
    '',
    textTable(HEADERS, rows(run)),
    '',
    ...referenceLines(run),
    ...run.notes.map((n) => `Note: ${n}`),
    ...(run.failures.length ? ['', 'FAILED:', ...run.failures.map((f) => `  ${f}`)] : []),
  ].join('\n');
}

/** The generated part of docs/benchmarks.md. */
export function markdownSection(run: BenchRun): string {
  const m = run.machine;
  return [
    `Generated by \`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` on ${m.date.slice(0, 10)} (raw figures: [benchmarks.json](benchmarks.json)).`,
    '',
    '| Machine | Node | Commit | Date |',
    '| --- | --- | --- | --- |',
    `| ${m.cores} cores, ${m.cpuModel}, ${gib(m.memoryBytes)}, ${m.kernel} | ${m.node} | \`${m.commit}\` | ${m.date} |`,
    '',
    `Load: ${describeLoad(run)}`,
    '',
    markdownTable(HEADERS, rows(run)),
    '',
    ...referenceLines(run).map((l) => `- ${l}`),
    ...run.notes.map((n) => `- ${n}`),
    ...(run.failures.length ? ['', '**This run failed:**', '', ...run.failures.map((f) => `- ${f}`)] : []),
  ].join('\n');
}

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

const INTRO = `# Benchmarks

\`npm run bench\` measures the server as \`npm start\` runs it. It starts \`node src/server/start.ts\`
as a child process (so the server's memory is measured apart from the load generator), first on
PGlite in a fresh data directory, then on a fresh database on the PostgreSQL server at
\`127.0.0.1:5432\` (dropped afterwards), and loads it with
[autocannon](https://github.com/mcollina/autocannon): \`GET /healthz\` as the baseline,
\`GET /api/v1/me\` with a session cookie, \`POST /api/v1/auth/sign-in\` with the right
password, and the desktop client API: \`GET /client/v1/me\` with an access token, and
\`POST /client/v1/token\` exchanging login tokens and rotating refresh tokens. On PostgreSQL it
also starts a second server process on the same database and times how soon that node refuses
an access token the first node revoked. It also times argon2id on this machine, and the start of
\`npm start\` on an empty and on an existing data directory.

\`\`\`sh
npm run bench              # 10 s per scenario after a 2 s warm-up; rewrites the results below
npm run bench -- --quick   # 3 s per scenario: everything in under two minutes
npm run bench -- --help    # --duration, --connections, --backends, --scenarios, --revocations, --no-write,
                           # --profile (V8 CPU profiles of the server, summarized per scenario),
                           # --wait-quiet (wait for other processes to leave the CPU first)
\`\`\`

Progress goes to stderr, the table to stdout; the section between the \`bench\` markers below
and [benchmarks.json](benchmarks.json) (raw figures) are rewritten, the rest of this file is
kept. Any non-2xx answer or socket error fails the run (exit code 1) and leaves both alone.

## Reading the figures

Absolute requests per second depend on the machine, and on this one the load generator and the
database share the cores with the server. The ratios, measured in the same run, travel better:

- **\`/api/v1/me\` ÷ \`/healthz\`**: \`/healthz\` does no work, so it is the ceiling of the HTTP
  stack on this machine. The ratio is what resolving a session cookie and answering the person
  and their accounts costs on top of that; near 1 means the session cache carries the load.
- **sign-in ÷ argon2 limit**: a sign-in must hash the password once with argon2id (19 MiB,
  2 passes), which the harness times on one core (the fastest of a series).
  \`cores × 1000 / ms per hash\` is the most sign-ins the machine can do; the ratio shows how
  close the server comes to it (the rest is the database work, the HTTP stack and the load
  generator sharing the cores). In brackets: the ratio to the hash rate measured with one hash
  in flight per core, which is lower than the limit where cores share caches and memory
  bandwidth (hyper-threads, small VMs).
- **\`/client/v1/me\` ÷ \`/healthz\`**: the same for the desktop client: resolving an access
  token (cached per node) and answering the member, its account and its limits. The aim is 0.7.
- **\`POST /client/v1/token\`** writes: a login-token exchange opens a desktop session (session,
  token pair, audit record); a refresh rotates the pair. Both are database-bound; their ratio to
  \`/healthz\` is given for scale. A refresh token is single use (presenting it twice revokes the
  session), so the refresh scenario keeps one desktop session per connection rotating: each
  request sends the refresh token the previous answer returned, taken from a pool filled by
  login-token exchanges before the run. No refresh token is sent twice; req/s counts the
  rotations answered 200.
- **Revocation node A → node B** (PostgreSQL only): a second server process on the same
  database and secret, caching access tokens for 60 s. Each time, a desktop client signs in on
  node A, node B caches its access token, node A revokes the session (the desktop sign-out)
  while node B is polled back to back; p50/p99 are from sending the revocation to node B's first
  401, which only the NOTIFY explains. The aim is p99 ≤ 100 ms.
- **RSS** is the server process's resident memory: before the scenario's warm-up, the peak
  while loaded (VmHWM, reset before each scenario), and right after.
- **CPU srv/db/gen/other** is the average number of cores the server process, PostgreSQL, the
  load generator and all other processes used during the run. A run where "other" is well
  above zero shared the machine with something else (a test suite, a build) and is noisy.

## Latest results

`;

/** Replaces the generated section of docs/benchmarks.md (creating the file when missing). */
export function writeDocs(docsDir: string, run: BenchRun): { markdown: string; json: string } {
  fs.mkdirSync(docsDir, { recursive: true });
  const markdownPath = path.join(docsDir, 'benchmarks.md');
  const jsonPath = path.join(docsDir, 'benchmarks.json');
  const section = `${START}\n${markdownSection(run)}\n${END}`;
  let current: string;
  try {
    current = fs.readFileSync(markdownPath, 'utf8');
  } catch {
    current = INTRO;
  }
  const from = current.indexOf(START);
  const to = current.indexOf(END, from);
  const next =
    from >= 0 && to >= 0
      ? current.slice(0, from) + section + current.slice(to + END.length)
      : `${current.replace(/\s*$/, '\n\n')}${section}\n`;
  fs.writeFileSync(markdownPath, next);
  fs.writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  return { markdown: markdownPath, json: jsonPath };
}
