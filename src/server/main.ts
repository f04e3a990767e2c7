import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { loadServerSecret } from './auth/server-secret.ts';
import { configFromEnv, type Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { startHousekeeping } from './housekeeping.ts';

export interface RunningServer {
  app: FastifyInstance;
  database: Database;
  url: string;
  stop(): Promise<void>;
}

/** Opens the database, applies migrations, builds the app and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, sharedBuffers: config.pgliteSharedBuffers });
  try {
    await migrate(database);
    const secret = loadServerSecret(config.secret, config.dataDir);
    const app = await buildApp({ config, database, secret });
    const url = await app.listen({ port: config.port, host: config.host });
    const stopHousekeeping = startHousekeeping({ database, clock: app.services.clock, log: app.log, auditRetentionDays: config.auditRetentionDays, everyMinutes: config.housekeepingMinutes });
    let stopping: Promise<void> | null = null;
    return {
      app,
      database,
      url,
      stop() {
        // Fastify answers new requests with 503 and lets in-flight ones finish before closing.
        stopping ??= Promise.all([app.close(), stopHousekeeping()]).then(() => database.close());
        return stopping;
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** `npm start` and `tessera serve`: runs until SIGTERM or SIGINT, then drains and exits. */
export async function serve(config: Config = configFromEnv()): Promise<void> {
  const server = await startServer(config);
  const backend = server.database.kind === 'pglite' ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL server';
  server.app.log.info(`Tessera is serving ${server.url.replace(/\/\/(0\.0\.0\.0|\[::\])/, '//localhost')} on ${backend}`);
  const shutdown = (signal: string) => {
    server.app.log.info({ signal }, 'draining in-flight requests, then closing the database');
    const force = setTimeout(() => {
      server.app.log.error('shutdown grace period ran out; exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
