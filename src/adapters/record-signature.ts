import { createHmac, timingSafeEqual } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  formatSignatureHeader,
  groupLines,
  MAX_GROUP_RECORDS,
  SIGNATURE_HEADER,
  signedPrefix,
} from '../domain/signed-groups';
import type { RecordSignature } from '../ports/record-signature';
import type { PartitionedMessage } from './produce-coalescer';

const TAG_BYTES = 16;

/**
 * The MAC of signed groups (src/domain/signed-groups.ts): HMAC-SHA256 with the key the ingest
 * API and the workers share (PINPIPE_SIGNING_KEY), truncated to 128 bits. One MAC per run of
 * records, not per record: a per-record HMAC measured 2.7 µs a record on the 2-core machine
 * (creating the HMAC dominates), slower than validating; over a run it is ~0.5 ns a byte.
 */
export function recordSignature(key: string): RecordSignature {
  const secret = Buffer.from(key, 'utf8');
  const mac = (topic: string, count: number, lines: Uint8Array) =>
    createHmac('sha256', secret)
      .update(signedPrefix(topic, count))
      .update(lines)
      .digest()
      .subarray(0, TAG_BYTES);
  const verify = (topic: string, count: number, lines: Uint8Array, tag: string) =>
    sameTag(tag, mac(topic, count, lines));
  return {
    tag: (topic, count, lines) => mac(topic, count, lines).toString('base64url'),
    verify,
    verifyRanges: (topic, lines, ranges) =>
      Promise.resolve({
        lines,
        verdicts: ranges.map((r) =>
          verify(topic, r.count, lines.subarray(r.at, r.at + r.size), r.tag),
        ),
      }),
  };
}

function sameTag(given: string, computed: Uint8Array): boolean {
  const bytes = Buffer.from(given, 'base64url');
  return bytes.length === TAG_BYTES && timingSafeEqual(bytes, computed.subarray(0, TAG_BYTES));
}

/** Below this many bytes a batch's MACs are computed in place: a round trip costs more. */
const THREAD_MIN_BYTES = 256 * 1024;

/**
 * The MAC threads' code (plain JavaScript: it runs in a worker of its own). It gets a lines
 * buffer moved to it with the ranges' prefixes, and moves the buffer back with their MACs.
 */
const MAC_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHmac } = require('node:crypto');
const key = Buffer.from(workerData.key, 'utf8');
parentPort.on('message', ({ id, buffer, ranges }) => {
  const lines = new Uint8Array(buffer);
  const macs = ranges.map((r) =>
    createHmac('sha256', key).update(r.prefix).update(lines.subarray(r.at, r.at + r.size)).digest(),
  );
  parentPort.postMessage({ id, buffer, macs }, [buffer]);
});
`;

/**
 * recordSignature, with the sink's verification on a thread of its own: the MACs of a batch
 * (~0.5 ns a byte) would otherwise take a tenth of the event loop's time while the sink drains a
 * backlog. The batch's lines buffer is moved to the thread and back, not copied. Small batches,
 * and any after the thread failed, are verified in place.
 */
export function threadedRecordSignature(key: string): RecordSignature & { close(): Promise<void> } {
  const inPlace = recordSignature(key);
  let thread: Worker | undefined;
  let failed = false;
  let nextId = 0;
  const pending = new Map<
    number,
    {
      resolve: (m: { buffer: ArrayBuffer; macs: Uint8Array[] }) => void;
      reject: (e: Error) => void;
    }
  >();
  const start = () => {
    const w = new Worker(MAC_THREAD, { eval: true, workerData: { key } });
    w.unref();
    w.on('message', (m: { id: number; buffer: ArrayBuffer; macs: Uint8Array[] }) => {
      pending.get(m.id)?.resolve(m);
      pending.delete(m.id);
    });
    const fail = (err: Error) => {
      failed = true;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the MAC thread exited (code ${code})`)));
    return w;
  };
  return {
    ...inPlace,
    async verifyRanges(topic, lines, ranges) {
      // A view at the start of its buffer moves with the buffer (a pooled one is larger).
      const { buffer, byteLength } = lines; // the view reads 0 once the buffer has moved
      if (
        failed ||
        lines.byteOffset !== 0 ||
        !(buffer instanceof ArrayBuffer) ||
        byteLength < THREAD_MIN_BYTES
      ) {
        return inPlace.verifyRanges(topic, lines, ranges);
      }
      thread ??= start();
      const id = nextId++;
      const answer = new Promise<{ buffer: ArrayBuffer; macs: Uint8Array[] }>((resolve, reject) =>
        pending.set(id, { resolve, reject }),
      );
      const asked = ranges.map((r) => ({
        at: r.at,
        size: r.size,
        prefix: signedPrefix(topic, r.count),
      }));
      thread.postMessage({ id, buffer, ranges: asked }, [buffer]);
      const { buffer: back, macs } = await answer;
      return {
        lines: new Uint8Array(back, 0, byteLength),
        verdicts: ranges.map((r, i) => sameTag(r.tag, macs[i]!)),
      };
    },
    async close() {
      failed = true;
      await thread?.terminate();
    },
  };
}

/** A message the ingest API validated: a run of these is signed before it is sent. */
export type SignableMessage = PartitionedMessage & { validated?: boolean };

/**
 * The messages of one send with each partition's runs of validated messages signed: the first
 * message of a run gets the signature header (a copy; the rest are sent as they are). In one send
 * a partition's messages form one batch, in this order, so the sink reads each run whole and
 * unbroken unless a read stops inside it (then it validates those records).
 */
export function signRuns(
  topic: string,
  messages: readonly SignableMessage[],
  signature: RecordSignature,
): PartitionedMessage[] {
  const out: PartitionedMessage[] = [...messages];
  const byPartition = new Map<number, number[]>();
  messages.forEach((m, i) => {
    const list = byPartition.get(m.partition);
    if (list) list.push(i);
    else byPartition.set(m.partition, [i]);
  });
  for (const indexes of byPartition.values()) {
    let run: number[] = [];
    const close = () => {
      if (run.length > 0) signRun(topic, run, out, signature);
      run = [];
    };
    for (const i of indexes) {
      const m = messages[i]!;
      if (m.validated === true && typeof m.value === 'string' && !m.headers?.[SIGNATURE_HEADER]) {
        run.push(i);
        if (run.length === MAX_GROUP_RECORDS) close();
      } else {
        close();
      }
    }
    close();
  }
  return out;
}

function signRun(
  topic: string,
  run: readonly number[],
  out: PartitionedMessage[],
  signature: RecordSignature,
): void {
  const values = run.map((i) => ({ value: Buffer.from(out[i]!.value as string, 'utf8') }));
  const lines = groupLines(values, 0, values.length);
  const header = formatSignatureHeader({
    count: run.length,
    tag: signature.tag(topic, run.length, lines),
  });
  const first = out[run[0]!]!;
  out[run[0]!] = { ...first, headers: { ...first.headers, [SIGNATURE_HEADER]: header } };
}
