/**
 * zod schemas of the raw records as posted (DESIGN 6). They accept every dirty value the source
 * really has (placeholders, empty strings, story-format posts, multilingual text, both datetime
 * forms) and reject what is structurally wrong, with messages that name the field. Extra keys are
 * kept (loose objects): the raw zone stores what was posted; cleaning selects the columns.
 *
 * The schemas are built twice, differing only in how a message shows the offending value:
 * parseRaw (the ingest API and the sink) echoes it (`received number 1.5`), which helps the person
 * who posted it; parseRawByType (the nightly cleaning's spec) names only its JSON type (`received
 * number`), because the nightly runs the same rules in DuckDB SQL, which cannot reproduce JS's
 * number formatting and JSON escaping byte for byte, and its quarantine keeps the whole line anyway.
 */

import { z } from 'zod';
import { isSourceDatetime } from './datetime';
import { followerCountValue } from './follower-count';
import { STORY_FORMAT, USER_INFO_ERROR } from './placeholders';
import { CATEGORIES, type Table } from './tables';
import { formatZodIssues } from './zod-messages';

/** How a message shows an offending value (`nothing` when the field is missing). */
export type ValueDescriber = (input: unknown) => string;

/** Describes an offending value briefly, for a message a person can act on. */
export function describeValue(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'string') {
    const shown = input.length > 40 ? `${input.slice(0, 40)}…` : input;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof input === 'number') return `number ${String(input)}`;
  if (typeof input === 'object') return 'object';
  return typeof input;
}

/** The JSON type of a parsed value: nothing, null, string, number, boolean, array or object. */
export function describeJsonType(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  return typeof input;
}

type IssueLike = { input?: unknown };

export const IMAGE_OR_VIDEO = ['image', 'video', STORY_FORMAT] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What each kind of field expects, as its messages say it (`expected <what>, received ...`). */
export const EXPECTED = {
  integer: 'integer',
  nonNegativeInteger: 'integer >= 0',
  text: 'string or null',
  uuid: 'uuid string',
  datetime: 'datetime "YYYY-MM-DD HH:MM:SS" (or ISO "T" form)',
  followerCount: `digits, digits+"k", digits+"M" or "${USER_INFO_ERROR}"`,
  imageOrVideo: `one of ${IMAGE_OR_VIDEO.map((v) => JSON.stringify(v)).join(', ')}`,
  downloaded: '0 or 1',
  category: `a category (${CATEGORIES.join(', ')})`,
  number: 'number',
  coordinate: (limit: number) => `number between -${limit} and ${limit}`,
} as const;

function isRawFollowerCount(value: unknown): value is string | number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'string' && followerCountValue(value) !== undefined;
}

function buildSchemas(describe: ValueDescriber) {
  const expected =
    (what: string) =>
    (issue: IssueLike): string =>
      issue.input === undefined
        ? `missing, expected ${what}`
        : `expected ${what}, received ${describe(issue.input)}`;

  const integer = () => z.int({ error: expected(EXPECTED.integer) });
  const index = () => integer().min(0, { error: expected(EXPECTED.nonNegativeInteger) });
  const text = () => z.string({ error: expected(EXPECTED.text) }).nullable();
  const datetime = () =>
    z
      .string({ error: expected(EXPECTED.datetime) })
      .refine(isSourceDatetime, { error: expected(EXPECTED.datetime) });
  const coordinate = (limit: number) =>
    z
      .number({ error: expected(EXPECTED.number) })
      .min(-limit, { error: expected(EXPECTED.coordinate(limit)) })
      .max(limit, { error: expected(EXPECTED.coordinate(limit)) });

  const pin = z.looseObject({
    index: index(),
    unique_id: z
      .string({ error: expected(EXPECTED.uuid) })
      .refine((v) => v === '' || UUID.test(v), { error: expected(EXPECTED.uuid) }),
    title: text(),
    description: text(),
    poster_name: text(),
    follower_count: z.custom<string | number>(isRawFollowerCount, {
      error: expected(EXPECTED.followerCount),
    }),
    tag_list: text(),
    is_image_or_video: z.enum([...IMAGE_OR_VIDEO, ''], { error: expected(EXPECTED.imageOrVideo) }),
    image_src: text(),
    downloaded: z.union([z.literal(0), z.literal(1)], { error: expected(EXPECTED.downloaded) }),
    save_location: text(),
    category: z.enum([...CATEGORIES, ''], { error: expected(EXPECTED.category) }),
  });

  const geo = z.looseObject({
    ind: index(),
    timestamp: datetime(),
    latitude: coordinate(90),
    longitude: coordinate(180),
    country: text(),
  });

  const user = z.looseObject({
    ind: index(),
    first_name: text(),
    last_name: text(),
    age: integer().min(0, { error: expected(EXPECTED.nonNegativeInteger) }),
    date_joined: datetime(),
  });

  return { pin, geo, user };
}

export const RAW_SCHEMAS = buildSchemas(describeValue);
/** The same rules as RAW_SCHEMAS; messages name only the JSON type of an offending value. */
const TYPED_SCHEMAS = buildSchemas(describeJsonType);

export const rawPinSchema = RAW_SCHEMAS.pin;
export const rawGeoSchema = RAW_SCHEMAS.geo;
export const rawUserSchema = RAW_SCHEMAS.user;

export type RawPin = z.infer<typeof rawPinSchema>;
export type RawGeo = z.infer<typeof rawGeoSchema>;
export type RawUser = z.infer<typeof rawUserSchema>;

export interface RawRecordMap {
  pin: RawPin;
  geo: RawGeo;
  user: RawUser;
}
export type RawRecord = RawRecordMap[Table];

/** A failure's reason: `field: message; other: message`, every issue, in field order. */
export type ParseRawResult<T extends Table = Table> =
  { ok: true; record: RawRecordMap[T] } | { ok: false; reason: string };

function parseWith<T extends Table>(
  schemas: typeof RAW_SCHEMAS,
  describe: ValueDescriber,
  table: T,
  value: unknown,
): ParseRawResult<T> {
  const schema = schemas[table] as unknown as z.ZodType<RawRecordMap[T]>;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      reason: `record: expected a JSON object (${table} record), received ${describe(value)}`,
    };
  }
  const result = schema.safeParse(value);
  return result.success
    ? { ok: true, record: result.data }
    : { ok: false, reason: formatZodIssues(result.error.issues, { root: 'record' }) };
}

/** Validates one raw record of `table`; never throws. Messages echo the offending value. */
export function parseRaw<T extends Table>(table: T, value: unknown): ParseRawResult<T> {
  return parseWith(RAW_SCHEMAS, describeValue, table, value);
}

/**
 * parseRaw with messages that name only the JSON type of an offending value
 * (`index: expected integer >= 0, received number`): the nightly cleaning's wording, which its
 * SQL reproduces exactly.
 */
export function parseRawByType<T extends Table>(table: T, value: unknown): ParseRawResult<T> {
  return parseWith(TYPED_SCHEMAS, describeJsonType, table, value);
}
