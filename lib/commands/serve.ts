import { once } from 'node:events';
import { unwatchFile, watchFile } from 'node:fs';
import { stat as statAsync } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { InvalidArgumentError, printable } from '../errors.js';
import { createRangeServer } from '../transport/range-server.js';
import { integerOption, parseCommandLine } from './args.js';

export const summary = 'serve a folder over HTTP (Range requests), or files over a socket (--socket)';
export const usage = `Usage: zsync-streams serve [-p PORT] [--host 127.0.0.1] DIR
       zsync-streams serve --socket PORT [--host 127.0.0.1] FILE...

Over HTTP: a small static server for demos and tests (not a replacement for
nginx): single and multiple byte ranges (multipart/byteranges), ETag,
Last-Modified, If-Match, If-Range.

With --socket: the zsync-streams socket protocol on a TCP port. The server
computes each FILE's checksums once, sends them to every client, answers their
block requests from a shared cache, and when a FILE changes on disk announces
the new version to every connected client (\`sync --follow tcp://HOST:PORT\`).
The first FILE is the default; the others are asked for as tcp://HOST:PORT/NAME.

Stops on Ctrl-C.

  -p, --port PORT      HTTP port to listen on (default 8080; 0 picks a free one)
      --socket PORT    serve FILE(s) over the socket protocol on PORT instead
      --host HOST      address to listen on (default 127.0.0.1)
      --poll-ms MS     how often to look for changes of FILE(s) (default 1000)
      --cache-mb MB    block cache shared by all clients (default 32)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: 'string', short: 'p' },
    socket: { type: 'string' },
    host: { type: 'string' },
    'poll-ms': { type: 'string' },
    'cache-mb': { type: 'string' },
  });
  const host = values.host ?? '127.0.0.1';
  if (values.socket !== undefined) {
    if (values.port !== undefined) throw new InvalidArgumentError('--port is for HTTP; --socket takes its own port');
    return serveSocket(positionals, integerOption('socket', values.socket, 0), host, integerOption('poll-ms', values['poll-ms'], 1000), integerOption('cache-mb', values['cache-mb'], 32));
  }
  if (positionals.length !== 1) throw new InvalidArgumentError(`expected one folder to serve, got ${positionals.length}`);
  const root = positionals[0]!;
  if (!(await statAsync(root).catch(() => undefined))?.isDirectory()) throw new InvalidArgumentError(`${root} is not a folder`);
  const server = createRangeServer({ root });
  server.listen(integerOption('port', values.port, 8080), host);
  await once(server, 'listening');
  process.stdout.write(`serving ${root} at http://${addressOf(server)}/\n`);
  await untilSignal(server, () => server.closeAllConnections());
  return 0;
}

async function serveSocket(files: string[], port: number, host: string, pollMs: number, cacheMb: number): Promise<number> {
  if (files.length === 0) throw new InvalidArgumentError('expected at least one FILE to serve');
  for (const f of files) {
    if (!(await statAsync(f).catch(() => undefined))?.isFile()) throw new InvalidArgumentError(`${f} is not a file`);
  }
  // Loaded here: the HTTP form does not need zsyncmake and the socket code.
  const { createSyncServer } = await import('../socket/server.js');
  const sync = createSyncServer({ files, maxBytes: Math.max(1, cacheMb) * 1024 * 1024 });
  sync.on('session-error', (err: Error & { code?: string }) => process.stderr.write(`client dropped: ${printable(err.message)}${err.code ? ` [${err.code}]` : ''}\n`));
  sync.on('version', ({ name, version }: { name: string; version: number }) => process.stdout.write(`${name}: version ${version}\n`));
  await sync.ready;
  const server = createServer(sync.handle);
  server.listen(port, host);
  await once(server, 'listening');
  const names = sync.names;
  process.stdout.write(`serving ${names.join(', ')} at tcp://${addressOf(server)}/\n`);
  // Polling, not fs.watch: it also sees a file replaced by rename, the usual way to publish.
  const watched = names.map((name) => sync.pathOf(name));
  names.forEach((name, i) => {
    watchFile(watched[i]!, { interval: Math.max(50, pollMs), persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
      if (now.nlink === 0 && now.size === 0) return; // gone for a moment while being replaced
      sync.update(name).catch((err: Error) => process.stderr.write(`${name}: update failed: ${err.message}\n`));
    });
  });
  await untilSignal(server, () => void sync.close());
  for (const f of watched) unwatchFile(f);
  return 0;
}

function addressOf(server: Server | ReturnType<typeof createRangeServer>): string {
  const a = server.address() as AddressInfo;
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** Runs until SIGINT or SIGTERM, then closes `server` (after `drop()` ends its connections). */
function untilSignal(server: { close(cb: () => void): unknown }, drop: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      drop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
