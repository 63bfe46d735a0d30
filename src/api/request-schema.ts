import { z } from 'zod';
import { describeValue } from '../domain/raw-schemas';
import { formatZodIssues } from '../domain/zod-messages';
import { ApiError, ErrorCode } from './errors';

/**
 * The body of a REST Proxy v2 produce request in the embedded JSON format. `value` is any JSON
 * (the topic's raw schema judges it per record); `key` is any JSON and, as in the proxy, is
 * stored JSON-serialised; `partition` picks a partition instead of the default partitioner.
 * Unknown fields (`key_schema`, `value_schema`, used by the Avro format) are ignored.
 */
const produceRecord = z.object(
  {
    key: z.unknown().optional(),
    value: z
      .unknown()
      .refine((v) => v !== undefined, { error: 'missing, expected the record value (any JSON)' }),
    partition: z
      .int({ error: 'expected a partition number (integer >= 0) or null' })
      .min(0, { error: 'expected a partition number (integer >= 0) or null' })
      .nullable()
      .optional(),
  },
  { error: 'expected an object {"value": ..., "key"?: ..., "partition"?: ...}' },
);

export const produceRequestSchema = z.object(
  {
    records: z
      .array(produceRecord, {
        error: (issue) =>
          issue.input === undefined
            ? 'missing, expected an array of records'
            : `expected an array of records, received ${describeValue(issue.input)}`,
      })
      .min(1, { error: 'expected at least one record' }),
  },
  { error: 'expected an object {"records": [...]}' },
);

export type ProduceRequest = z.infer<typeof produceRequestSchema>;
export type ProduceRecord = ProduceRequest['records'][number];

/** Validates the decoded body; 422 naming the field path (`records.0.value: ...`) otherwise. */
export function parseProduceRequest(body: unknown): ProduceRequest {
  const result = produceRequestSchema.safeParse(body);
  if (!result.success) {
    throw new ApiError(
      422,
      ErrorCode.unprocessable,
      formatZodIssues(result.error.issues, { root: 'body' }),
    );
  }
  return result.data;
}
