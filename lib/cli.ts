#!/usr/bin/env node
/**
 * The zsync-streams command line. Each command lives in lib/commands/<name>.ts
 * and exports `run(argv)`, resolving to the process exit code.
 */
import { readFileSync } from 'node:fs';
import { ZsyncError } from './errors.js';
import * as demo from './commands/demo.js';
import * as serve from './commands/serve.js';
import * as sync from './commands/sync.js';
import * as make from './commands/make.js';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  make,
  sync,
  serve,
  demo,
};

function help(): string {
  const lines = [
    'Usage: zsync-streams <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`),
    '',
    'Run `zsync-streams <command> --help` for the options of a command.',
  ];
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`zsync-streams ${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`zsync-streams: unknown command '${name}'\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const code = err instanceof ZsyncError ? ` [${err.code}]` : '';
    process.stderr.write(`zsync-streams ${name}: ${(err as Error).message}${code}\n`);
    return err instanceof ZsyncError && err.code === 'ERR_ZSYNC_INVALID_ARGUMENT' ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`zsync-streams: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
