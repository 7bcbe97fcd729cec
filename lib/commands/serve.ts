import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { createRangeServer } from '../transport/range-server.js';
import { integerOption, parseCommandLine } from './args.js';

export const summary = 'serve a folder over HTTP with Range and multi-range support';
export const usage = `Usage: zsync-streams serve [-p PORT] [--host 127.0.0.1] DIR

A small static server for demos and tests (not a replacement for nginx):
single and multiple byte ranges (multipart/byteranges), ETag, Last-Modified,
If-Match, If-Range. Stops on Ctrl-C.

  -p, --port PORT   port to listen on (default 8080; 0 picks a free one)
      --host HOST   address to listen on (default 127.0.0.1)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
  });
  if (positionals.length !== 1) throw new InvalidArgumentError(`expected one folder to serve, got ${positionals.length}`);
  const root = positionals[0]!;
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) throw new InvalidArgumentError(`${root} is not a folder`);
  const server = createRangeServer({ root });
  server.listen(integerOption('port', values.port, 8080), values.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address && typeof address === 'object') {
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    process.stdout.write(`serving ${root} at http://${host}:${address.port}/\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
