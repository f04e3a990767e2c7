import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<package>, a file of this checkout, node:internal, or V8's own buckets. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
}

function top(map: Map<string, number>, total: number, count: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}

/** A stretch of the monotonic clock in microseconds (process.hrtime, V8's profile timestamps). */
export interface Window {
  label: string;
  fromUs: number;
  toUs: number;
}

export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time of a V8 .cpuprofile by module and by function, and inclusive time by module
 * (a module counted once per sample however deep it recurses), optionally only for the samples
 * inside a window (one scenario's measured run rather than the server's whole life).
 */
export function summarizeProfile(file: string, count = 25, window?: Window): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfByFunction = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  const inclusiveByModule = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += dt;
      return;
    }
    total += dt;
    const module = moduleOf(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${module}${url ? `:${lineNumber + 1}` : ''}`;
    selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + dt);
    selfByModule.set(module, (selfByModule.get(module) ?? 0) + dt);
    const seen = new Set<string>();
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const frame = byId.get(up)!.callFrame;
      const m = moduleOf(frame.url, frame.functionName);
      if (m === '(root)' || seen.has(m)) continue;
      seen.add(m);
      inclusiveByModule.set(m, (inclusiveByModule.get(m) ?? 0) + dt);
    }
  });
  return [
    `${path.basename(file)}${window ? ` during ${window.label}` : ''}: ${(total / 1000).toFixed(0)} ms busy, ` +
      `${(idle / 1000).toFixed(0)} ms idle on the main thread`,
    '',
    'Self time by module:',
    ...top(selfByModule, total, count),
    '',
    'Inclusive time by module (async continuations make hooks look inclusive of what follows them):',
    ...top(inclusiveByModule, total, count),
    '',
    'Self time by function:',
    ...top(selfByFunction, total, count),
  ].join('\n');
}

// node bench/profile.ts <file.cpuprofile> [count]
if (import.meta.main) {
  const [file, count] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/profile.ts <file.cpuprofile> [count]');
    process.exit(2);
  }
  console.log(summarizeProfile(file, count ? Number(count) : 25));
}
