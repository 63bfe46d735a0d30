/**
 * Whether an S3 endpoint honours `If-None-Match: *`, decided from what it answered to a probe.
 * The raw zone's exactly-once rests on that header (DESIGN 5): a retry that finds its object
 * already written must be told so (412) and adopt it. A server that ignores the header lets the
 * retry overwrite, and a retry from an earlier offset then stores offsets twice; nothing in the
 * sink could notice afterwards. So the support is proven by a probe, never assumed, and the
 * verdict is computed here, purely, from the two answers.
 */

/** Where the probe writes: a pinpipe-owned prefix, next to the inventory (`_pinpipe/`). */
export const CONDITIONAL_WRITE_PROBE_PREFIX = '_pinpipe/probe/';

/** What the server answered to one `PUT` with `If-None-Match: *`. */
export interface ProbeAnswer {
  /** The HTTP status; undefined when nothing answered (connection refused, timeout). */
  status?: number;
  /** The S3 error code (PreconditionFailed, NotImplemented, …); undefined on success. */
  code?: string;
  /** The error's own text, when the request failed. */
  message?: string;
}

export interface ConditionalWriteProbe {
  /** The endpoint, as a person would recognise it: its URL, or AWS S3 and the region. */
  endpoint: string;
  bucket: string;
  key: string;
  /** The first conditional write of a new key: must succeed. */
  first: ProbeAnswer;
  /** The second conditional write of the same key: must be refused with 412 (or 409). */
  second?: ProbeAnswer;
}

/**
 * `supported`: the second write was refused. `ignored`: it succeeded (the object was replaced).
 * `refused`: the server does not implement the header (501 NotImplemented). `error`: no verdict
 * (the server was unreachable, denied access, or answered something unexpected): ask again.
 */
export type ConditionalWriteSupport = 'supported' | 'ignored' | 'refused' | 'error';

export interface ConditionalWriteVerdict {
  support: ConditionalWriteSupport;
  endpoint: string;
  /** One sentence naming the endpoint and what it answered; says what to do when not supported. */
  message: string;
}

const succeeded = (a: ProbeAnswer) =>
  a.code === undefined && a.status !== undefined && a.status >= 200 && a.status < 300;

/** 412 is S3's answer for an existing key; 409 means another conditional write is in flight. */
const preconditionFailed = (a: ProbeAnswer) =>
  a.status === 412 ||
  a.code === 'PreconditionFailed' ||
  (a.status === 409 && a.code === 'ConditionalRequestConflict');

const notImplemented = (a: ProbeAnswer) => a.status === 501 || a.code === 'NotImplemented';

function answered(a: ProbeAnswer): string {
  if (a.status === undefined) return `did not answer (${a.message ?? a.code ?? 'no response'})`;
  const code = a.code ? ` ${a.code}` : '';
  const message = a.message && a.message !== a.code ? `: ${a.message}` : '';
  return `answered ${a.status}${code}${message}`;
}

const WHY =
  'the sink writes every raw object with If-None-Match: * so that a retry adopts what an ' +
  'earlier attempt wrote instead of overwriting it; without it a retry can store records twice';
const FIX =
  'point AWS_ENDPOINT_URL_S3 at an S3 server that honours conditional writes ' +
  '(AWS S3, versitygw), or remove what strips the header on the way';

/** The verdict on a probe: `supported` only when the second write was refused with 412/409. */
export function classifyConditionalWriteProbe(p: ConditionalWriteProbe): ConditionalWriteVerdict {
  const where = `S3 endpoint ${p.endpoint}`;
  const object = `s3://${p.bucket}/${p.key}`;
  const verdict = (support: ConditionalWriteSupport, message: string) => ({
    support,
    endpoint: p.endpoint,
    message,
  });
  if (notImplemented(p.first)) {
    return verdict(
      'refused',
      `${where} does not support conditional writes: a PUT of ${object} with If-None-Match: * ` +
        `${answered(p.first)}. The sink will not run against it: ${WHY}. Fix: ${FIX}.`,
    );
  }
  if (!succeeded(p.first)) {
    return verdict(
      'error',
      `could not probe conditional writes at ${where}: a PUT of the new object ${object} ` +
        `with If-None-Match: * ${answered(p.first)}`,
    );
  }
  const second = p.second;
  if (second === undefined) {
    return verdict(
      'error',
      `could not probe conditional writes at ${where}: no second write of ${object} was made`,
    );
  }
  if (preconditionFailed(second)) {
    return verdict(
      'supported',
      `${where} honours If-None-Match: * (a second conditional PUT of ${object} ${answered({ status: second.status, ...(second.code ? { code: second.code } : {}) })})`,
    );
  }
  if (succeeded(second)) {
    return verdict(
      'ignored',
      `${where} ignores If-None-Match: *: a second conditional PUT of the existing object ` +
        `${object} ${answered(second)} and replaced it, where S3 answers 412 PreconditionFailed. ` +
        `The sink will not run against it: ${WHY}. Fix: ${FIX}.`,
    );
  }
  if (notImplemented(second)) {
    return verdict(
      'refused',
      `${where} does not support conditional writes on existing objects: a second PUT of ` +
        `${object} with If-None-Match: * ${answered(second)}. The sink will not run against it: ` +
        `${WHY}. Fix: ${FIX}.`,
    );
  }
  return verdict(
    'error',
    `could not probe conditional writes at ${where}: a second conditional PUT of ${object} ` +
      `${answered(second)}, where S3 answers 412 PreconditionFailed`,
  );
}
