/**
 * A deterministic stand-in for the seed's source tables (pin, geo, user; SOURCE_ROW_COUNT rows,
 * indexes 0..SOURCE_ROW_COUNT-1) following DESIGN 6's source profile, and the seed's draw:
 * random indexes with replacement, each posted as a pin, a geo and a user record.
 *
 * Every row is a pure function of (seed, index), so no table is ever materialised; every draw
 * is a pure function of (seed, position), so a sender can resume at any position. The known
 * rows of seed-rows.json sit verbatim at their own indexes whatever the seed.
 */

import { formatSourceDatetime } from './datetime';
import {
  IMAGE_SRC_ERROR,
  NO_DESCRIPTION,
  NO_DESCRIPTION_STORY,
  NO_TAGS,
  NO_TITLE,
  SAVE_LOCATION_PREFIX,
  STORY_FORMAT,
  UNTITLED,
  USER_INFO_ERROR,
} from './placeholders';
import { createRng, hashWords, seedToUint32, type Rng, type Seed } from './prng';
import type { RawGeo, RawPin, RawUser } from './raw-schemas';
import { SEED_ROWS_BY_IND } from './seed-fixture';
import {
  CATEGORY_VOCABULARY,
  COUNTRIES,
  DESCRIPTION_SENTENCES,
  FIRST_NAMES,
  LAST_NAMES,
  MULTILINGUAL_DESCRIPTIONS,
  MULTILINGUAL_TITLES,
  POSTER_SUFFIXES,
  POSTER_WORDS,
  TITLE_TEMPLATES,
} from './source-vocabulary';
import { CATEGORIES } from './tables';

export type { Seed } from './prng';

/** Rows in the source tables, as in the seed project. */
export const SOURCE_ROW_COUNT = 11153;

/** The source profile (DESIGN 6) the generator draws from. */
export const SOURCE_PROFILE = {
  followerCount: { k: 0.74, digits: 0.175, M: 0.07, userInfoError: 0.015 },
  /** Share of story-format posts (they carry the story placeholders). */
  story: 0.07,
  /** Among story posts, the share whose user info also failed (the fixture's row 7528). */
  userInfoErrorGivenStory: 0.15,
  video: 0.04,
  multilingualTitle: 0.06,
  postYears: [2017, 2022],
  joinYears: [2015, 2017],
  ages: [18, 80],
} as const;

export interface SourceRow {
  pin: RawPin;
  geo: RawGeo;
  user: RawUser;
}

/** One posted event: the three records of one source index. */
export interface SourceEvent extends SourceRow {
  ind: number;
}

const ROW_STREAM = 0x726f7773; // 'rows'
const DRAW_STREAM = 0x64726177; // 'draw'

const POST_FROM = Date.UTC(SOURCE_PROFILE.postYears[0], 0, 1);
const POST_UNTIL = Date.UTC(SOURCE_PROFILE.postYears[1] + 1, 0, 1);
const JOIN_FROM = Date.UTC(SOURCE_PROFILE.joinYears[0], 0, 1);
const JOIN_UNTIL = Date.UTC(SOURCE_PROFILE.joinYears[1] + 1, 0, 1);

function assertIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= SOURCE_ROW_COUNT) {
    throw new RangeError(
      `source index ${String(index)} out of range: expected an integer in 0..${SOURCE_ROW_COUNT - 1}`,
    );
  }
}

/** The three raw records of source row `index` (fresh objects; callers may mutate them). */
export function sourceRow(index: number, seed: Seed): SourceRow {
  assertIndex(index);
  const known = SEED_ROWS_BY_IND.get(index);
  if (known) {
    return { pin: { ...known.raw.pin }, geo: { ...known.raw.geo }, user: { ...known.raw.user } };
  }
  const rng = createRng(seedToUint32(seed), ROW_STREAM, index);
  return {
    pin: generatePin(rng, index),
    geo: generateGeo(rng, index),
    user: generateUser(rng, index),
  };
}

/** The whole source, column-wise by table (about 11k rows each; prefer sourceRow). */
export function generateSourceTables(seed: Seed): {
  pin: RawPin[];
  geo: RawGeo[];
  user: RawUser[];
} {
  const tables = { pin: [] as RawPin[], geo: [] as RawGeo[], user: [] as RawUser[] };
  for (let index = 0; index < SOURCE_ROW_COUNT; index += 1) {
    const row = sourceRow(index, seed);
    tables.pin.push(row.pin);
    tables.geo.push(row.geo);
    tables.user.push(row.user);
  }
  return tables;
}

