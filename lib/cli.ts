#!/usr/bin/env node
/**
 * The zsync-streams command line. Each command lives in lib/commands/<name>.ts
 * and exports `run(argv)`, resolving to the process exit code.
 */
import { packageVersion } from './module-root.js';
import { printable, ZsyncError } from './errors.js';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

// Loaded on demand: importing every command (HTTP, control files, progress bar)
// cost a noticeable part of a short run's time.
const COMMANDS: Record<string, () => Promise<Command>> = {
  make: () => import('./commands/make.js'),
  sync: () => import('./commands/sync.js'),
  serve: () => import('./commands/serve.js'),
  demo: () => import('./commands/demo.js'),
};

async function help(): Promise<string> {
  const summaries = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, (await load()).summary] as const));
  const lines = [
    'Usage: zsync-streams <command> [options]',
    '',
    'Commands:',
    ...summaries.map(([name, summary]) => `  ${name.padEnd(8)} ${summary}`),
    '',
    'Run `zsync-streams <command> --help` for the options of a command.',
  ];
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await help()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`zsync-streams ${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`zsync-streams: unknown command '${name}'\n\n${await help()}\n`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const code = err instanceof ZsyncError ? ` [${err.code}]` : '';
    process.stderr.write(`zsync-streams ${name}: ${printable((err as Error).message)}${code}\n`);
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
