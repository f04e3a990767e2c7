import type { Command } from 'commander';
import { print } from './output.ts';
import { readSecret } from './prompt.ts';

/**
 * Commands that run the server or work on its database directly. The server modules are loaded
 * only when one of these runs, so the client commands start fast.
 */

/** Opens the configured database, brings it up to date, and runs `work` on it. */
async function withDatabase<T>(
  work: (database: import('../server/db/database.ts').Database, applied: string[], config: import('../server/config.ts').Config) => Promise<T>,
): Promise<T> {
  const [{ configFromEnv }, { openDatabase }, { migrate }] = await Promise.all([
    import('../server/config.ts'),
    import('../server/db/database.ts'),
    import('../server/db/migrate.ts'),
  ]);
  const config = configFromEnv();
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    const applied = await migrate(database);
    return await work(database, applied, config);
  } finally {
    await database.close();
  }
}

export function serverCommands(program: Command): void {
  program
    .command('serve')
    .description('Serve the portal and the API (configured by TESSERA_* variables and DATABASE_URL, as `npm start`)')
    .action(async () => {
      await import('../server/start.ts');
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .option('--json', 'print the applied migrations as JSON')
    .action(async (options: { json?: boolean }) => {
      const applied = await withDatabase(async (_database, applied) => applied);
      if (!options.json && applied.length === 0) process.stdout.write('The database is up to date.\n');
      else print(Boolean(options.json), { applied }, applied.map((name) => ({ applied: name })));
    });

  const admin = program.command('admin').description("Administration on the server's database (stop the server first when it runs on the embedded database)");

  admin
    .command('create-account')
    .description('Create an account and its owner; an existing person becomes the owner of the new account')
    .requiredOption('--email <email>', "the owner's email")
    .requiredOption('--company <name>', 'company name')
    .requiredOption('--country <code>', 'ISO country code, e.g. DE')
    .option('--name <name>', "the owner's name (for a new person)")
    .option('--plan <id>', 'a plan of the catalog (default: its default plan)')
    .option('--json', 'print as JSON')
    .action(async (options: { email: string; company: string; country: string; name?: string; plan?: string; json?: boolean }) => {
      const [{ adminCreateAccount }, { loadPlanCatalog }] = await Promise.all([import('./admin.ts'), import('../server/domain/plans/catalog.ts')]);
      const created = await withDatabase((database, _applied, config) =>
        adminCreateAccount(database, loadPlanCatalog(config.plansFile), options, () => readSecret('Password for the new owner: ')),
      );
      print(Boolean(options.json), created, [
        { account: created.account.id, company: created.account.companyName, owner: created.owner.email, new: created.newUser ? 'yes' : 'no' },
      ]);
    });

  admin
    .command('reset-password')
    .description("Set a person's password (asked for, or read from standard input); ends their sessions")
    .requiredOption('--email <email>', "the person's email")
    .action(async (options: { email: string }) => {
      const { adminResetPassword } = await import('./admin.ts');
      await withDatabase((database) => adminResetPassword(database, options.email, () => readSecret('New password: ')));
      process.stdout.write(`Password set for ${options.email}; their sessions have ended.\n`);
    });

  admin
    .command('list-accounts')
    .description('Every account with its owners, plan and size')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { adminListAccounts } = await import('./admin.ts');
      const accounts = await withDatabase((database) => adminListAccounts(database));
      print(
        Boolean(options.json),
        accounts,
        accounts.map((a) => ({
          id: a.id,
          company: a.companyName,
          country: a.country,
          plan: a.planId,
          owners: a.owners.join(', '),
          users: String(a.users),
          members: String(a.members),
          created: a.createdAt.slice(0, 10),
        })),
      );
    });
}
