/**
 * The peer's HTTP server: Better Auth's Node handler on node:http (no framework in front), with
 * GET /healthz for the harness to wait on. PORT, HOST, DATABASE_URL and BETTER_AUTH_SECRET come
 * from the environment (bench/peer.ts sets them); the schema is made by setup.ts beforehand.
 */
import http from 'node:http';
import { toNodeHandler } from 'better-auth/node';
import { createAuth, settingsFromEnv } from './auth.ts';

const { auth, pool } = createAuth(settingsFromEnv());
const handler = toNodeHandler(auth);

const server = http.createServer((request, response) => {
  if (request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (request.url?.startsWith('/api/auth/')) {
    void handler(request, response);
    return;
  }
  response.writeHead(404).end();
});

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
});
