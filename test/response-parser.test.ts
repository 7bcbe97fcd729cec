/**
 * ResponseParser, the HTTP/1.1 response parser under HttpClient, fed bytes as
 * a socket would hand them over: whole, a byte at a time, or split anywhere.
 * If this regressed, a body could gain or lose bytes at a read boundary, a
 * connection could be reused with the next response's bytes already eaten (or
 * with stray bytes in it), a response with no body could hang waiting for
 * one, or a malformed or hostile response could be taken for a good one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_HEAD_BYTES, ResponseParser, ResponseSyntaxError, type ResponseHead } from '../lib/transport/response-parser.js';

interface Parsed {
  head: ResponseHead | undefined;
  body: Buffer;
  done: boolean;
  keepAlive: boolean;
  /** Bytes the parser took, over all pieces, when it stopped (done, or out of input). */
  consumed: number;
  /** The result of eof() at the end, when asked for. */
  eof?: boolean;
  parser: ResponseParser;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/**
 * Feeds `pieces` one after another, each as its own buffer, as a connection
 * would: feed() again from where it stopped until the piece is used up or the
 * response is done. Collects the body slices; checks that every call makes
 * progress and that slices lie inside the range just fed.
 */
function feedPieces(pieces: readonly Uint8Array[], options: { eof?: boolean } = {}): Parsed {
  const parser = new ResponseParser();
  const body: Buffer[] = [];
  let consumed = 0;
  outer: for (const piece of pieces) {
    let pos = 0;
    while (pos < piece.length) {
      if (parser.done) break outer;
      const next = parser.feed(piece, pos, piece.length);
      // Plain checks, not chai's: this runs once a byte in the byte-wise feeds.
      if (!(next > pos && next <= piece.length)) expect.fail(`feed(${pos}, ${piece.length}) returned ${next}: no progress, or past the end`);
      if (parser.sliceEnd > parser.sliceStart) {
        if (parser.sliceStart < pos || parser.sliceEnd > next) expect.fail(`slice [${parser.sliceStart}, ${parser.sliceEnd}) outside the bytes taken [${pos}, ${next})`);
        body.push(Buffer.from(piece.subarray(parser.sliceStart, parser.sliceEnd)));
      }
      consumed += next - pos;
      pos = next;
    }
  }
  const out: Parsed = { head: parser.head, body: Buffer.concat(body), done: parser.done, keepAlive: parser.keepAlive, consumed, parser };
  if (options.eof) {
    out.eof = parser.eof();
    out.done = parser.done;
  }
  return out;
}

/** `message` split at the given offsets (each taken modulo its length; repeats and order do not matter). */
function splitAt(message: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (message.length === 0 ? 0 : c % (message.length + 1))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, message.length]) {
    if (p > from) out.push(message.subarray(from, p));
    from = Math.max(from, p);
  }
  return out;
}

/** Parses `text` whole, then a byte at a time, and checks both give the same result; returns the whole one. */
function parse(text: string | Buffer, options: { eof?: boolean } = {}): Parsed {
  const message = typeof text === 'string' ? bytes(text) : text;
  const whole = feedPieces([message], options);
  const byteWise = feedPieces(splitAt(message, Array.from({ length: message.length }, (_, i) => i)), options);
  expect(byteWise.head, 'head fed a byte at a time').to.deep.equal(whole.head);
  expect(byteWise.body.equals(whole.body), 'body fed a byte at a time').to.equal(true);
  expect(byteWise.done, 'done fed a byte at a time').to.equal(whole.done);
  expect(byteWise.keepAlive, 'keepAlive fed a byte at a time').to.equal(whole.keepAlive);
  expect(byteWise.consumed, 'bytes taken fed a byte at a time').to.equal(whole.consumed);
  return whole;
}

/** The ResponseSyntaxError that feeding `pieces` throws (fails if none is thrown). */
function syntaxError(...pieces: Array<string | Buffer>): ResponseSyntaxError {
  try {
    feedPieces(pieces.map((p) => (typeof p === 'string' ? bytes(p) : p)));
  } catch (err) {
    expect(err).to.be.instanceOf(ResponseSyntaxError);
    expect(err).to.have.property('code', 'ERR_ZSYNC_HTTP_BAD_RESPONSE');
    return err as ResponseSyntaxError;
  }
  throw new Error('expected a ResponseSyntaxError');
}

