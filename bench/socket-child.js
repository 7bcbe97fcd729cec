// The processes of the socket benchmark (bench/socket.ts), run under plain
// `node` (never through tsx) so they measure the BUILT package from dist/ (or
// the snapshot of it named by ZBENCH_DIST). Driven by the parent over the IPC
// channel of child_process.fork(); every message is { type, ... }.
//
//   node bench/socket-child.js server CONFIG-JSON    one SyncServer on 127.0.0.1, port chosen by the OS
//   node bench/socket-child.js clients CONFIG-JSON   COUNT syncOverStream() followers in this process
//
// Server: says { type: 'listening', port, blockSize }; answers 'update' (after the
// parent has replaced the served file) with { type: 'updated', version, seconds },
// 'snapshot' with { type: 'snapshot', ... } and 'close' with { type: 'closed', ... }
// and exits. Besides the server's own stats it taps every connection's incoming
// bytes and decodes the clients' WANT frames (protocol.ts: u32 length, u8 type 3,
// u32 request, u32 version, u64 start/end pairs), so the parent can compare the
// bytes read from the file with the union of the ranges asked, per version.
//
// Clients: prepares each client's folder (a copy of OLD as its OUTPUT, or no
// OUTPUT and OLD as a seed), says { type: 'ready' }; on 'go' connects them all at
// once with follow: true and reports every version in place as { type: 'synced' };
// answers 'verify' (SHA-1 of every OUTPUT against the expected one) and 'leave'
// (abort every follower, wait for them, report peak RSS) and exits.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

const entry = process.env.ZBENCH_DIST ? pathToFileURL(process.env.ZBENCH_DIST) : new URL('../dist/index.js', import.meta.url);
const lib = await import(entry.href);

const [role, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson ?? '{}');

function send(message) {
  process.send?.(message);
}

function messages(handler) {
  process.on('message', (m) => {
    Promise.resolve(handler(m)).catch((err) => {
      send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      process.exit(1);
    });
  });
}

function usage() {
  const u = process.resourceUsage();
  return { maxRssKiB: u.maxRSS, cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6 };
}

/** Peak of process.memoryUsage().rss sampled every 50 ms, reset on demand: the RSS of a phase. */
function rssSampler() {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 50);
  timer.unref();
  return {
    take() {
      sample();
      const p = peak;
      peak = 0;
      return p;
    },
    now: () => process.memoryUsage().rss,
  };
}

async function server() {
  const { createSyncServer } = lib;
  const rss = rssSampler();
  const options = { files: { 'file.bin': config.path } };
  for (const k of ['maxBytes', 'chunkBytes', 'stallTimeoutMs', 'maxConcurrentReads']) if (config[k] !== undefined) options[k] = config[k];
  const sync = createSyncServer(options);
  const sessionErrors = [];
  sync.on('session-error', (e) => {
    if (sessionErrors.length < 10) sessionErrors.push(`${e.code ?? e.name}: ${e.message}`);
  });
  await sync.ready;
  const control = sync.current().control;
  const blockSize = Number(/^Blocksize: (\d+)$/m.exec(control.subarray(0, 4096).toString('latin1'))?.[1] ?? 0);

  /** version id -> every [start, end) asked in a WANT of it, by any client. */
  const asked = new Map();
  const record = (payload) => {
    const version = payload.readUInt32BE(4);
    let list = asked.get(version);
    if (!list) asked.set(version, (list = []));
    for (let at = 8; at + 16 <= payload.length; at += 16) list.push([Number(payload.readBigUInt64BE(at)), Number(payload.readBigUInt64BE(at + 8))]);
  };
  const tap = (socket) => {
    let pending = null;
    socket.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      while (buf.length >= 5) {
        const length = buf.readUInt32BE(0);
        if (buf.length < 4 + length) break;
        if (buf[4] === 3) record(buf.subarray(5, 4 + length));
        buf = buf.subarray(4 + length);
      }
      pending = buf.length > 0 ? Buffer.from(buf) : null;
    });
  };
  const unions = () => {
    const out = {};
    for (const [version, list] of asked) {
      const sorted = [...list].sort((a, b) => a[0] - b[0]);
      let union = 0;
      let runStart = -1;
      let runEnd = -1;
      for (const [s, e] of sorted) {
        if (s > runEnd) {
          union += runEnd - runStart;
          runStart = s;
          runEnd = e;
        } else if (e > runEnd) runEnd = e;
      }
      union += runEnd - runStart;
      out[version] = { ranges: list.length, asked: list.reduce((n, [s, e]) => n + e - s, 0), union };
    }
    return out;
  };
  const snapshot = () => ({ stats: sync.stats, unions: unions(), rss: rss.now(), phasePeakRss: rss.take(), ...usage(), sessionErrors });

  const listener = net.createServer({ noDelay: true }, (socket) => {
    tap(socket);
    sync.handle(socket);
  });
  listener.on('error', (err) => {
    send({ type: 'fatal', message: `listen: ${err.message}` });
    process.exit(1);
  });
  listener.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    send({ type: 'listening', port: listener.address().port, blockSize, ...snapshot() });
  });

  messages(async (m) => {
    if (m.type === 'update') {
      const t0 = performance.now();
      const version = await sync.update();
      send({ type: 'updated', version, seconds: (performance.now() - t0) / 1000 });
    } else if (m.type === 'snapshot') {
      send({ type: 'snapshot', ...snapshot() });
    } else if (m.type === 'close') {
      await sync.close();
      await new Promise((resolve) => listener.close(resolve));
      send({ type: 'closed', ...snapshot() });
      process.disconnect?.();
    }
  });
}

