import assert from 'node:assert/strict';
import type { KafkaPort } from '../../src/ports/kafka';
import type { ObjectStore } from '../../src/ports/object-store';

export interface AuditedObject {
  key: string;
  kind: 'raw' | 'quarantine';
  partition: number;
  firstOffset: number;
  lastOffset: number;
  lines: string[];
}

export interface RawZoneAudit {
  objects: AuditedObject[];
  /** The line stored for each `${partition}:${offset}`. */
  byOffset: Map<string, { kind: 'raw' | 'quarantine'; line: string }>;
  /** Everything wrong: gaps, overlaps, duplicates, counts that disagree with metadata. */
  problems: string[];
}

/**
 * Reads back every raw and quarantine object of a topic and checks the exactly-once contract
 * offset by offset: per partition the objects' [first, last] ranges tile [0, high) with no gap
 * and no overlap, and each object holds exactly last - first + 1 lines, as its metadata says.
 */
export async function auditRawZone(
  store: ObjectStore,
  bucket: string,
  topic: string,
  table: string,
  highWatermarks: Map<number, number>,
): Promise<RawZoneAudit> {
  const problems: string[] = [];
  const objects: AuditedObject[] = [];
  for (const [prefix, kind] of [
    [`topics/${topic}/`, 'raw'],
    [`quarantine/${table}/`, 'quarantine'],
  ] as const) {
    for await (const o of store.list({ bucket, prefix })) {
      if (!o.key.includes(`/${topic}+`)) continue;
      const head = await store.head({ bucket, key: o.key });
      const body = Buffer.from((await store.get({ bucket, key: o.key }))!).toString('utf8');
      const lines = body.split('\n');
      if (lines.pop() !== '') problems.push(`${o.key}: does not end with a newline`);
      const first = Number(head?.metadata['first-offset']);
      const last = Number(head?.metadata['last-offset']);
      const count = Number(head?.metadata['record-count']);
      const partition = Number(head?.metadata.partition);
      if (lines.length !== count || count !== last - first + 1) {
        problems.push(
          `${o.key}: ${lines.length} lines, metadata says ${count} for [${first}, ${last}]`,
        );
      }
      if (!o.key.endsWith(`+${partition}+${String(first).padStart(10, '0')}.json`)) {
        problems.push(
          `${o.key}: key does not match its metadata (partition ${partition}, first ${first})`,
        );
      }
      objects.push({ key: o.key, kind, partition, firstOffset: first, lastOffset: last, lines });
    }
  }
  const byOffset = new Map<string, { kind: 'raw' | 'quarantine'; line: string }>();
  for (const o of objects) {
    o.lines.forEach((line, i) => {
      const id = `${o.partition}:${o.firstOffset + i}`;
      if (byOffset.has(id)) problems.push(`offset ${id} stored twice (again in ${o.key})`);
      byOffset.set(id, { kind: o.kind, line });
    });
  }
  for (const [partition, high] of highWatermarks) {
    for (let offset = 0; offset < high; offset++) {
      if (!byOffset.has(`${partition}:${offset}`)) {
        problems.push(`offset ${partition}:${offset} missing`);
        if (problems.length > 50) return { objects, byOffset, problems };
      }
    }
  }
  for (const id of byOffset.keys()) {
    const [p, off] = id.split(':').map(Number) as [number, number];
    if (off >= (highWatermarks.get(p) ?? 0))
      problems.push(`offset ${id} is beyond the high watermark`);
  }
  return { objects, byOffset, problems };
}

/**
 * Audits a pin topic against its current high watermarks and asserts the contract held: no
 * problem, and exactly one stored line per offset Kafka holds. Returns the audit and that total.
 */
export async function assertExactlyOnce(
  ports: { kafka: KafkaPort; store: ObjectStore },
  bucket: string,
  topic: string,
): Promise<{ audit: RawZoneAudit; total: number }> {
  const marks = new Map((await ports.kafka.watermarks(topic)).map((m) => [m.partition, m.high]));
  const audit = await auditRawZone(ports.store, bucket, topic, 'pin', marks);
  assert.deepEqual(audit.problems, []);
  const total = [...marks.values()].reduce((a, b) => a + b, 0);
  assert.equal(audit.byOffset.size, total);
  return { audit, total };
}
