import autocannon, { type Request, type Result } from 'autocannon';
import { cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts';
import { monotonicUs } from './profile.ts';
import { readMemory, resetPeak } from './server.ts';

export interface Scenario {
  /** Short name for tables: `GET /healthz`. */
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /**
   * Requests built one by one (autocannon's setupRequest/onResponse), for bodies that change
   * with every request, such as single-use refresh tokens; method, path and headers above are
   * the defaults they start from.
   */
  requests?: Request[];
}

export interface LoadOptions {
  baseUrl: string;
  /** The server process whose memory is watched. */
  pid: number;
  /** Its PostgreSQL database, if any, to tell its backends from others' in the CPU figures. */
  database: string | null;
  durationS: number;
  warmupS: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  scenario: string;
  method: string;
  path: string;
  connections: number;
  durationS: number;
  warmupS: number;
  /** 2xx answers per second over the measured run. */
  reqPerSec: number;
  /** Latency of 2xx answers, ms, from every response (not autocannon's whole-ms histogram). */
  latencyMs: LatencySummary;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Warm-up figures count towards failure too: any non-2xx there is just as wrong. */
  warmup: { ok: number; non2xx: number; errors: number; timeouts: number; statusCodes: Record<string, number> };
  /** Server RSS in bytes: before the warm-up, highest while loaded, right after the run. */
  rss: { idle: number; peak: number; after: number; samples: number; peakFrom: 'VmHWM' | 'samples' };
  /** Average cores used during the measured run: server, PostgreSQL, generator, anything else. */
  cpu: CpuUse;
  /** The measured run on the monotonic clock (µs), to cut a CPU profile to it. */
  window: { fromUs: number; toUs: number };
  /** The server process loaded (it changes when a scenario restarts it). */
  pid: number;
  /** What the rate counts: requests (default), open+close pairs, or database transactions. */
  unit?: 'requests' | 'pairs' | 'transactions';
  /** Scenario-specific figures for the raw JSON (per-request latencies of a pair, fixture sizes, …). */
  detail?: Record<string, unknown>;
  /** autocannon's own summary (whole-millisecond latency histogram), for the raw JSON. */
  autocannon?: { requestsPerSecAvg: number; latencyP50: number; latencyP99: number; sent: number; duration: number };
}

/** A growable array of latencies, so percentiles are exact to the microsecond. */
export class Samples {
  #values = new Float64Array(1 << 16);
  #length = 0;
  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }
  get length(): number {
    return this.#length;
  }
  summary(): LatencySummary {
    const sorted = this.#values.slice(0, this.#length).sort();
    const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), mean: sorted.length ? sum / sorted.length : NaN };
  }
}

function statusCounts(result: Result): Record<string, number> {
  return Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
}

async function fire(scenario: Scenario, options: LoadOptions, durationS: number, latencies?: Samples): Promise<Result> {
  const instance = autocannon({
    url: `${options.baseUrl}${scenario.path}`,
    method: scenario.method,
    headers: scenario.headers ?? {},
    ...(scenario.body === undefined ? {} : { body: scenario.body }),
    ...(scenario.requests === undefined ? {} : { requests: scenario.requests }),
    connections: scenario.connections,
    duration: durationS,
    timeout: 10,
  });
  if (latencies) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  }
  return await instance;
}

