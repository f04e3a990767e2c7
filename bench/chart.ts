/**
 * docs/benchmarks.svg: the table of a bench run as a chart, written with docs/benchmarks.md.
 * One bar per measured load (requests, pairs, transactions or events per second) on a log scale,
 * since the rows span four orders of magnitude, with p50/p99 beside it; PGlite and PostgreSQL in
 * two colours, the Better Auth peer's rows in a third. Plain SVG text: no library, nothing to
 * render it but the browser that shows the docs.
 *
 * `node bench/chart.ts` redraws it from docs/benchmarks.json (the last run) without measuring.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchRun } from './report.ts';

const WIDTH = 1100;
const LABEL_W = 470;
const BAR_W = 390;
const ROW_H = 22;
const TOP = 78;
const COLOURS = { pglite: '#4c6ef5', postgres: '#12b886', peer: '#f59f00' } as const;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function compact(n: number): string {
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

interface Bar {
  backend: 'pglite' | 'postgres';
  label: string;
  perSec: number;
  p50: number | null;
  p99: number | null;
  peer: boolean;
}

function barsOf(run: BenchRun): Bar[] {
  return run.backends.flatMap((b) =>
    b.scenarios
      .filter((s) => Number.isFinite(s.reqPerSec) && s.reqPerSec > 0)
      .map((s) => ({
        backend: b.backend,
        label: s.scenario,
        perSec: s.reqPerSec,
        p50: Number.isFinite(s.latencyMs?.p50) ? s.latencyMs.p50 : null,
        p99: Number.isFinite(s.latencyMs?.p99) ? s.latencyMs.p99 : null,
        peer: s.scenario.startsWith('peer:'),
      })),
  );
}

/** The chart of `run` as an SVG document. */
export function benchmarkChart(run: BenchRun): string {
  const bars = barsOf(run);
  const max = Math.max(10, ...bars.map((b) => b.perSec));
  const decades = Math.ceil(Math.log10(max));
  const x = (v: number) => LABEL_W + (Math.log10(Math.max(v, 1)) / decades) * BAR_W;
  const height = TOP + bars.length * ROW_H + 40;
  const m = run.machine;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="700">Tessera benchmarks: throughput per scenario (log scale), p50 / p99 latency</text>`,
    `<text x="16" y="44" fill="#555">${escape(`${m.cores} cores, ${m.cpuModel}, Node ${m.node}, commit ${m.commit}, ${m.date.slice(0, 10)}${run.mode === 'quick' ? ', quick run' : ''}: per second of the row's unit (requests, pairs, transactions, events)`)}</text>`,
  ];
  let legendX = 16;
  for (const [name, colour] of [['PGlite', COLOURS.pglite], ['PostgreSQL', COLOURS.postgres], ['Better Auth (peer), PostgreSQL', COLOURS.peer]] as const) {
    out.push(`<rect x="${legendX}" y="54" width="12" height="12" fill="${colour}"/><text x="${legendX + 16}" y="64">${name}</text>`);
    legendX += 40 + name.length * 7;
  }
  for (let d = 0; d <= decades; d++) {
    const gx = x(10 ** d);
    out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${TOP + bars.length * ROW_H}" stroke="#e9ecef"/>`);
    out.push(`<text x="${gx}" y="${TOP + bars.length * ROW_H + 16}" text-anchor="middle" fill="#868e96">${compact(10 ** d)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW_H;
    const colour = bar.peer ? COLOURS.peer : COLOURS[bar.backend];
    const label = bar.label.length > 66 ? `${bar.label.slice(0, 65)}…` : bar.label;
    const latency = bar.p50 !== null && bar.p99 !== null ? ` · ${bar.p50.toFixed(1)} / ${bar.p99.toFixed(1)} ms` : '';
    out.push(`<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${escape(label)}</text>`);
    out.push(`<rect x="${LABEL_W}" y="${y + 4}" width="${Math.max(1, x(bar.perSec) - LABEL_W).toFixed(1)}" height="${ROW_H - 8}" fill="${colour}" rx="2"/>`);
    out.push(`<text x="${x(bar.perSec) + 6}" y="${y + 15}" fill="#343a40">${escape(`${compact(bar.perSec)}/s${latency}`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function writeChart(docsDir: string, run: BenchRun): string {
  const file = path.join(docsDir, 'benchmarks.svg');
  fs.writeFileSync(file, benchmarkChart(run));
  return file;
}

if (import.meta.main) {
  const docs = path.resolve(import.meta.dirname, '../docs');
  const run = JSON.parse(fs.readFileSync(path.join(docs, 'benchmarks.json'), 'utf8')) as BenchRun;
  console.log(`wrote ${writeChart(docs, run)}`);
}