async function sha1Of(path) {
  const hash = createHash('sha1');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/** Runs `fn` over `items`, `limit` at a time. */
async function each(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function clients() {
  const { syncOverStream } = lib;
  const rss = rssSampler();
  const ids = Array.from({ length: config.count }, (_, i) => config.first + i);
  const outputOf = (id) => join(config.workDir, `c${String(id).padStart(4, '0')}`, 'out.bin');
  // Untimed: every client's own folder, with its own copy of old as OUTPUT (mode copy).
  await each(ids, 8, async (id) => {
    await mkdir(join(outputOf(id), '..'), { recursive: true });
    if (config.mode === 'copy') await copyFile(config.old, outputOf(id));
  });
  const followers = [];
  const controllers = [];
  let failures = 0;

  messages(async (m) => {
    if (m.type === 'go') {
      for (const id of ids) {
        const controller = new AbortController();
        controllers.push(controller);
        const t0 = performance.now();
        const socket = net.connect({ port: config.port, host: '127.0.0.1', noDelay: true });
        const options = {
          output: outputOf(id),
          follow: true,
          keepOld: false,
          signal: controller.signal,
          onSynced: (r) => {
            send({
              type: 'synced',
              client: id,
              version: r.version,
              sinceConnectS: (performance.now() - t0) / 1000,
              totalS: r.seconds.total,
              bytesFetched: r.bytesFetched,
              bytesReused: r.bytesReused,
              requests: r.requests,
            });
          },
        };
        if (config.mode === 'seed') options.seeds = [config.old];
        followers.push(
          syncOverStream(socket, options).then(
            () => undefined,
            (err) => {
              failures++;
              send({ type: 'client-error', client: id, message: `${err.code ?? err.name}: ${err.message}` });
            },
          ),
        );
      }
    } else if (m.type === 'verify') {
      const mismatches = [];
      let ok = 0;
      await each(ids, 4, async (id) => {
        const got = await sha1Of(outputOf(id)).catch((err) => `unreadable (${err.code ?? err.message})`);
        if (got === m.sha1) ok++;
        else mismatches.push(`client ${id}: ${got}`);
      });
      send({ type: 'verified', version: m.version, ok, mismatches: mismatches.slice(0, 10), phasePeakRss: rss.take() });
    } else if (m.type === 'leave') {
      const t0 = performance.now();
      for (const c of controllers) c.abort();
      await Promise.all(followers);
      send({ type: 'left', seconds: (performance.now() - t0) / 1000, failures, phasePeakRss: rss.take(), ...usage() });
      process.disconnect?.();
    }
  });
  send({ type: 'ready', rss: rss.now() });
}

if (role === 'server') await server();
else if (role === 'clients') await clients();
else {
  process.stderr.write('usage: node bench/socket-child.js server|clients CONFIG-JSON\n');
  process.exit(2);
}
