import { parseRaw } from '../domain/raw-schemas';
import type { Table } from '../domain/tables';
import type { OutgoingRecord } from '../ports/kafka';
import { jsonValueProblem } from './json-value';
import type { ProduceRecord } from './request-schema';

export type PlannedRecord =
  { kind: 'produce'; record: OutgoingRecord } | { kind: 'reject'; reason: string };

export interface PlanInput {
  table: Table;
  records: ProduceRecord[];
  partitions: number;
  /** Set by `POST /topics/{t}/partitions/{p}`: overrides each record's own partition. */
  partition?: number;
}

/**
 * Decides, record by record, what is produced and what is refused (and why), in request order.
 * Pure. What is produced is exactly the posted JSON, re-serialised: the raw zone keeps what was
 * sent (the schema's parsed copy is only used to judge it).
 */
export function planRecords(input: PlanInput): PlannedRecord[] {
  return input.records.map((r): PlannedRecord => {
    const problem =
      jsonValueProblem(r.value) ??
      (r.key === undefined ? undefined : jsonValueProblem(r.key)?.replace(/^value/, 'key'));
    if (problem) return { kind: 'reject', reason: problem };
    const parsed = parseRaw(input.table, r.value);
    if (!parsed.ok) return { kind: 'reject', reason: parsed.reason };
    const partition = input.partition ?? r.partition ?? undefined;
    if (partition !== undefined && partition >= input.partitions) {
      return {
        kind: 'reject',
        reason: `partition: ${partition} does not exist (the topic has ${input.partitions})`,
      };
    }
    return {
      kind: 'produce',
      record: {
        value: JSON.stringify(r.value),
        key: r.key === undefined || r.key === null ? null : JSON.stringify(r.key),
        ...(partition === undefined ? {} : { partition }),
        validated: true,
      },
    };
  });
}
