import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * `npm run fuzz`: the fuzzer of test/api/fuzz.test.ts, longer than in `npm test` and with a
 * random seed, printed before the run and again after a failure (docs/fuzzing.md).
 *
 *   npm run fuzz
 *   npm run fuzz -- --seed 123456 --runs 20 --backend pglite --ops createOrganization,getAccount --skip rawPath,nul
 */

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    runs: { type: 'string' },
    backend: { type: 'string' },
    ops: { type: 'string' },
    skip: { type: 'string' },
  },
});

const seed = values.seed ?? process.env.TESSERA_FUZZ_SEED ?? String(randomInt(0, 2 ** 31 - 1));
const runs = values.runs ?? process.env.TESSERA_FUZZ_RUNS ?? '5';
const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_FUZZ_SEED: seed, TESSERA_FUZZ_RUNS: runs };
if (values.backend) env.TESSERA_FUZZ_BACKENDS = values.backend;
if (values.ops) env.TESSERA_FUZZ_OPS = values.ops;
if (values.skip) env.TESSERA_FUZZ_SKIP = values.skip;

const replay = [`--seed ${seed}`, `--runs ${runs}`, ...(values.backend ? [`--backend ${values.backend}`] : []), ...(values.ops ? [`--ops ${values.ops}`] : []), ...(values.skip ? [`--skip ${values.skip}`] : [])].join(' ');
console.log(`# fuzz: seed ${seed}, ${runs} run(s) per operation and kind of request (replay: npm run fuzz -- ${replay})`);

const test = fileURLToPath(new URL('./fuzz.test.ts', import.meta.url));
const result = spawnSync(process.execPath, ['--test', '--test-timeout=0', test], { env, stdio: 'inherit' });

if (result.status === 0) {
  console.log(`# fuzz: passed with seed ${seed}`);
} else {
  console.log(`# fuzz: FAILED with seed ${seed}; replay with: npm run fuzz -- ${replay}`);
}
process.exit(result.status ?? 1);
