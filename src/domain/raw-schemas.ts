/**
 * zod schemas of the raw records as posted (DESIGN 6). They accept every dirty value the source
 * really has (placeholders, empty strings, story-format posts, multilingual text, both datetime
 * forms) and reject what is structurally wrong, with messages that name the field. Extra keys are
 * kept (loose objects): the raw zone stores what was posted; cleaning selects the columns.
 */

import { z } from 'zod';
import { isSourceDatetime } from './datetime';
import { followerCountValue } from './follower-count';
import { STORY_FORMAT, USER_INFO_ERROR } from './placeholders';
import { CATEGORIES, type Table } from './tables';

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

type IssueLike = { input?: unknown };

function expected(what: string): (issue: IssueLike) => string {
  return (issue) =>
    issue.input === undefined
      ? `missing, expected ${what}`
      : `expected ${what}, received ${describeValue(issue.input)}`;
}

const integer = () => z.int({ error: expected('integer') });

const index = () =>
  integer().min(0, {
    error: (issue: IssueLike) => `expected integer >= 0, received ${describeValue(issue.input)}`,
  });

const text = () => z.string({ error: expected('string or null') }).nullable();

const DATETIME = 'datetime "YYYY-MM-DD HH:MM:SS" (or ISO "T" form)';
const datetime = () =>
  z
    .string({ error: expected(DATETIME) })
    .refine(isSourceDatetime, { error: (issue: IssueLike) => expected(DATETIME)(issue) });

const coordinate = (limit: number) =>
  z
    .number({ error: expected('number') })
    .min(-limit, { error: expected(`number between -${limit} and ${limit}`) })
    .max(limit, { error: expected(`number between -${limit} and ${limit}`) });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const IMAGE_OR_VIDEO = ['image', 'video', STORY_FORMAT] as const;

const FOLLOWER_COUNT_FORMS = `digits, digits+"k", digits+"M" or "${USER_INFO_ERROR}"`;

function isRawFollowerCount(value: unknown): value is string | number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'string' && followerCountValue(value) !== undefined;
}

export const rawPinSchema = z.looseObject({
  index: index(),
  unique_id: z
    .string({ error: expected('uuid string') })
    .refine((v) => v === '' || UUID.test(v), { error: expected('uuid string') }),
  title: text(),
  description: text(),
  poster_name: text(),
  follower_count: z.custom<string | number>(isRawFollowerCount, {
    error: expected(FOLLOWER_COUNT_FORMS),
  }),
  tag_list: text(),
  is_image_or_video: z.enum([...IMAGE_OR_VIDEO, ''], {
    error: expected(`one of ${IMAGE_OR_VIDEO.map((v) => JSON.stringify(v)).join(', ')}`),
  }),
  image_src: text(),
  downloaded: z.union([z.literal(0), z.literal(1)], { error: expected('0 or 1') }),
  save_location: text(),
  category: z.enum([...CATEGORIES, ''], {
    error: expected(`a category (${CATEGORIES.join(', ')})`),
  }),
});

export const rawGeoSchema = z.looseObject({
  ind: index(),
  timestamp: datetime(),
  latitude: coordinate(90),
  longitude: coordinate(180),
  country: text(),
});

export const rawUserSchema = z.looseObject({
  ind: index(),
  first_name: text(),
  last_name: text(),
  age: integer().min(0, { error: expected('integer >= 0') }),
  date_joined: datetime(),
});

export type RawPin = z.infer<typeof rawPinSchema>;
export type RawGeo = z.infer<typeof rawGeoSchema>;
export type RawUser = z.infer<typeof rawUserSchema>;

export interface RawRecordMap {
  pin: RawPin;
  geo: RawGeo;
  user: RawUser;
}
export type RawRecord = RawRecordMap[Table];

export const RAW_SCHEMAS = {
  pin: rawPinSchema,
  geo: rawGeoSchema,
  user: rawUserSchema,
} as const;

export type ParseRawResult<T extends Table = Table> =
  { ok: true; record: RawRecordMap[T] } | { ok: false; reason: string };

/** `field: message; other: message` for every issue, in field order. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length === 0 ? 'record' : issue.path.map(String).join('.');
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Validates one raw record of `table`; never throws. */
export function parseRaw<T extends Table>(table: T, value: unknown): ParseRawResult<T> {
  const schema = RAW_SCHEMAS[table] as unknown as z.ZodType<RawRecordMap[T]>;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      reason: `record: expected a JSON object (${table} record), received ${describeValue(value)}`,
    };
  }
  const result = schema.safeParse(value);
  return result.success
    ? { ok: true, record: result.data }
    : { ok: false, reason: formatIssues(result.error.issues) };
}
