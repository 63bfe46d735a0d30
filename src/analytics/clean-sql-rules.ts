/**
 * The SQL cleaner's shared rules (see clean-sql.ts): the raw fields and what each checks, the
 * clean columns, the gates' SQL twins and the line splitter, used by both paths.
 */

import { AGE_TOO_LARGE } from '../domain/clean-line';
import { CLEAN_COLUMNS } from '../domain/cleaning';
import { PIN_PLACEHOLDERS, SAVE_LOCATION_PREFIX } from '../domain/placeholders';
import { type Expectation } from '../domain/quality-gates';
import { EXPECTED, IMAGE_OR_VIDEO } from '../domain/raw-schemas';
import { CATEGORIES, type Table } from '../domain/tables';
import { quoteIdentifier as id, quoteString as str } from './sql-text';

/** A gate with its SQL twin: a boolean expression over the clean columns of its table. */
export type SqlExpectation<T extends Table> = Expectation<T> & { sql?: string };

export const MAX_SAFE = '9007199254740991';
export const list = (values: readonly string[]) => values.map(str).join(', ');

/**
 * JS's /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, in RE2 (measured faster
 * here than length and dash checks with a cast to UUID).
 */
export const UUID_RE =
  '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
export const isUuidSql = (text: string) => `regexp_full_match(${text}, ${str(UUID_RE)})`;

// The instants formatUtcIso prints with a 4-digit year, the only ones Date.parse reads back.
export const YEAR_0_US = '-62167219200000000';
export const YEAR_10000_US = '253402300800000000';
export const parseableTimestamp = (column: string) =>
  `epoch_us(${id(column)}) >= ${YEAR_0_US} AND epoch_us(${id(column)}) < ${YEAR_10000_US}`;
export const indIsInteger = `ind BETWEEN 0 AND ${MAX_SAFE}`;

/** SQL twins of DEFAULT_GATES' checks, by table and gate name. */
export const GATE_SQL: { [T in Table]: Record<string, string> } = {
  pin: {
    ind_is_integer: indIsInteger,
    unique_id_is_uuid: `unique_id IS NULL OR ${isUuidSql('unique_id')}`,
    category_known: `category IS NULL OR category IN (${list(CATEGORIES)})`,
    follower_count_non_negative: `follower_count IS NULL OR follower_count BETWEEN 0 AND ${MAX_SAFE}`,
  },
  geo: {
    ind_is_integer: indIsInteger,
    coordinates_in_range: 'abs(coordinates[1]) <= 90 AND abs(coordinates[2]) <= 180',
    timestamp_parseable: parseableTimestamp('timestamp'),
    country_present: 'country IS NOT NULL',
  },
  user: {
    ind_is_integer: indIsInteger,
    age_in_range: 'age BETWEEN 13 AND 120',
    date_joined_parseable: parseableTimestamp('date_joined'),
  },
};

export function gateChecks<T extends Table>(
  table: T,
  gates: readonly SqlExpectation<T>[],
): string[] {
  return gates.map((gate) => {
    const sql = gate.sql ?? GATE_SQL[table][gate.name];
    if (sql === undefined) {
      throw new Error(
        `gate ${gate.name} of ${table} has no SQL twin: give it \`sql\`, a boolean expression over the clean columns (${CLEAN_COLUMNS[table].join(', ')})`,
      );
    }
    return sql;
  });
}

export const gateColumn = (i: number) => id(`gate$${i}`);

/** Gate columns (NULL for a row that did not reach the gates; a NULL check fails). */
export function gateColumnsSql(gateSql: readonly string[], reached: string): string {
  return gateSql
    .map(
      (sql, i) => `, CASE WHEN ${reached} THEN coalesce((${sql}), false) END AS ${gateColumn(i)}`,
    )
    .join('');
}

/** `gate <name>: <description>; ...` for the failed drop gates (NULL when none failed). */
export function dropReasonSql<T extends Table>(gates: readonly SqlExpectation<T>[]): string {
  const dropped = gates.flatMap((gate, i) =>
    gate.policy === 'drop'
      ? [`CASE WHEN NOT ${gateColumn(i)} THEN ${str(`gate ${gate.name}: ${gate.description}`)} END`]
      : [],
  );
  return dropped.length === 0 ? 'NULL' : `nullif(concat_ws('; ', ${dropped.join(', ')}), '')`;
}

// ---------------------------------------------------------------------------------------------
// The raw fields: what each checks, in schema order (the order of the reasons' issues).

/** What a clean column cannot hold although the raw schema takes it (clean-line's unfitValue). */
export interface Unfit {
  max: number;
  message: string;
}

export type FieldRule =
  | { kind: 'integer'; unfit?: Unfit }
  | { kind: 'uuid' }
  | { kind: 'text'; placeholders?: readonly string[] }
  | { kind: 'followerCount' }
  | { kind: 'enum'; values: readonly string[]; what: string }
  | { kind: 'downloaded' }
  | { kind: 'datetime' }
  | { kind: 'coordinate'; limit: number };

export type RawField = readonly [name: string, rule: FieldRule];

