import type { EmulatorDeps } from '../../src/emulator/run-emulator';

export interface SeenRequest {
  url: string;
  topic: string;
  values: unknown[];
  headers: Record<string, string>;
}

export type Responder = (req: SeenRequest, index: number) => Response | Promise<Response>;

/** A 200 acknowledging every record, offsets counting up per topic. */
export function ackAll(req: SeenRequest, offsets: Map<string, number>): Response {
  const first = offsets.get(req.topic) ?? 0;
  offsets.set(req.topic, first + req.values.length);
  return json(200, {
    offsets: req.values.map((_, i) => ({
      partition: 0,
      offset: first + i,
      error_code: null,
      error: null,
    })),
    key_schema_id: null,
    value_schema_id: null,
  });
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/vnd.kafka.v2+json', ...headers },
  });
}

/**
 * Fake fetch + virtual clock: requests are recorded and answered by `respond` (default: ack
 * all); sleep() records the delay and advances the clock instantly, so backoff and rate
 * schedules are observable without waiting.
 */
export function fakeDeps(respond?: Responder, random = () => 0.5) {
  const requests: SeenRequest[] = [];
  const sleeps: number[] = [];
  const offsets = new Map<string, number>();
  let clock = 0;
  const deps: EmulatorDeps = {
    async fetch(url, init) {
      const body = JSON.parse(init.body as string) as { records: { value: unknown }[] };
      const req: SeenRequest = {
        url,
        topic: decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)),
        values: body.records.map((r) => r.value),
        headers: init.headers as Record<string, string>,
      };
      const index = requests.length;
      requests.push(req);
      await Promise.resolve();
      return respond ? respond(req, index) : ackAll(req, offsets);
    },
    sleep(ms, signal) {
      sleeps.push(ms);
      if (!signal.aborted) clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
    random,
  };
  return { deps, requests, sleeps, offsets };
}