/** The source index drawn at `position` (0-based) of the seed's draw; with replacement. */
export function drawIndex(seed: Seed, position: number): number {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`draw position ${String(position)}: expected an integer >= 0`);
  }
  const low = position >>> 0;
  const high = Math.floor(position / 2 ** 32) >>> 0;
  const word = hashWords(seedToUint32(seed), DRAW_STREAM, low, high);
  return Math.floor((word / 2 ** 32) * SOURCE_ROW_COUNT);
}

export interface DrawOptions {
  seed: Seed;
  /** How many events to emit. */
  count: number;
  /** Position of the first event (default 0): resumes a draw without replaying it. */
  start?: number;
}

/**
 * The seed's emulator: `count` events, each a random source index drawn with replacement, in
 * posting order (the client posts pin, then geo, then user). Same seed ⇒ same sequence.
 */
export function* drawEvents(options: DrawOptions): Generator<SourceEvent, void, undefined> {
  const { seed, count, start = 0 } = options;
  for (const [name, value] of [
    ['count', count],
    ['start', start],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`drawEvents ${name} ${String(value)}: expected an integer >= 0`);
    }
  }
  for (let position = start; position < start + count; position += 1) {
    const ind = drawIndex(seed, position);
    const { pin, geo, user } = sourceRow(ind, seed);
    yield { ind, pin, geo, user };
  }
}

// ---------------------------------------------------------------------------------------------
// Row generation. The order of draws from `rng` defines the table: change it only on purpose.

type FollowerForm = 'k' | 'digits' | 'M' | 'userInfoError';

function followerForm(rng: Rng, story: boolean): FollowerForm {
  const { followerCount: p, story: pStory, userInfoErrorGivenStory } = SOURCE_PROFILE;
  // Keep the overall share of `User Info Error` at p.userInfoError, concentrated in story posts.
  const pErrorOther = (p.userInfoError - pStory * userInfoErrorGivenStory) / (1 - pStory);
  if (rng.chance(story ? userInfoErrorGivenStory : pErrorOther)) return 'userInfoError';
  const u = rng.next() * (1 - p.userInfoError);
  if (u < p.k) return 'k';
  if (u < p.k + p.digits) return 'digits';
  return 'M';
}

/** Log-uniform integer in [min, max]: small counts are common, large ones rare. */
function logUniform(rng: Rng, min: number, max: number): number {
  const value = Math.floor(
    Math.exp(Math.log(min) + rng.next() * (Math.log(max + 1) - Math.log(min))),
  );
  return Math.min(max, Math.max(min, value));
}

function followerCount(rng: Rng, form: FollowerForm): string {
  switch (form) {
    case 'k':
      return `${logUniform(rng, 1, 999)}k`;
    case 'digits':
      return String(logUniform(rng, 1, 1000) - 1);
    case 'M':
      return `${logUniform(rng, 1, 30)}M`;
    case 'userInfoError':
      return USER_INFO_ERROR;
  }
}

function hex(rng: Rng, length: number): string {
  let out = '';
  while (out.length < length) out += rng.nextUint32().toString(16).padStart(8, '0');
  return out.slice(0, length);
}

