import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, configFromEnv } from './config.ts';
import { DataDirLockedError } from './db/data-dir-lock.ts';
import { MigrationError } from './db/migrate.ts';
import { serve } from './main.ts';

/**
 * `npm start`: builds the portal when this checkout has none yet, then serves. A fresh clone
 * needs nothing but `npm install && npm start`.
 */
let config;
try {
  config = configFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`tessera: ${error.message}`);
  process.exit(1);
}
const root = path.resolve(import.meta.dirname, '../..');
const ownPortal = path.resolve(config.webDir) === path.join(root, 'dist/web');
// Only the portal of this checkout is built here; another TESSERA_WEB_DIR is served as it is.
if (ownPortal && !fs.existsSync(path.join(root, 'dist/web/index.html')) && fs.existsSync(path.join(root, 'vite.config.ts'))) {
  console.log('Building the portal (first start only)…');
  const result = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('tessera: building the portal failed; the API still starts, the portal will not.');
  }
}
await serve(config).catch((error: unknown) => {
  // expected refusals (a held data directory, a changed migration, a bad plan catalog) read best as one line
  const expected = error instanceof DataDirLockedError || error instanceof MigrationError || error instanceof ConfigError;
  console.error(expected ? `tessera: ${(error as Error).message}` : error);
  process.exit(1);
});
