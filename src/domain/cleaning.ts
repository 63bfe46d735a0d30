/**
 * Cleaning rules of DESIGN 6, one raw record at a time. The clean row's keys are in the
 * documented column order; values are JSON-serialisable (timestamps are UTC ISO-8601 strings
 * `YYYY-MM-DDTHH:MM:SSZ`, coordinates `[latitude, longitude]`).
 */

import { toCleanTimestamp } from './datetime';
import { parseFollowerCount } from './follower-count';
import { PIN_PLACEHOLDERS, SAVE_LOCATION_PREFIX } from './placeholders';
import { parseRaw, type RawGeo, type RawPin, type RawRecordMap, type RawUser } from './raw-schemas';
import type { Table } from './tables';

export type CleanPin = {
  ind: number;
  unique_id: string | null;
  title: string | null;
  description: string | null;
  follower_count: number | null;
  poster_name: string | null;
  tag_list: string | null;
  is_image_or_video: string | null;
  image_src: string | null;
  save_location: string | null;
  category: string | null;
};

export type CleanGeo = {
  ind: number;
  country: string | null;
  coordinates: [latitude: number, longitude: number];
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  timestamp: string;
};

export type CleanUser = {
  ind: number;
  user_name: string | null;
  age: number;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  date_joined: string;
};

export interface CleanRecordMap {
  pin: CleanPin;
  geo: CleanGeo;
  user: CleanUser;
}
export type CleanRecord = CleanRecordMap[Table];

/** Clean column order per table (the order of the clean rows' keys). */
export const CLEAN_COLUMNS = {
  pin: [
    'ind',
    'unique_id',
    'title',
    'description',
    'follower_count',
    'poster_name',
    'tag_list',
    'is_image_or_video',
    'image_src',
    'save_location',
    'category',
  ],
  geo: ['ind', 'country', 'coordinates', 'timestamp'],
  user: ['ind', 'user_name', 'age', 'date_joined'],
} as const satisfies { [T in Table]: readonly (keyof CleanRecordMap[T])[] };

/** null for null, the empty string and the column's placeholders; the text otherwise. */
function nullIf(value: string | null, placeholders: readonly string[] = []): string | null {
  return value === null || value === '' || placeholders.includes(value) ? null : value;
}

function cleanFollowerCount(value: string | number): number | null {
  return typeof value === 'number' ? value : parseFollowerCount(value);
}

function cleanSaveLocation(value: string | null): string | null {
  const location = nullIf(value);
  if (location === null) return null;
  return nullIf(
    location.startsWith(SAVE_LOCATION_PREFIX)
      ? location.slice(SAVE_LOCATION_PREFIX.length)
      : location,
  );
}

export function cleanPin(raw: RawPin): CleanPin {
  return {
    ind: raw.index,
    unique_id: nullIf(raw.unique_id),
    title: nullIf(raw.title, PIN_PLACEHOLDERS.title),
    description: nullIf(raw.description, PIN_PLACEHOLDERS.description),
    follower_count: cleanFollowerCount(raw.follower_count),
    poster_name: nullIf(raw.poster_name, PIN_PLACEHOLDERS.poster_name),
    tag_list: nullIf(raw.tag_list, PIN_PLACEHOLDERS.tag_list),
    is_image_or_video: nullIf(raw.is_image_or_video),
    image_src: nullIf(raw.image_src, PIN_PLACEHOLDERS.image_src),
    save_location: cleanSaveLocation(raw.save_location),
    category: nullIf(raw.category),
  };
}

export function cleanGeo(raw: RawGeo): CleanGeo {
  return {
    ind: raw.ind,
    country: nullIf(raw.country),
    coordinates: [raw.latitude, raw.longitude],
    timestamp: toCleanTimestamp(raw.timestamp),
  };
}

/** user_name is `first_name + ' ' + last_name`; a missing part is left out, null if both are. */
export function cleanUser(raw: RawUser): CleanUser {
  const parts = [nullIf(raw.first_name), nullIf(raw.last_name)].filter((p) => p !== null);
  return {
    ind: raw.ind,
    user_name: parts.length === 0 ? null : parts.join(' '),
    age: raw.age,
    date_joined: toCleanTimestamp(raw.date_joined),
  };
}

/** Cleans a record that parseRaw accepted for `table`. */
export function cleanRecord<T extends Table>(table: T, raw: RawRecordMap[T]): CleanRecordMap[T] {
  const cleaners: { [K in Table]: (raw: RawRecordMap[K]) => CleanRecordMap[K] } = {
    pin: cleanPin,
    geo: cleanGeo,
    user: cleanUser,
  };
  return (cleaners[table] as (raw: RawRecordMap[T]) => CleanRecordMap[T])(raw);
}

export type ParseAndCleanResult<T extends Table = Table> =
  { ok: true; row: CleanRecordMap[T] } | { ok: false; reason: string };

/** Validates then cleans one posted value; a rejection carries parseRaw's field-level reason. */
export function parseAndClean<T extends Table>(table: T, value: unknown): ParseAndCleanResult<T> {
  const parsed = parseRaw(table, value);
  if (!parsed.ok) return parsed;
  return { ok: true, row: cleanRecord(table, parsed.record) };
}
