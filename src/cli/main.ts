import { Command, CommanderError } from 'commander';
import { clientCommands } from './client-commands.ts';
import { asCliError, EXIT } from './output.ts';
import { serverCommands } from './server-commands.ts';

/** `tessera`: run and administer the server, and act as a desktop client. */
const program = new Command('tessera')
  .description('Accounts, teams and access for desktop-plus-portal products')
  .version(process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();
serverCommands(program);
clientCommands(program);
program.addHelpText(
  'after',
  `
Exit codes: 0 done, 1 failed, 2 wrong usage or invalid input, 3 not signed in or credentials
refused, 4 refused by the server (a limit, a conflict, not found), 5 server unreachable.`,
);
for (const command of program.commands.flatMap((c) => [c, ...c.commands])) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end with exitCode 0; anything else commander refuses is a usage error
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  const failure = asCliError(error);
  process.stderr.write(`tessera: ${failure.message}\n`);
  process.exit(failure.exitCode);
}