export const RAW_FIELDS: { [T in Table]: readonly RawField[] } = {
  pin: [
    ['index', { kind: 'integer' }],
    ['unique_id', { kind: 'uuid' }],
    ['title', { kind: 'text', placeholders: PIN_PLACEHOLDERS.title }],
    ['description', { kind: 'text', placeholders: PIN_PLACEHOLDERS.description }],
    ['poster_name', { kind: 'text', placeholders: PIN_PLACEHOLDERS.poster_name }],
    ['follower_count', { kind: 'followerCount' }],
    ['tag_list', { kind: 'text', placeholders: PIN_PLACEHOLDERS.tag_list }],
    ['is_image_or_video', { kind: 'enum', values: IMAGE_OR_VIDEO, what: EXPECTED.imageOrVideo }],
    ['image_src', { kind: 'text', placeholders: PIN_PLACEHOLDERS.image_src }],
    ['downloaded', { kind: 'downloaded' }],
    ['save_location', { kind: 'text' }],
    ['category', { kind: 'enum', values: CATEGORIES, what: EXPECTED.category }],
  ],
  geo: [
    ['ind', { kind: 'integer' }],
    ['timestamp', { kind: 'datetime' }],
    ['latitude', { kind: 'coordinate', limit: 90 }],
    ['longitude', { kind: 'coordinate', limit: 180 }],
    ['country', { kind: 'text' }],
  ],
  user: [
    ['ind', { kind: 'integer' }],
    ['first_name', { kind: 'text' }],
    ['last_name', { kind: 'text' }],
    ['age', { kind: 'integer', unfit: { max: 2 ** 31 - 1, message: AGE_TOO_LARGE } }],
    ['date_joined', { kind: 'datetime' }],
  ],
};

/** Column names of one raw field's intermediate values (`$` keeps them apart from clean names). */
export const col = (field: string, part: string) => id(`${field}$${part}`);

/** Each clean column's expression (CLEAN_COLUMNS order) over the fields' `c` values. */
export function cleanColumnsSql(table: Table): [name: string, expression: string][] {
  const c = (field: string) => col(field, 'c');
  const prefix = SAVE_LOCATION_PREFIX;
  const location =
    `nullif(CASE WHEN starts_with(${c('save_location')}, ${str(prefix)}) ` +
    `THEN substr(${c('save_location')}, ${prefix.length + 1}) ELSE ${c('save_location')} END, '')`;
  const userName =
    `CASE WHEN ${c('first_name')} IS NULL THEN ${c('last_name')} ` +
    `WHEN ${c('last_name')} IS NULL THEN ${c('first_name')} ` +
    `ELSE ${c('first_name')} || ' ' || ${c('last_name')} END`;
  const expressions: Record<string, string> = {
    ind: `CAST(${table === 'pin' ? c('index') : c('ind')} AS BIGINT)`,
    unique_id: c('unique_id'),
    title: c('title'),
    description: c('description'),
    follower_count: `CAST(${c('follower_count')} AS BIGINT)`,
    poster_name: c('poster_name'),
    tag_list: c('tag_list'),
    is_image_or_video: c('is_image_or_video'),
    image_src: c('image_src'),
    save_location: location,
    category: c('category'),
    country: c('country'),
    coordinates: `[${c('latitude')}, ${c('longitude')}]`,
    timestamp: `make_timestamptz(${c('timestamp')})`,
    user_name: userName,
    // The COPY casts it to INTEGER; a larger age is rejected before (unfitSql).
    age: `CAST(${c('age')} AS BIGINT)`,
    date_joined: `make_timestamptz(${c('date_joined')})`,
  };
  return CLEAN_COLUMNS[table].map((name) => [name, expressions[name] ?? 'NULL']);
}

/**
 * Two CTEs, `named` and `gated`: the clean columns of the rows of `from` where `where` holds
 * (NULL elsewhere) beside the columns `keep`, then the gate columns over them.
 */
export function cleanedAndGatedSql(
  table: Table,
  gateSql: readonly string[],
  o: { where: string; keep: string; from: string },
): string {
  const columns = cleanColumnsSql(table).map(
    ([name, sql]) => `CASE WHEN ${o.where} THEN ${sql} END AS ${id(name)}`,
  );
  return `named AS (
  SELECT ${o.keep},
    ${columns.join(',\n    ')}
  FROM ${o.from}
), gated AS (
  SELECT *${gateColumnsSql(gateSql, o.where)} FROM named`;
}

/**
 * The lines of `texts` (columns `keys` and `text`): `keys`, `ord` (the line's index in its text),
 * `len` (its bytes, CR included) and `line` (without the CR).
 */
export function linesSql(texts: string, keys: string): string {
  return `SELECT ${keys}, ord, strlen(raw) AS len,
    CASE WHEN ends_with(raw, chr(13)) THEN left(raw, -1) ELSE raw END AS line
  FROM (
    SELECT ${keys}, unnest(parts) AS raw, unnest(range(len(parts))) AS ord
    FROM (SELECT ${keys}, string_split(text, chr(10)) AS parts FROM (${texts}))
  )`;
}
