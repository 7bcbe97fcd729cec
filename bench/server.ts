/**
 * The loopback HTTP server of the bench's sync case: nginx with an access log
 * in a format the harness reads (requests, bytes sent, the Range asked for), or
 * our own `serve` when nginx is missing (no log: the programs' own counts then).
 * nginx is started by test/support/nginx.ts, the tests' own starter, with a
 * log_format at http level.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetCounts } from './report.js';
import { startNginx as startTestNginx } from '../test/support/nginx.js';

export interface BenchServer {
  /** 'nginx/1.22.1 (/usr/sbin/nginx)' or 'zsync-streams serve'. */
  name: string;
  url(path: string): string;
  /** nginx's access log, in LOG_FORMAT; null for `serve`. */
  accessLog: string | null;
  stop(): Promise<void>;
}

/** One line per request: connection serial, status, $bytes_sent, $body_bytes_sent, Range header, path. */
const LOG_FORMAT = `'$connection $status $bytes_sent $body_bytes_sent "$http_range" "$uri"'`;

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** nginx serving `root` on 127.0.0.1, config and logs in `dir` (which the caller removes). */
export async function startNginx(binary: string, root: string, dir: string): Promise<BenchServer> {
  const accessLog = join(dir, 'access.log');
  await mkdir(dir, { recursive: true });
  await writeFile(accessLog, '');
  const nginx = await startTestNginx(binary, root, {
    dir,
    http: `log_format zbench ${LOG_FORMAT};\n  access_log ${accessLog} zbench;\n  sendfile on;`,
  });
  const version = /nginx\/[\d.]+/.exec(spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr ?? '')?.[0];
  return { name: `${version ?? 'nginx'} (${binary})`, url: (path) => nginx.url(path), accessLog, stop: () => nginx.stop() };
}

/** `node CLI serve -p 0 root`, the fallback when nginx is missing. */
export async function startServe(cli: string, root: string, env: NodeJS.ProcessEnv): Promise<BenchServer> {
  const child = spawn(process.execPath, [cli, 'serve', '-p', '0', root], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
      const m = / at (http:\/\/\S+\/)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
  });
  return { name: 'zsync-streams serve', url: (path) => base + path, accessLog: null, stop: () => stopChild(child) };
}

/** The access log's size now: pass it to readLogSince() after a run to get that run's lines. */
export async function logMark(server: BenchServer): Promise<number> {
  return server.accessLog ? (await stat(server.accessLog)).size : 0;
}

/**
 * The lines logged since `mark`. nginx logs a request when it finalizes it, which
 * can be a moment after the client has read the last byte and exited: wait until
 * the log stops growing (or has `atLeast` lines).
 */
export async function readLogSince(server: BenchServer, mark: number, atLeast = 1): Promise<string[]> {
  if (!server.accessLog) return [];
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const size = (await stat(server.accessLog)).size;
    if (size === last) {
      const lines = await readFrom(server.accessLog, mark, size);
      if (lines.length >= atLeast || i >= 20) return lines;
    }
    last = size;
    await new Promise((r) => setTimeout(r, 25));
  }
  return readFrom(server.accessLog, mark, (await stat(server.accessLog)).size);
}

async function readFrom(path: string, start: number, end: number): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8').split('\n').filter((l) => l !== '');
  } finally {
    await fh.close();
  }
}

/** Bytes of a file of `size` bytes that a Range header value asks for ('bytes=0-99,200-', '-500'), clipped to the file. */
export function rangePayload(header: string, size: number): number {
  const m = /^bytes=(.*)$/.exec(header.trim());
  if (!m) return 0;
  let total = 0;
  for (const spec of m[1]!.split(',')) {
    const [a, b] = spec.trim().split('-') as [string, string];
    let first: number;
    let last: number;
    if (a === '') {
      first = Math.max(0, size - Number(b));
      last = size - 1;
    } else {
      first = Number(a);
      last = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    }
    if (last >= first) total += last - first + 1;
  }
  return total;
}

/** Counts one program's requests from its access-log lines; `target` is the path of the file synced ('/new.bin'). */
export function countTraffic(lines: readonly string[], target: string, size: number): NetCounts {
  let fetched = 0;
  let wire = 0;
  const connections = new Set<string>();
  for (const line of lines) {
    const m = /^(\d+) (\d{3}) (\d+) (\d+) "([^"]*)" "([^"]*)"$/.exec(line);
    if (!m) throw new Error(`unexpected access log line: ${line}`);
    const [, connection, status, bytesSent, bodyBytes, range, uri] = m;
    connections.add(connection!);
    wire += Number(bytesSent);
    if (uri !== target) continue;
    if (status === '206') fetched += rangePayload(range!, size);
    else if (status === '200') fetched += Number(bodyBytes);
  }
  return { fetched, wire, requests: lines.length, connections: connections.size };
}
