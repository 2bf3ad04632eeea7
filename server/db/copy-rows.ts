/**
 * Binary COPY … TO STDOUT read straight into chunks of whole rows, for
 * verification's millions of rows. PostgreSQL sends each row of a binary COPY
 * as one CopyData message (the stream's header rides in the first, the
 * trailer is a message of its own), so the message framing already says where
 * rows end: this reader copies the messages' contents from the socket's chunks
 * into buffers of about `target` bytes, each ending at a row's end, without the
 * object per row pg-copy-streams makes and without walking the rows' fields.
 * Each chunk is shared memory of its own (a worker thread reads it where it
 * is, without a copy or a transfer), and a chunk handed back (RowChunks.recycle) is filled again instead
 * of a new one being allocated: megabyte buffers made and dropped by the
 * hundred would drive V8's garbage collector (external memory pressure) into
 * full collections costing more CPU than the reading. It reuses pg-copy-streams' hand-over of the connection (attach,
 * detach, errors) and replaces only its message parser.
 */
import { to as copyTo } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import { headerEnd, INCOMPLETE } from './copy-binary.ts';
import { copyOutWith, type CopyOutOptions } from './copy-out.ts';

const COPY_DATA = 0x64; // 'd'
const ERROR_RESPONSE = 0x45; // 'E'
/** Messages PostgreSQL may send in the middle of a COPY, besides its data. */
const INTERSPERSED = new Set([0x48 /* CopyOutResponse */, 0x53 /* ParameterStatus */, 0x4e /* NoticeResponse */, 0x41 /* NotificationResponse */]);

type CopyQuery = ReturnType<typeof copyTo> & {
  _parse(chunk: Buffer): boolean;
  _detach(): void;
  _cleanup(): void;
  _buffer: { push(b: Buffer): void };
  push(chunk: unknown): boolean;
};

/** A COPY query (pg-copy-streams) whose output is chunks of whole CopyData contents. */
function rowChunkQuery(statement: string, target: number, spare: Uint8Array[]): CopyQuery {
  const query = copyTo(statement, { objectMode: true, highWaterMark: 2 }) as CopyQuery;
  const size = target + 4096;
  const fresh = () => new Uint8Array(new SharedArrayBuffer(size));
  let out: Uint8Array = fresh();
  let o = 0;
  // Message being read: its code, the length bytes seen so far, the content still to come.
  let code = -1;
  const lengthBytes = new Uint8Array(4);
  let lengthHave = 0;
  let left = -1;
  let trailerCheck = false;
  const flush = (): boolean => {
    if (o === 0) return true;
    const chunk = out.subarray(0, o);
    out = spare.pop() ?? fresh();
    o = 0;
    return query.push(chunk);
  };
  query._parse = (chunk: Buffer): boolean => {
    let drained = true;
    let p = 0;
    const n = chunk.length;
    while (p < n) {
      if (code < 0) {
        const c = chunk[p]!;
        if (c === ERROR_RESPONSE) {
          // pg reads the error itself, from its first byte.
          query._buffer.push(chunk.subarray(p));
          query._detach();
          return drained;
        }
        code = c;
        p++;
        lengthHave = 0;
        left = -1;
        continue;
      }
      if (left < 0) {
        while (lengthHave < 4 && p < n) lengthBytes[lengthHave++] = chunk[p++]!;
        if (lengthHave < 4) break;
        left = ((lengthBytes[0]! << 24) | (lengthBytes[1]! << 16) | (lengthBytes[2]! << 8) | lengthBytes[3]!) - 4;
        if (code === COPY_DATA) {
          // A message never splits across chunks of ours: flush first if it does not fit.
          if (o + left > out.length) drained = flush() && drained;
          if (left > out.length) {
            const bigger = new Uint8Array(left + 4096);
            bigger.set(out.subarray(0, o));
            out = bigger;
          }
          // The trailer (-1 as int16) is a message of its own.
          trailerCheck = left === 2;
        }
      }
      const take = Math.min(left, n - p);
      if (code === COPY_DATA) {
        // Buffer#copy: no view object per row (a subarray would be one, i.e. garbage per row).
        chunk.copy(out, o, p, p + take);
        o += take;
      }
      p += take;
      left -= take;
      if (left > 0) break;
      // A whole message.
      if (code === COPY_DATA) {
        // A row starts with its field count; 0xFFFF (-1) there is the trailer.
        if (trailerCheck && out[o - 2] === 0xff && out[o - 1] === 0xff) o -= 2;
        trailerCheck = false;
        if (o >= target) drained = flush() && drained;
        code = -1;
        continue;
      }
      const wasInterspersed = INTERSPERSED.has(code);
      code = -1;
      if (!wasInterspersed) {
        // CopyDone (or anything else): the COPY is over; pg reads what follows.
        flush();
        query._buffer.push(chunk.subarray(p));
        query._detach();
        query.push(null);
        query._cleanup();
        return drained;
      }
    }
    return drained;
  };
  return query;
}

export interface RowChunks extends AsyncIterable<Uint8Array> {
  /** Stops reading and closes the connection (when not read to the end). */
  destroy(): void;
  /**
   * Hands a chunk this stream yielded back for reuse: its memory will be
   * overwritten by later rows, so nothing may read it afterwards.
   */
  recycle(chunk: Uint8Array): void;
}

/**
 * Runs a binary COPY … TO STDOUT (as copyOut does: own connection, optional
 * transaction setup and snapshot, both done before this resolves) and yields
 * its rows in chunks of whole rows, about `target` bytes each, without the
 * stream's header and trailer.
 */
export async function copyOutRows(url: string, statement: string, options: CopyOutOptions = {}, target = 1 << 20): Promise<RowChunks> {
  const spare: Uint8Array[] = [];
  const stream: Readable = await copyOutWith(url, rowChunkQuery(statement, target, spare), options);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let headerDone = false;
    try {
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        let rows = chunk;
        if (!headerDone) {
          const start = headerEnd(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if (start === INCOMPLETE) throw new Error('binary COPY header incomplete');
          headerDone = true;
          rows = chunk.subarray(start);
          // No rows: the header and the trailer came as one message.
          if (rows.length === 2 && rows[0] === 0xff && rows[1] === 0xff) rows = rows.subarray(2);
          if (!rows.length) continue;
        }
        yield rows;
      }
    } finally {
      stream.destroy();
    }
  }
  return {
    [Symbol.asyncIterator]: chunks,
    destroy: () => stream.destroy(),
    recycle(chunk) {
      // Whole buffers of the usual size only (a larger one made for one huge row is let go); a few at most.
      if (chunk.buffer.byteLength === target + 4096 && spare.length < 8) spare.push(new Uint8Array(chunk.buffer));
    },
  };
}