function uuid4(rng: Rng): string {
  const h = hex(rng, 32);
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function title(rng: Rng, subjects: readonly string[]): string {
  if (rng.chance(SOURCE_PROFILE.multilingualTitle)) return rng.pick(MULTILINGUAL_TITLES);
  return rng
    .pick(TITLE_TEMPLATES)
    .replace('{s}', rng.pick(subjects))
    .replace('{n}', String(rng.int(5, 50)));
}

function description(rng: Rng): string {
  if (rng.chance(0.04)) return rng.pick(MULTILINGUAL_DESCRIPTIONS);
  const sentences = Array.from({ length: rng.int(1, 3) }, () => rng.pick(DESCRIPTION_SENTENCES));
  const text = sentences.join(' ');
  // Pinterest truncates long descriptions with an ellipsis.
  if (text.length > 60 && rng.chance(0.3)) return `${text.slice(0, rng.int(40, 60)).trimEnd()}…`;
  return text;
}

function posterName(rng: Rng): string {
  if (rng.chance(0.55)) return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
  return `${rng.pick(POSTER_WORDS)} & ${rng.pick(POSTER_WORDS)} | ${rng.pick(POSTER_SUFFIXES)}`;
}

function tagList(rng: Rng, tags: readonly string[]): string {
  const pool = [...tags];
  const chosen: string[] = [];
  const size = rng.int(3, Math.min(10, pool.length));
  while (chosen.length < size) {
    const [tag] = pool.splice(rng.int(0, pool.length - 1), 1);
    if (tag !== undefined) chosen.push(tag);
  }
  return chosen.join(',');
}

function imageSrc(rng: Rng): string {
  const h = hex(rng, 32);
  return `https://i.pinimg.com/originals/${h.slice(0, 2)}/${h.slice(2, 4)}/${h.slice(4, 6)}/${h}.jpg`;
}

/** Dirty-but-valid value with probability p, else the generated one. */
function sometimes(rng: Rng, p: number, dirty: string, make: () => string): string {
  return rng.chance(p) ? dirty : make();
}

function generatePin(rng: Rng, index: number): RawPin {
  const category = rng.pick(CATEGORIES);
  const vocabulary = CATEGORY_VOCABULARY[category];
  const story = rng.chance(SOURCE_PROFILE.story);
  const kind = story ? STORY_FORMAT : rng.chance(SOURCE_PROFILE.video) ? 'video' : 'image';
  const form = followerForm(rng, story);
  const unique_id = uuid4(rng);
  const userInfoFailed = form === 'userInfoError';
  const pinTitle = story
    ? sometimes(rng, 0.5, NO_TITLE, () => title(rng, vocabulary.subjects))
    : rng.chance(0.003)
      ? ''
      : sometimes(rng, 0.005, NO_TITLE, () => title(rng, vocabulary.subjects));
  const pinDescription = story
    ? NO_DESCRIPTION_STORY
    : rng.chance(0.005)
      ? ''
      : rng.chance(0.005)
        ? UNTITLED
        : sometimes(rng, 0.01, NO_DESCRIPTION, () => description(rng));
  const poster = userInfoFailed ? USER_INFO_ERROR : posterName(rng);
  const followers = followerCount(rng, form);
  const tags = story
    ? sometimes(rng, 0.6, NO_TAGS, () => tagList(rng, vocabulary.tags))
    : rng.chance(0.003)
      ? ''
      : sometimes(rng, 0.01, NO_TAGS, () => tagList(rng, vocabulary.tags));
  const image = story
    ? IMAGE_SRC_ERROR
    : sometimes(rng, 0.003, IMAGE_SRC_ERROR, () => imageSrc(rng));
  return {
    index,
    unique_id,
    title: pinTitle,
    description: pinDescription,
    poster_name: poster,
    follower_count: followers,
    tag_list: tags,
    is_image_or_video: kind,
    image_src: image,
    downloaded: story || image === IMAGE_SRC_ERROR ? 0 : rng.chance(0.98) ? 1 : 0,
    save_location: `${SAVE_LOCATION_PREFIX}/data/${category}`,
    category,
  };
}

/** Like the source's MySQL floats: 6 significant digits. */
function coordinate(rng: Rng, limit: number): number {
  const value = Number(((rng.next() * 2 - 1) * limit).toPrecision(6));
  return value === 0 ? 0 : value; // no -0
}

function datetimeBetween(rng: Rng, from: number, until: number): string {
  const seconds = Math.floor((until - from) / 1000);
  return formatSourceDatetime(from + Math.floor(rng.next() * seconds) * 1000);
}

function generateGeo(rng: Rng, index: number): RawGeo {
  return {
    ind: index,
    timestamp: datetimeBetween(rng, POST_FROM, POST_UNTIL),
    latitude: coordinate(rng, 90),
    longitude: coordinate(rng, 180),
    country: rng.pick(COUNTRIES),
  };
}

function generateUser(rng: Rng, index: number): RawUser {
  return {
    ind: index,
    first_name: rng.pick(FIRST_NAMES),
    last_name: rng.pick(LAST_NAMES),
    age: rng.int(SOURCE_PROFILE.ages[0], SOURCE_PROFILE.ages[1]),
    date_joined: datetimeBetween(rng, JOIN_FROM, JOIN_UNTIL),
  };
}