/** What one round of a custom load (a warm-up or the measured run) answered. */
export interface Round {
  /** Units done (requests, open+close pairs, transactions), for the rate. */
  units: number;
  /** Seconds from the first request sent to the last answer. */
  elapsedS: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

/** A load driven by the harness itself rather than autocannon (request chains, database references). */
export interface CustomLoad {
  /** Runs the load for durationS; `latencies` is given for the measured run only. */
  round(durationS: number, latencies?: Samples): Promise<Round>;
  /** Called between the warm-up and the measured run. */
  between?(): Promise<void>;
}

/** Warms up, then loads one scenario for durationS while sampling the server's memory. */
export async function runLoad(scenario: Scenario, options: LoadOptions, custom?: CustomLoad): Promise<LoadResult> {
  const idle = readMemory(options.pid)?.rss ?? NaN;
  const hwmReset = resetPeak(options.pid);
  let sampledPeak = idle;
  let samples = 0;
  const sampler = setInterval(() => {
    const memory = readMemory(options.pid);
    if (!memory) return;
    samples += 1;
    sampledPeak = Math.max(sampledPeak, memory.rss);
  }, 100);
  const round = async (durationS: number, latencies?: Samples): Promise<Round & { result?: Result }> => {
    if (custom) return custom.round(durationS, latencies);
    const result = await fire(scenario, options, durationS, latencies);
    return {
      units: result['2xx'],
      elapsedS: result.duration,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: statusCounts(result),
      result,
    };
  };
  try {
    const warm = options.warmupS > 0 ? await round(options.warmupS) : null;
    await custom?.between?.();
    const latencies = new Samples();
    const cpuBefore = cpuSnapshot(options.pid, options.database);
    const fromUs = monotonicUs();
    const measured = await round(options.durationS, latencies);
    const toUs = monotonicUs();
    const cpu = cpuUse(cpuBefore, cpuSnapshot(options.pid, options.database));
    const after = readMemory(options.pid);
    sampledPeak = Math.max(sampledPeak, after?.rss ?? 0);
    const peak = hwmReset && after ? Math.max(after.hwm, sampledPeak) : sampledPeak;
    const result = measured.result;
    return {
      scenario: scenario.name,
      method: scenario.method,
      path: scenario.path,
      connections: scenario.connections,
      durationS: options.durationS,
      warmupS: options.warmupS,
      reqPerSec: measured.units / measured.elapsedS,
      latencyMs: latencies.summary(),
      ok: measured.ok,
      non2xx: measured.non2xx,
      errors: measured.errors,
      timeouts: measured.timeouts,
      statusCodes: measured.statusCodes,
      warmup: warm
        ? { ok: warm.ok, non2xx: warm.non2xx, errors: warm.errors, timeouts: warm.timeouts, statusCodes: warm.statusCodes }
        : { ok: 0, non2xx: 0, errors: 0, timeouts: 0, statusCodes: {} },
      rss: { idle, peak, after: after?.rss ?? NaN, samples, peakFrom: hwmReset ? 'VmHWM' : 'samples' },
      cpu,
      window: { fromUs, toUs },
      pid: options.pid,
      ...(result
        ? {
            autocannon: {
              requestsPerSecAvg: result.requests.average,
              latencyP50: result.latency.p50,
              latencyP99: result.latency.p99,
              sent: result.requests.sent,
              duration: result.duration,
            },
          }
        : {}),
    };
  } finally {
    clearInterval(sampler);
  }
}

/** Why a run does not count: non-2xx answers, socket errors or timeouts, in warm-up or run. */
export function failureOf(result: LoadResult): string | null {
  const problems: string[] = [];
  const { warmup } = result;
  if (result.non2xx > 0 || warmup.non2xx > 0) {
    const codes = { ...warmup.statusCodes };
    for (const [code, count] of Object.entries(result.statusCodes)) codes[code] = (codes[code] ?? 0) + count;
    const bad = Object.entries(codes).filter(([code]) => !code.startsWith('2')).map(([code, n]) => `${n}× ${code}`);
    problems.push(`non-2xx answers: ${bad.join(', ')}`);
  }
  if (result.errors > 0 || warmup.errors > 0) problems.push(`${result.errors + warmup.errors} socket errors`);
  if (result.timeouts > 0 || warmup.timeouts > 0) problems.push(`${result.timeouts + warmup.timeouts} timeouts`);
  if (result.ok === 0) problems.push('no successful answer at all');
  return problems.length ? problems.join('; ') : null;
}