/** A chunked encoding of `body` in chunks of the given sizes (the rest in one last chunk). */
function chunked(body: Buffer, sizes: readonly number[], ext = '', trailers = ''): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, body.length]) {
    const n = Math.min(size, body.length - at);
    if (n <= 0) continue;
    parts.push(bytes(`${n.toString(16)}${ext}\r\n`), body.subarray(at, at + n), bytes('\r\n'));
    at += n;
  }
  parts.push(bytes(`0${ext}\r\n${trailers}\r\n`));
  return Buffer.concat(parts);
}

describe('ResponseParser', () => {
  describe('the head', () => {
    it('parses the status line, the version and the headers by lower-case name, values trimmed', () => {
      const r = parse('HTTP/1.1 206 Partial Content\r\nContent-Length: 0\r\nX-Thing:   spaced out  \r\nEMPTY:\r\n\r\n');
      expect(r.head).to.deep.include({ statusCode: 206, statusMessage: 'Partial Content', httpVersion: '1.1' });
      expect({ ...r.head!.headers }).to.deep.equal({ 'content-length': '0', 'x-thing': 'spaced out', empty: '' });
    });

    it('takes an HTTP/1.0 status line, and one with no reason phrase', () => {
      expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').head).to.deep.include({ httpVersion: '1.0', statusCode: 200, statusMessage: 'OK' });
      expect(parse('HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n').head).to.deep.include({ statusCode: 404, statusMessage: '' });
    });

    it('takes bare LF line ends', () => {
      const r = parse('HTTP/1.1 200 OK\nContent-Length: 3\n\nabc');
      expect(r.head!.statusCode).to.equal(200);
      expect(r.body.toString()).to.equal('abc');
      expect(r.done).to.equal(true);
    });

    it('stops at the end of the head, handing out no body bytes with it', () => {
      const message = bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
      const parser = new ResponseParser();
      const end = parser.feed(message, 0, message.length);
      expect(end).to.equal(message.indexOf('hello'));
      expect(parser.sliceEnd).to.equal(parser.sliceStart);
      expect(parser.head!.statusCode).to.equal(200);
      expect(parser.done).to.equal(false);
      expect(parser.feed(message, end, message.length)).to.equal(message.length);
      expect(message.subarray(parser.sliceStart, parser.sliceEnd).toString()).to.equal('hello');
      expect(parser.done).to.equal(true);
    });

    it('has no head until the blank line that ends it has arrived', () => {
      const partial = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n';
      const r = feedPieces([bytes(partial)]);
      expect(r.head).to.equal(undefined);
      expect(r.consumed).to.equal(partial.length);
    });
  });

  describe('repeated headers', () => {
    it('joins repeats with ", "', () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVary: a\r\nvary: b\r\nVARY: c\r\n\r\n');
      expect(r.head!.headers.vary).to.equal('a, b, c');
    });

    it('keeps the first of a header that may appear once (content-type, etag, last-modified, location...)', () => {
      const r = parse(
        'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n' +
          'ETag: "1"\r\nETag: "2"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nLast-Modified: Tue, 02 Jan 2024 00:00:00 GMT\r\n' +
          'Location: /a\r\nLocation: /b\r\nServer: one\r\nServer: two\r\n\r\n',
      );
      expect(r.head!.headers).to.deep.include({ 'content-type': 'text/plain', etag: '"1"', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', location: '/a', server: 'one' });
    });

    it('gives set-cookie as a list, even when there is one', () => {
      expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\n\r\n').head!.headers['set-cookie']).to.deep.equal(['a=1']);
      expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\nset-cookie: b=2, c=3\r\n\r\n').head!.headers['set-cookie']).to.deep.equal(['a=1', 'b=2, c=3']);
    });

    it('takes the same Content-Length twice', () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc');
      expect(r.head!.headers['content-length']).to.equal('3');
      expect(r.body.toString()).to.equal('abc');
      expect(r.done).to.equal(true);
    });
  });

  describe('a body framed by Content-Length', () => {
    it('reads exactly Content-Length bytes and leaves what follows unread', () => {
      const message = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
      const r = parse(`${message}HTTP/1.1 200 OK\r\n`);
      expect(r.body.toString()).to.equal('hello');
      expect(r.done).to.equal(true);
      expect(r.consumed).to.equal(message.length);
    });

    it('is done at the end of the head when Content-Length is 0', () => {
      const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
      const r = parse(`${head}next`);
      expect(r.done).to.equal(true);
      expect(r.body.length).to.equal(0);
      expect(r.consumed).to.equal(head.length);
    });

    it('is not done while bytes are missing, and eof() then says the body was cut short', () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', { eof: true });
      expect(r.body.toString()).to.equal('hello');
      expect(r.eof).to.equal(false);
      expect(r.done).to.equal(false);
    });

    it('hands out the body in one slice per call, up to the end of the buffer', () => {
      const head = bytes('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n');
      const parser = new ResponseParser();
      parser.feed(head, 0, head.length);
      const data = bytes('xxabcdyy');
      // Fed from the middle of a buffer: the slice lies where the bytes are.
      expect(parser.feed(data, 2, 6)).to.equal(6);
      expect([parser.sliceStart, parser.sliceEnd]).to.deep.equal([2, 6]);
      expect(parser.done).to.equal(false);
      expect(parser.feed(data, 0, 8)).to.equal(4);
      expect([parser.sliceStart, parser.sliceEnd]).to.deep.equal([0, 4]);
      expect(parser.done).to.equal(true);
    });
  });

  describe('a chunked body', () => {
    it('reads the chunks, with chunk extensions and trailers, and leaves what follows unread', () => {
      const message = Buffer.concat([
        bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
        bytes('5;name=value;other="quoted; string"\r\nhello\r\n'),
        bytes('6 ; ext\r\n world\r\n'),
        bytes('A\r\n0123456789\r\n'),
        bytes('0;last\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n'),
      ]);
      const r = parse(Buffer.concat([message, bytes('HTTP/1.1 200 OK\r\n')]));
      expect(r.body.toString()).to.equal('hello world0123456789');
      expect(r.done).to.equal(true);
      expect(r.consumed).to.equal(message.length);
      expect(r.keepAlive).to.equal(true);
    });

    it('takes upper- and lower-case hex chunk sizes', () => {
      const body = Buffer.alloc(0x1ab, 0x61);
      const r = parse(Buffer.concat([bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1aB\r\n'), body, bytes('\r\n0\r\n\r\n')]));
      expect(r.body.equals(body)).to.equal(true);
      expect(r.done).to.equal(true);
    });

    it('is done after the last chunk with no trailers', () => {
      const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      expect(r.body.toString()).to.equal('abc');
      expect(r.done).to.equal(true);
    });

    it('is chunked when chunked is the last of several transfer codings', () => {
      const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      expect(r.done).to.equal(true);
      expect(r.body.toString()).to.equal('abc');
      expect(r.keepAlive).to.equal(true);
    });

    it('is not done when cut short, and eof() says so, whether in a chunk, between chunks or in the trailers', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      for (const cut of ['5\r\nhel', '5\r\nhello\r\n', '5\r\nhello\r\n0\r\n', '5\r\nhello\r\n0\r\nX: y\r\n']) {
        const r = parse(head + cut, { eof: true });
        expect(r.eof, cut).to.equal(false);
        expect(r.done, cut).to.equal(false);
      }
    });
  });

  describe('a body that runs to the end of the connection', () => {
    it('with neither Content-Length nor Transfer-Encoding, takes everything and is done only at eof()', () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this, HTTP/1.1 200 OK\r\n too', { eof: true });
      expect(r.body.toString()).to.equal('all of this, HTTP/1.1 200 OK\r\n too');
      expect(r.eof).to.equal(true);
      expect(r.done).to.equal(true);
      expect(r.keepAlive).to.equal(false);
    });

    it('is not done before eof()', () => {
      const r = parse('HTTP/1.1 200 OK\r\n\r\nsome');
      expect(r.done).to.equal(false);
      expect(r.parser.closeDelimited).to.equal(true);
    });

    it('with a Transfer-Encoding that does not end in chunked, reads to the close', () => {
      const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n', { eof: true });
      expect(r.body.toString()).to.equal('3\r\nabc\r\n0\r\n\r\n');
      expect(r.done).to.equal(true);
      expect(r.keepAlive).to.equal(false);
    });

    it('eof() before the head has ended is not an end', () => {
      expect(parse('HTTP/1.1 200 OK\r\nContent-Le', { eof: true }).eof).to.equal(false);
    });
  });

  describe('responses without a body', () => {
    for (const status of [204, 304]) {
      it(`${status} is done at the end of its head, even with a Content-Length or Transfer-Encoding`, () => {
        for (const framing of ['Content-Length: 100\r\n', 'Transfer-Encoding: chunked\r\n', '']) {
          const head = `HTTP/1.1 ${status} X\r\n${framing}\r\n`;
          const r = parse(`${head}HTTP/1.1 200 OK\r\n`);
          expect(r.done, framing).to.equal(true);
          expect(r.body.length, framing).to.equal(0);
          expect(r.consumed, framing).to.equal(head.length);
          expect(r.keepAlive, framing).to.equal(true);
        }
      });
    }
  });

  describe('interim responses', () => {
    it('skips a 100 Continue and parses the response that follows', () => {
      const r = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
      expect(r.head!.statusCode).to.equal(200);
      expect(r.body.toString()).to.equal('hi');
      expect(r.done).to.equal(true);
    });

    it('skips several 1xx with headers of their own, which do not leak into the final head', () => {
      const r = parse('HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz');
      expect(r.head!.statusCode).to.equal(200);
      expect(r.head!.headers).to.not.have.property('x-interim');
      expect(r.head!.headers).to.not.have.property('link');
      expect(r.body.toString()).to.equal('z');
    });

    it('has no head while only a 1xx has arrived', () => {
      const r = parse('HTTP/1.1 100 Continue\r\n\r\n');
      expect(r.head).to.equal(undefined);
      expect(r.done).to.equal(false);
    });

    it('refuses 101 Switching Protocols', () => {
      expect(syntaxError('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n').message).to.match(/101/);
    });
  });

  describe('keepAlive', () => {
    const cases: Array<[string, string, boolean]> = [
      ['HTTP/1.1 with Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx', true],
      ['HTTP/1.1 chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', true],
      ['HTTP/1.1 with Connection: keep-alive', 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', true],
      ['HTTP/1.0, even with Connection: keep-alive', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', false],
      ['HTTP/1.1 with Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx', false],
      ['HTTP/1.1 with close among other Connection tokens, in capitals', 'HTTP/1.1 200 OK\r\nConnection: Upgrade ,CLOSE\r\nContent-Length: 1\r\n\r\nx', false],
      ['HTTP/1.1 with close in a second Connection header', 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx', false],
      ['HTTP/1.1 with both Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', false],
      ['HTTP/1.1 with a body to the close', 'HTTP/1.1 200 OK\r\n\r\n', false],
      ['HTTP/1.1 with a Transfer-Encoding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', false],
    ];
    for (const [name, message, expected] of cases) {
      it(`is ${expected} for ${name}`, () => {
        expect(parse(message).keepAlive).to.equal(expected);
      });
    }

    it('reads a body with both Transfer-Encoding: chunked and Content-Length by its chunks', () => {
      const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nafter');
      expect(r.body.toString()).to.equal('abc');
      expect(r.done).to.equal(true);
      expect(r.keepAlive).to.equal(false);
    });
  });

  describe('malformed responses', () => {
    it('refuses a bad status line', () => {
      for (const line of ['HTTP/2 200 OK', 'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.2 200 OK', 'ICY 200 OK', 'http/1.1 200 OK', 'HTTP/1.1  200 OK', '<html>']) {
        expect(syntaxError(`${line}\r\nContent-Length: 0\r\n\r\n`).message, line).to.match(/status line/);
      }
    });

    it('refuses a status code outside 100-599', () => {
      for (const line of ['HTTP/1.1 099 Odd', 'HTTP/1.1 000 Zero', 'HTTP/1.1 600 Beyond', 'HTTP/1.1 999 Far']) {
        expect(syntaxError(`${line}\r\nContent-Length: 0\r\n\r\n`).message, line).to.match(/status line/);
      }
    });

    it('refuses a header value with a control character other than tab, and trims only spaces and tabs around one', () => {
      for (const value of ['"a\rb"', 'a\u0000b', 'a\u001bb', 'a\u007fb']) {
        expect(syntaxError(`HTTP/1.1 200 OK\r\nETag: ${value}\r\nContent-Length: 0\r\n\r\n`).message, JSON.stringify(value)).to.match(/control character/);
      }
      const { head } = parse('HTTP/1.1 200 OK\r\nX-A: \t\u00a0in\tside\u00a0 \t\r\nContent-Length: 0\r\n\r\n');
      expect(head!.headers['x-a']).to.equal('\u00a0in\tside\u00a0');
    });

    it('holds interim heads and trailers to the head limit, counted together', () => {
      const interim = 'HTTP/1.1 100 Continue\r\n\r\n';
      const many = interim.repeat(Math.ceil(MAX_HEAD_BYTES / interim.length) + 1);
      expect(syntaxError(`${many}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`).message).to.match(/longer than/);
      const line = 'X-T: 0123456789012345678901234567890123456789\r\n';
      const trailers = line.repeat(Math.ceil(MAX_HEAD_BYTES / line.length) + 1);
      expect(syntaxError(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${trailers}\r\n`).message).to.match(/trailers longer than/);
    });

    it('refuses a header line without a colon', () => {
      syntaxError('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nNoColonHere\r\n\r\n');
    });

    it('refuses an empty header name', () => {
      syntaxError('HTTP/1.1 200 OK\r\n: value\r\nContent-Length: 0\r\n\r\n');
    });

    it('refuses a folded header line (obs-fold)', () => {
      syntaxError('HTTP/1.1 200 OK\r\nX-Long: first part\r\n  second part\r\nContent-Length: 0\r\n\r\n');
      syntaxError('HTTP/1.1 200 OK\r\nX-Long: first part\r\n\tsecond part\r\nContent-Length: 0\r\n\r\n');
    });

    it('refuses a header name that is not a token', () => {
      for (const name of ['Bad Name', 'Content-Length ', 'X@Y', 'X(Y)', 'X"Y']) {
        syntaxError(`HTTP/1.1 200 OK\r\n${name}: 1\r\n\r\n`);
      }
    });

    it('refuses two different Content-Length values', () => {
      expect(syntaxError('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!').message).to.match(/Content-Length/);
    });

    it('refuses a Content-Length that is not a number', () => {
      for (const value of ['abc', '-1', '1.5', '0x10', '5, 5', '']) {
        syntaxError(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`);
      }
    });

    it('refuses a bad chunk size line', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      for (const line of ['zz', '', '-5', '+5', '0x5', '5 garbage', '1234567890abc']) {
        expect(syntaxError(`${head}${line}\r\n`).message, JSON.stringify(line)).to.match(/chunk size/);
      }
    });

    it('refuses chunk data that is not followed by CRLF', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      expect(syntaxError(`${head}5\r\nhello!\r\n0\r\n\r\n`).message).to.match(/longer than its size/);
      // Split right after the data: the check does not depend on where reads end.
      syntaxError(`${head}5\r\nhello`, 'X\r\n');
    });

    it('takes a head of exactly MAX_HEAD_BYTES, and refuses one a byte longer', () => {
      const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ';
      const pad = (n: number): string => start + 'a'.repeat(n - start.length - 4) + '\r\n\r\n';
      expect(pad(MAX_HEAD_BYTES).length).to.equal(MAX_HEAD_BYTES);
      expect(parse(pad(MAX_HEAD_BYTES)).done).to.equal(true);
      expect(syntaxError(pad(MAX_HEAD_BYTES + 1)).message).to.match(/head longer/);
    });

    it('refuses a head that never ends once it passes MAX_HEAD_BYTES, without waiting for its end', () => {
      const line = `X-Filler: ${'b'.repeat(1000)}\r\n`;
      const pieces = ['HTTP/1.1 200 OK\r\n', ...Array.from({ length: Math.ceil(MAX_HEAD_BYTES / line.length) + 1 }, () => line)];
      syntaxError(...pieces);
    });

    it('takes an interim head just short of the limit, then a short final head', () => {
      const interim = `HTTP/1.1 103 Early Hints\r\nLink: ${'c'.repeat(MAX_HEAD_BYTES - 100)}\r\n\r\n`;
      const r = parse(`${interim}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`);
      expect(r.head!.statusCode).to.equal(200);
      expect(r.done).to.equal(true);
    });

    it('refuses a chunk-size line over 4096 bytes, even one that never ends', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      syntaxError(`${head}5;${'e'.repeat(4100)}\r\nhello\r\n0\r\n\r\n`);
      syntaxError(head, '5;', 'e'.repeat(3000), 'e'.repeat(3000));
      // Just within the bound: taken.
      const within = parse(`${head}5;${'e'.repeat(4096 - 5)}\r\nhello\r\n0\r\n\r\n`);
      expect(within.body.toString()).to.equal('hello');
      expect(within.done).to.equal(true);
    });

    it('refuses a trailer line over 4096 bytes', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      syntaxError(`${head}5\r\nhello\r\n0\r\nX-Trailer: ${'t'.repeat(4100)}\r\n\r\n`);
      // Several trailer lines, each within the bound: taken.
      const t = `X-Trailer: ${'t'.repeat(3000)}\r\n`;
      expect(parse(`${head}5\r\nhello\r\n0\r\n${t}${t}${t}\r\n`).done).to.equal(true);
    });

    it('refuses chunk data followed by more than 4096 bytes without a line end', () => {
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
      syntaxError(`${head}1\r\nx`, 'y'.repeat(5000));
    });
  });

  describe('split anywhere (property)', () => {
    /** A response framed by Content-Length or chunks, with its body, and bytes after it. */
    const responseArb = fc
      .record({
        framing: fc.constantFrom('length', 'chunked', 'chunked+length'),
        http10: fc.boolean(),
        status: fc.constantFrom(200, 206, 404, 500),
        interim: fc.boolean(),
        body: fc.uint8Array({ maxLength: 3000 }),
        chunkSizes: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 }),
        ext: fc.constantFrom('', ';a=b', ' ;x'),
        trailers: fc.constantFrom('', 'X-Sum: 1\r\n', 'A: 1\r\nB: 2\r\n'),
        extraHeaders: fc.array(fc.tuple(fc.constantFrom('X-A', 'Vary', 'Set-Cookie', 'ETag', 'Connection'), fc.stringMatching(/^[a-z0-9 ,=]{0,20}$/)), { maxLength: 5 }),
        lf: fc.boolean(),
        after: fc.uint8Array({ maxLength: 200 }),
        cuts: fc.array(fc.nat(), { maxLength: 12 }),
      })
      .map((c) => {
        const body = Buffer.from(c.body);
        const eol = c.lf ? '\n' : '\r\n';
        let head = `HTTP/1.${c.http10 ? 0 : 1} ${c.status} Whatever${eol}`;
        for (const [name, value] of c.extraHeaders) head += `${name}: ${value}${eol}`;
        if (c.framing !== 'chunked') head += `Content-Length: ${body.length}${eol}`;
        if (c.framing !== 'length') head += `Transfer-Encoding: chunked${eol}`;
        head += eol;
        const interim = c.interim ? bytes(`HTTP/1.1 100 Continue${eol}${eol}`) : Buffer.alloc(0);
        const framedBody = c.framing === 'length' ? body : chunked(body, c.chunkSizes, c.ext, c.trailers);
        const message = Buffer.concat([interim, bytes(head), framedBody]);
        return { ...c, body, message, input: Buffer.concat([message, Buffer.from(c.after)]) };
      });

    it('gives the same head and body however the response is split, and reads not a byte past its end', () => {
      fc.assert(
        fc.property(responseArb, (c) => {
          const whole = feedPieces([c.input]);
          expect(whole.done).to.equal(true);
          expect(whole.body.equals(c.body), 'body fed whole').to.equal(true);
          expect(whole.consumed, 'bytes taken fed whole').to.equal(c.message.length);
          expect(whole.head!.statusCode).to.equal(c.status);

          const pieces = splitAt(c.input, c.cuts);
          const split = feedPieces(pieces);
          expect(split.done).to.equal(true);
          expect(split.head).to.deep.equal(whole.head);
          expect(split.body.equals(c.body), 'body fed in pieces').to.equal(true);
          expect(split.keepAlive).to.equal(whole.keepAlive);
          expect(split.consumed, 'bytes taken fed in pieces').to.equal(c.message.length);
        }),
        { numRuns: 300 },
      );
    });

    it('returns exactly the message length from the feed that finishes it, the bytes after it left unread', () => {
      fc.assert(
        fc.property(responseArb, (c) => {
          const parser = new ResponseParser();
          let pos = 0;
          while (!parser.done) {
            const next = parser.feed(c.input, pos, c.input.length);
            expect(next).to.be.greaterThan(pos);
            pos = next;
          }
          expect(pos).to.equal(c.message.length);
          // Done: it takes nothing more.
          expect(parser.feed(c.input, pos, c.input.length)).to.equal(pos);
        }),
        { numRuns: 300 },
      );
    });
  });
});
