import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { configFromEnv } from './config.ts';
import { serve } from './main.ts';

/**
 * `npm start`: builds the portal when this checkout has none yet, then serves. A fresh clone
 * needs nothing but `npm install && npm start`.
 */
const config = configFromEnv();
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
  console.error(`tessera: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
