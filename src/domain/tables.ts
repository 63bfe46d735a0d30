/**
 * Table, topic and bucket naming (DESIGN 3). Pure: no I/O.
 */

/** The three source tables; one event posts one record to each, joined on the index. */
export const TABLES = ['pin', 'geo', 'user'] as const;
export type Table = (typeof TABLES)[number];

export function isTable(value: unknown): value is Table {
  return typeof value === 'string' && (TABLES as readonly string[]).includes(value);
}

/** A pipeline id is 12 lowercase hex characters (the seed's user id), e.g. `0a1b2c3d4e5f`. */
export const PIPELINE_ID_PATTERN = /^[0-9a-f]{12}$/;

export function isPipelineId(value: unknown): value is string {
  return typeof value === 'string' && PIPELINE_ID_PATTERN.test(value);
}

/** Throws an Error a person can act on when `value` is not a pipeline id; returns it otherwise. */
export function assertPipelineId(value: unknown): string {
  if (!isPipelineId(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value;
    throw new Error(
      `invalid pipeline id ${shown}: expected 12 lowercase hex characters, e.g. 0a1b2c3d4e5f`,
    );
  }
  return value;
}

/** `<id>.pin`, `<id>.geo`, `<id>.user`. */
export function topicFor(pipelineId: string, table: Table): string {
  assertPipelineId(pipelineId);
  if (!isTable(table)) {
    throw new Error(`invalid table ${JSON.stringify(table)}: expected one of ${TABLES.join(', ')}`);
  }
  return `${pipelineId}.${table}`;
}

/** All three topics of a pipeline, in table order. */
export function topicsFor(pipelineId: string): string[] {
  return TABLES.map((table) => topicFor(pipelineId, table));
}

export interface TopicName {
  pipelineId: string;
  table: Table;
}

/** Splits `<id>.<table>`; undefined when the topic is not a pipeline topic. */
export function parseTopic(topic: string): TopicName | undefined {
  const match = /^([0-9a-f]{12})\.(pin|geo|user)$/.exec(topic);
  if (!match) return undefined;
  const [, pipelineId, table] = match;
  if (pipelineId === undefined || !isTable(table)) return undefined;
  return { pipelineId, table };
}

/** The table a pipeline topic carries; throws when `topic` is not `<12 hex>.<pin|geo|user>`. */
export function tableOfTopic(topic: string): Table {
  const parsed = parseTopic(topic);
  if (!parsed) {
    throw new Error(
      `invalid topic ${JSON.stringify(topic)}: expected <pipeline id>.<${TABLES.join('|')}>, e.g. 0a1b2c3d4e5f.pin`,
    );
  }
  return parsed.table;
}

/** `user-<id>-bucket`. */
export function bucketFor(pipelineId: string): string {
  return `user-${assertPipelineId(pipelineId)}-bucket`;
}

/** `s3://<bucket>/<key>`: how DuckDB's httpfs names an object it reads in place. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** The 13 pin categories of the source. */
export const CATEGORIES = [
  'education',
  'finance',
  'diy-and-crafts',
  'event-planning',
  'mens-fashion',
  'quotes',
  'travel',
  'christmas',
  'tattoos',
  'home-decor',
  'art',
  'beauty',
  'vehicles',
] as const;
export type Category = (typeof CATEGORIES)[number];

export function isCategory(value: unknown): value is Category {
  return typeof value === 'string' && (CATEGORIES as readonly string[]).includes(value);
}
