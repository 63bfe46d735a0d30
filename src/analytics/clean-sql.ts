/**
 * The nightly cleaning in DuckDB SQL: raw NDJSON files in, the clean Parquet part and the
 * quarantine NDJSON out, with the rules of domain/clean-line.ts (the specification; a
 * differential test holds the two to identical rows, reasons, counts and gate tallies).
 *
 *   cleanWithSql(connection, { table, inputs, parquetOut, quarantineOut, gates? })
 *     → { rawRecords, rowsIn, quarantined, gateState: { checked, failed[] } }
 *
 * - inputs: local files, each holding whole lines of raw object `source` starting at byte
 *   `baseOffset` of it. Lines end at LF; a CR before the LF is dropped; empty lines are skipped
 *   and not counted. Every other line counts in `rawRecords`.
 * - parquetOut: the kept rows (valid, and no drop gate failed), not deduplicated, in input order,
 *   with the exact clean schema (clean-schema.ts); `rowsIn` counts them. Written even when empty.
 * - quarantineOut: one NDJSON line per rejected line, `{"source", "offset" (byte offset of the
 *   line in its object: baseOffset + position in the file), "reason" (cleanLine's, exactly),
 *   "value" (the line's text; `base64:<bytes>` for a line that is not UTF-8)}`, in input order;
 *   `quarantined` counts them. Always written; an empty file when nothing was rejected.
 * - gateState: GateTally's snapshot (`checked` = rows that reached the gates, `failed[i]` per
 *   gate in `gates` order), so a caller sums shards and calls GateTally.restore/results.
 * - gates: the table's expectations (DEFAULT_GATES by default). SQL cannot run their JS checks,
 *   so each needs a SQL twin: DEFAULT_GATES' are built in (GATE_SQL); any other gate must carry
 *   `sql`, a boolean expression over the clean columns (it passes only when TRUE).
 *
 * Memory: one call reads its inputs into DuckDB in pieces of about 1 MiB and holds one input's
 * bytes in JS at a time; meant for shards of up to ~64 MiB under a DuckDB memory_limit of a few
 * hundred MB (DuckDB spills its tables to the connection's temp_directory beyond it). The
 * connection is left as found: the call's tables are temporary and dropped at the end.
 *
 * How the SQL works, and why (measured on DuckDB 1.5.5, 1M pin lines):
 * - JS reads each file (to check UTF-8, natively) and hands DuckDB ~1 MiB pieces cut at line
 *   ends; DuckDB splits them into lines. (`unnest(string_split(read_text(...)))` of a whole 64 MiB
 *   file took 3 s, quadratic in the file's size; read_csv splits lines at CR too and has no byte
 *   positions.) A file that is not UTF-8 takes a JS slow path: its lines are checked one by one,
 *   the invalid ones quarantined as `not UTF-8`, the rest cleaned in SQL as usual.
 * - One parse per line on the normal path: json_extract with all field paths at once. A line
 *   equal to the fields re-serialised in schema order (what JSON.stringify of a raw record gives)
 *   has no duplicate keys, extra keys, whitespace or trailing commas, so nothing else needs
 *   checking. Any other line takes a slower SQL path: json_keys and `$.*` give the LAST value of
 *   a duplicate key (as JSON.parse does; json_extract gives the first), and a regex finds what
 *   DuckDB's lenient JSON reader accepts but JSON.parse does not (trailing commas, NaN, Infinity).
 */

import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { NOT_JSON, NOT_UTF8, UNPAIRED_SURROGATE } from '../domain/clean-line';
import { CLEAN_COLUMNS } from '../domain/cleaning';
import { PIN_PLACEHOLDERS, SAVE_LOCATION_PREFIX, USER_INFO_ERROR } from '../domain/placeholders';
import { DEFAULT_GATES, type Expectation } from '../domain/quality-gates';
import { EXPECTED, IMAGE_OR_VIDEO } from '../domain/raw-schemas';
import { CATEGORIES, type Table } from '../domain/tables';
import { cleanSchema, SQL_TYPE } from './clean-schema';
import { quoteIdentifier as id, quoteString as str } from './sql-text';

export interface CleanSqlInput {
  /** A local NDJSON file of whole lines. */
  file: string;
  /** The raw object the lines come from (the quarantine's `source`). */
  source: string;
  /** Byte offset of the file's first byte within `source`. */
  baseOffset: number;
}

export interface CleanSqlResult {
  rawRecords: number;
  rowsIn: number;
  quarantined: number;
  gateState: { checked: number; failed: number[] };
}

/** A gate with its SQL twin: a boolean expression over the clean columns of its table. */
export type SqlExpectation<T extends Table> = Expectation<T> & { sql?: string };

export interface CleanSqlOptions<T extends Table> {
  table: T;
  inputs: readonly CleanSqlInput[];
  parquetOut: string;
  quarantineOut: string;
  gates?: readonly SqlExpectation<T>[];
}

const MAX_SAFE = '9007199254740991';
const UUID_RE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
// The instants formatUtcIso prints with a 4-digit year, the only ones Date.parse reads back.
const YEAR_0_US = '-62167219200000000';
const YEAR_10000_US = '253402300800000000';
const parseableTimestamp = (column: string) =>
  `epoch_us(${id(column)}) >= ${YEAR_0_US} AND epoch_us(${id(column)}) < ${YEAR_10000_US}`;
const indIsInteger = `ind BETWEEN 0 AND ${MAX_SAFE}`;
const list = (values: readonly string[]) => values.map(str).join(', ');

/** SQL twins of DEFAULT_GATES' checks, by table and gate name. */
export const GATE_SQL: { [T in Table]: Record<string, string> } = {
  pin: {
    ind_is_integer: indIsInteger,
    unique_id_is_uuid: `unique_id IS NULL OR regexp_full_match(unique_id, ${str(UUID_RE)})`,
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

function gateChecks<T extends Table>(table: T, gates: readonly SqlExpectation<T>[]): string[] {
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

// ---------------------------------------------------------------------------------------------
// The raw fields: what each checks, in schema order (the order of the reasons' issues).

type FieldRule =
  | { kind: 'integer' }
  | { kind: 'uuid' }
  | { kind: 'text'; placeholders?: readonly string[] }
  | { kind: 'followerCount' }
  | { kind: 'enum'; values: readonly string[]; what: string }
  | { kind: 'downloaded' }
  | { kind: 'datetime' }
  | { kind: 'coordinate'; limit: number };

type RawField = readonly [name: string, rule: FieldRule];

const RAW_FIELDS: { [T in Table]: readonly RawField[] } = {
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
    ['age', { kind: 'integer' }],
    ['date_joined', { kind: 'datetime' }],
  ],
};

/** Column names of one raw field's intermediate values (`$` keeps them apart from clean names). */
const col = (field: string, part: string) => id(`${field}$${part}`);

/** `'<field>: missing, expected <what>'` or `'<field>: expected <what>, received ' || <type>`. */
function expectedSql(field: string, what: string): string {
  const t = col(field, 't');
  return (
    `CASE WHEN ${t} = 'nothing' THEN ${str(`${field}: missing, expected ${what}`)} ` +
    `ELSE ${str(`${field}: expected ${what}, received `)} || ${t} END`
  );
}

/** The JSON type of a fragment json_extract wrote (minified JSON text; NULL when missing). */
function jsonTypeSql(f: string): string {
  return (
    `CASE WHEN ${f} IS NULL THEN 'nothing' WHEN starts_with(${f}, '"') THEN 'string' ` +
    `WHEN ${f} = 'null' THEN 'null' WHEN ${f} IN ('true', 'false') THEN 'boolean' ` +
    `WHEN starts_with(${f}, '[') THEN 'array' WHEN starts_with(${f}, '{') THEN 'object' ` +
    `ELSE 'number' END`
  );
}

/**
 * A string fragment's value. Without a backslash the fragment holds no escape and no quote but
 * its two delimiters, so trimming them gives the value; otherwise DuckDB unescapes it.
 */
function stringValueSql(f: string): string {
  return `CASE WHEN contains(${f}, '\\') THEN json_extract_string(${f}, '$') ELSE trim(${f}, '"') END`;
}

/**
 * A number fragment that is not JSON: the NaN and Infinity tokens (any case, any sign) that
 * DuckDB's reader accepts; a JSON number starts with a digit or a minus and a digit.
 */
function nonJsonNumberSql(f: string, t: string): string {
  return (
    `(${t} = 'number' AND NOT (left(${f}, 1) BETWEEN '0' AND '9' ` +
    `OR (left(${f}, 1) = '-' AND substr(${f}, 2, 1) BETWEEN '0' AND '9')))`
  );
}

const FOLLOWER_COUNT_RE = '^([0-9]+)(?:\\.([0-9]+))?([kM])?$';
const DATETIME_RE =
  '^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})' +
  '(?:\\.([0-9]{1,9}))?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$';

/**
 * One raw field's SQL, stage by stage, each stage's columns computed from the earlier ones:
 * `f` (its JSON fragment) and `t` (its JSON type) come first for every field; then `value`
 * (`s` the string, `d` the number), `parse`, `derive`; `check` ends with `r` (the issue text,
 * NULL when valid) and `c` (the cleaned value, read only when the whole record is valid).
 */
interface FieldStages {
  value: string[];
  parse: string[];
  derive: string[];
  check: string[];
}

function fieldStages(field: string, rule: FieldRule): FieldStages {
  const c = (part: string) => col(field, part);
  const as = (expression: string, part: string) => `${expression} AS ${c(part)}`;
  const [f, t, s, d, m] = [c('f'), c('t'), c('s'), c('d'), c('m')];
  const stringValue = as(`CASE WHEN ${t} = 'string' THEN ${stringValueSql(f)} END`, 's');
  const numberValue = as(`CASE WHEN ${t} = 'number' THEN TRY_CAST(${f} AS DOUBLE) END`, 'd');
  const say = (message: string) => str(`${field}: ${message}`);
  const expected = (what: string) => expectedSql(field, what);
  const issue = (invalid: string, message: string) =>
    as(`CASE WHEN ${invalid} THEN ${message} END`, 'r');
  const none = { value: [], parse: [], derive: [] };
  switch (rule.kind) {
    case 'integer': {
      // zod's int(): a fraction or a non-finite number fails once; an integer beyond the safe
      // range fails the range check and, when negative, min(0) as well.
      const integer = say(`expected ${EXPECTED.integer}, received number`);
      const nonNegative = say(`expected ${EXPECTED.nonNegativeInteger}, received number`);
      return {
        ...none,
        value: [numberValue],
        check: [
          as(
            `CASE WHEN ${t} <> 'number' THEN ${expected(EXPECTED.integer)} ` +
              `WHEN NOT isfinite(${d}) OR ${d} <> trunc(${d}) OR ${d} > ${MAX_SAFE} THEN ${integer} ` +
              `WHEN ${d} < -${MAX_SAFE} THEN ${integer} || '; ' || ${nonNegative} ` +
              `WHEN ${d} < 0 THEN ${nonNegative} END`,
            'r',
          ),
          as(d, 'c'),
        ],
      };
    }
    case 'uuid':
      return {
        ...none,
        value: [stringValue],
        check: [
          issue(
            `NOT coalesce(${s} = '' OR regexp_full_match(${s}, ${str(UUID_RE)}), false)`,
            expected(EXPECTED.uuid),
          ),
          as(`nullif(${s}, '')`, 'c'),
        ],
      };
    case 'text':
      return {
        ...none,
        value: [stringValue],
        check: [
          issue(`${t} NOT IN ('string', 'null')`, expected(EXPECTED.text)),
          as(
            `CASE WHEN ${s} NOT IN (${list(['', ...(rule.placeholders ?? [])])}) THEN ${s} END`,
            'c',
          ),
        ],
      };
    case 'enum':
      return {
        ...none,
        value: [stringValue],
        check: [
          issue(
            `NOT coalesce(${s} IN (${list(['', ...rule.values])}), false)`,
            expected(rule.what),
          ),
          as(`nullif(${s}, '')`, 'c'),
        ],
      };
    case 'downloaded':
      return {
        ...none,
        value: [numberValue],
        check: [issue(`NOT coalesce(${d} IN (0, 1), false)`, expected(EXPECTED.downloaded))],
      };
    case 'coordinate':
      return {
        ...none,
        value: [numberValue],
        check: [
          as(
            // zod's number() refuses a non-finite number as a type error.
            `CASE WHEN ${t} <> 'number' OR NOT isfinite(${d}) THEN ${expected(EXPECTED.number)} ` +
              `WHEN abs(${d}) > ${rule.limit} ` +
              `THEN ${say(`expected ${EXPECTED.coordinate(rule.limit)}, received number`)} END`,
            'r',
          ),
          // + 0.0 makes -0.0 0.0: the spec's rows hold no negative zero.
          as(`${d} + 0.0`, 'c'),
        ],
      };
    case 'followerCount': {
      // follower-count.ts: shift the decimal point in the text, round half up on the next digit;
      // past 16 significant digits the value is beyond 2^53 anyway.
      const [whole, fraction, suffix] = [`${m}.w`, `${m}.f`, `${m}.x`];
      const exponent = `(CASE ${suffix} WHEN 'k' THEN 3 WHEN 'M' THEN 6 ELSE 0 END)`;
      const shifted = `ltrim(${whole} || rpad(left(${fraction}, ${exponent}), ${exponent}, '0'), '0')`;
      const roundUp = `(CASE WHEN substr(${fraction}, ${exponent} + 1, 1) >= '5' THEN 1 ELSE 0 END)`;
      const placeholder = `${s} IN ('', ${str(USER_INFO_ERROR)})`;
      const v = c('v');
      const safeNumber = `isfinite(${d}) AND ${d} = trunc(${d}) AND ${d} BETWEEN 0 AND ${MAX_SAFE}`;
      return {
        value: [stringValue, numberValue],
        parse: [
          as(
            `CASE WHEN ${t} = 'string' AND NOT ${placeholder} ` +
              `THEN regexp_extract(${s}, ${str(FOLLOWER_COUNT_RE)}, ['w', 'f', 'x']) END`,
            'm',
          ),
        ],
        derive: [
          as(
            `CASE WHEN ${m} IS NULL OR ${whole} = '' OR (${fraction} <> '' AND ${suffix} = '') ` +
              `OR length(${shifted}) > 16 THEN NULL ` +
              `ELSE coalesce(TRY_CAST(nullif(${shifted}, '') AS BIGINT), 0) + ${roundUp} END`,
            'v',
          ),
        ],
        check: [
          issue(
            `NOT coalesce(CASE WHEN ${t} = 'number' THEN ${safeNumber} ` +
              `WHEN ${t} = 'string' THEN ${placeholder} OR ${v} <= ${MAX_SAFE} END, false)`,
            expected(EXPECTED.followerCount),
          ),
          as(`CASE WHEN ${t} = 'number' THEN ${d} ELSE ${v} END`, 'c'),
        ],
      };
    }
    case 'datetime':
      return datetimeStages(field, { t, s, m }, as, stringValue);
  }
}

type As = (expression: string, part: string) => string;

/** datetime.ts in SQL: the source forms, calendar checks, offsets → epoch microseconds (UTC). */
function datetimeStages(
  field: string,
  { t, s, m }: { t: string; s: string; m: string },
  as: As,
  stringValue: string,
): FieldStages {
  const c = (part: string) => col(field, part);
  const [y, mo, dd, hh, mi, ss, ms, zsign, zh, zm] = [
    'y',
    'mo',
    'dd',
    'hh',
    'mi',
    'ss',
    'ms',
    'zsign',
    'zh',
    'zm',
  ].map(c) as [string, string, string, string, string, string, string, string, string, string];
  const int = (text: string) => `TRY_CAST(${text} AS BIGINT)`;
  const zone = `${m}.zone`;
  const zoneDigits = `replace(substr(${zone}, 2), ':', '')`;
  const daysInMonth =
    `CASE WHEN ${mo} = 2 THEN CASE WHEN (${y} % 4 = 0 AND ${y} % 100 <> 0) OR ${y} % 400 = 0 ` +
    `THEN 29 ELSE 28 END WHEN ${mo} IN (4, 6, 9, 11) THEN 30 ELSE 31 END`;
  const valid =
    `coalesce(${mo} BETWEEN 1 AND 12 AND ${dd} BETWEEN 1 AND ${daysInMonth} ` +
    `AND ${hh} <= 23 AND ${mi} <= 59 AND ${ss} <= 59 AND ${zh} <= 23 AND ${zm} <= 59, false)`;
  // Days since 1970-01-01 by Hinnant's days_from_civil, years shifted by 400 (one era) so every
  // integer division has a positive dividend.
  const year = `(${y} - CASE WHEN ${mo} <= 2 THEN 1 ELSE 0 END + 400)`;
  const era = `(${year} // 400)`;
  const yearOfEra = `(${year} - ${era} * 400)`;
  const dayOfYear = `((153 * ((${mo} + 9) % 12) + 2) // 5 + ${dd} - 1)`;
  const dayOfEra = `(${yearOfEra} * 365 + ${yearOfEra} // 4 - ${yearOfEra} // 100 + ${dayOfYear})`;
  const days = `(${era} * 146097 + ${dayOfEra} - 719468 - 146097)`;
  const micros =
    `((((${days} * 24 + ${hh}) * 60 + ${mi}) * 60 + ${ss}) * 1000 + ${ms}) * 1000 ` +
    `- ${zsign} * (${zh} * 60 + ${zm}) * 60000000`;
  const parts = ['y', 'mo', 'd', 'h', 'mi', 's', 'frac', 'zone'];
  return {
    value: [stringValue],
    parse: [
      as(
        `CASE WHEN ${t} = 'string' THEN regexp_extract(${s}, ${str(DATETIME_RE)}, [${list(parts)}]) END`,
        'm',
      ),
    ],
    derive: [
      as(int(`nullif(${m}.y, '')`), 'y'),
      as(int(`${m}.mo`), 'mo'),
      as(int(`${m}.d`), 'dd'),
      as(int(`${m}.h`), 'hh'),
      as(int(`${m}.mi`), 'mi'),
      as(int(`${m}.s`), 'ss'),
      as(`CASE WHEN ${m}.frac = '' THEN 0 ELSE ${int(`rpad(${m}.frac, 3, '0')`)} END`, 'ms'),
      as(`CASE WHEN starts_with(${zone}, '-') THEN -1 ELSE 1 END`, 'zsign'),
      as(`CASE WHEN ${zone} IN ('', 'Z') THEN 0 ELSE ${int(`left(${zoneDigits}, 2)`)} END`, 'zh'),
      as(
        `CASE WHEN length(${zoneDigits}) > 2 THEN ${int(`substr(${zoneDigits}, 3)`)} ELSE 0 END`,
        'zm',
      ),
    ],
    check: [
      as(`CASE WHEN NOT ${valid} THEN ${expectedSql(field, EXPECTED.datetime)} END`, 'r'),
      as(`CASE WHEN ${valid} THEN ${micros} END`, 'c'),
    ],
  };
}

/** Each clean column's expression (CLEAN_COLUMNS order) over the fields' `c` values. */
function cleanColumnsSql(table: Table): [name: string, expression: string][] {
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
    // BIGINT here (a gate may still drop an age beyond INTEGER); the COPY casts kept rows.
    age: `CAST(${c('age')} AS BIGINT)`,
    date_joined: `make_timestamptz(${c('date_joined')})`,
  };
  return CLEAN_COLUMNS[table].map((name) => [name, expressions[name] ?? 'NULL']);
}

// What DuckDB's lenient reader accepts and JSON.parse refuses: trailing commas and NaN/Infinity
// tokens. Matched once on the line; on a match, again with every string literal blanked out.
const LENIENT_RE = ',[ \\t\\r\\n]*[\\]}]|(?i:nan|inf)';
const STRING_LITERAL_RE = '"(?:[^"\\\\]|\\\\.)*"';
const SURROGATE_ESCAPE_RE = '\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}';
const lenientSql = (text: string) =>
  `CASE WHEN regexp_matches(${text}, ${str(LENIENT_RE)}) ` +
  `THEN regexp_matches(regexp_replace(${text}, ${str(STRING_LITERAL_RE)}, '""', 'g'), ${str(LENIENT_RE)}) ` +
  `ELSE false END`;

/**
 * Why a line DuckDB could not parse is rejected: JSON.parse accepts unpaired surrogate escapes
 * (the spec then rejects them by name); with every surrogate escape replaced by a space escape,
 * such a line is valid JSON, and any other line DuckDB refuses is not JSON for JSON.parse either.
 */
function unparsedReasonSql(): string {
  const replaced = `regexp_replace(line, ${str(SURROGATE_ESCAPE_RE)}, '\\\\u0020', 'g')`;
  return (
    `CASE WHEN regexp_matches(line, ${str(SURROGATE_ESCAPE_RE)}) AND json_valid(${replaced}) ` +
    `AND NOT (${lenientSql(replaced)}) THEN ${str(UNPAIRED_SURROGATE)} ELSE ${str(NOT_JSON)} END`
  );
}

const WHITESPACE = `' ' || chr(9) || chr(10) || chr(13)`;

/** The classification query: one row per line of `pieces`, with its status, reason, clean row. */
function classifySql<T extends Table>(
  table: T,
  pieces: string,
  gates: readonly SqlExpectation<T>[],
  gateSql: readonly string[],
): string {
  const fields = RAW_FIELDS[table];
  const names = fields.map(([name]) => name);
  const stages = fields.map(([name, rule]) => fieldStages(name, rule));
  const paths = `[${list(names.map((n) => `$.${n}`))}]`;
  const canonical = fields
    .map(
      ([name], i) => `${str(`${i === 0 ? '{' : ','}${JSON.stringify(name)}:`)} || fast[${i + 1}]`,
    )
    .join(' || ');
  const lastValue = `vals[len(keys) + 1 - list_position(list_reverse(keys), k)]`;
  const typed = names.flatMap((name, i) => [
    `frags[${i + 1}] AS ${col(name, 'f')}`,
    `${jsonTypeSql(`frags[${i + 1}]`)} AS ${col(name, 't')}`,
  ]);
  const stage = (pick: (s: FieldStages) => string[]) => {
    const columns = stages.flatMap(pick);
    return columns.length === 0 ? '' : `, ${columns.join(', ')}`;
  };
  const anyField = (predicate: (name: string) => string) =>
    names.map((name) => predicate(name)).join(' OR ');
  const issues = `nullif(concat_ws('; ', ${names.map((n) => col(n, 'r')).join(', ')}), '')`;
  const gateColumns = gateSql.map(
    (sql, i) => `CASE WHEN reached THEN coalesce((${sql}), false) END AS ${id(`gate$${i}`)}`,
  );
  const dropped = gates.flatMap((gate, i) =>
    gate.policy === 'drop'
      ? [
          `CASE WHEN NOT ${id(`gate$${i}`)} THEN ${str(`gate ${gate.name}: ${gate.description}`)} END`,
        ]
      : [],
  );
  const dropReason =
    dropped.length === 0 ? 'NULL' : `nullif(concat_ws('; ', ${dropped.join(', ')}), '')`;
  const cleanNames = CLEAN_COLUMNS[table].map((name) => id(name)).join(', ');
  return `
WITH lines AS (
  SELECT src, piece, start, ord, strlen(raw) AS len,
    CASE WHEN ends_with(raw, chr(13)) THEN left(raw, -1) ELSE raw END AS line
  FROM (
    SELECT src, piece, start, unnest(parts) AS raw, unnest(range(len(parts))) AS ord
    FROM (SELECT src, piece, start, string_split(decode(body), chr(10)) AS parts FROM ${pieces})
  )
), fast AS (
  SELECT *, CASE WHEN line <> '' THEN TRY(json_extract(line, ${paths})) END AS fast FROM lines
), canon AS (
  SELECT *, coalesce(line = ${canonical} || '}', false) AS canon FROM fast
), slow AS (
  SELECT *,
    CASE WHEN fast IS NOT NULL AND NOT canon THEN json_keys(line) END AS keys,
    CASE WHEN fast IS NOT NULL AND NOT canon THEN json_extract(line, '$.*') END AS vals
  FROM canon
), frags AS (
  SELECT src, piece, start, ord, len, line, fast IS NOT NULL AS parsed, canon,
    CASE WHEN canon THEN fast WHEN fast IS NOT NULL
      THEN list_transform([${list(names)}], k -> ${lastValue}) END AS frags
  FROM slow
), typed AS (
  SELECT * EXCLUDE (frags), ${typed.join(', ')} FROM frags
), valued AS (SELECT *${stage((s) => s.value)} FROM typed
), parsed AS (SELECT *${stage((s) => s.parse)} FROM valued
), derived AS (SELECT *${stage((s) => s.derive)} FROM parsed
), checked AS (SELECT *${stage((s) => s.check)} FROM derived
), judged AS (
  SELECT *,
    parsed AND NOT (${anyField((n) => nonJsonNumberSql(col(n, 'f'), col(n, 't')))})
      AND NOT coalesce((NOT canon OR ${anyField((n) => `${col(n, 't')} IN ('array', 'object')`)})
        AND ${lenientSql('line')}, false) AS json_ok,
    CASE WHEN canon THEN 'object' ELSE CASE left(ltrim(line, ${WHITESPACE}), 1)
      WHEN '{' THEN 'object' WHEN '[' THEN 'array' WHEN '"' THEN 'string' WHEN 't' THEN 'boolean'
      WHEN 'f' THEN 'boolean' WHEN 'n' THEN 'null' ELSE 'number' END END AS top,
    ${issues} AS issues
  FROM checked
), reached AS (
  SELECT *, coalesce(json_ok AND top = 'object' AND issues IS NULL, false) AS reached FROM judged
), clean AS (
  SELECT src, piece, start, ord, len, line, parsed, json_ok, top, issues, reached,
    ${cleanColumnsSql(table)
      .map(([name, sql]) => `CASE WHEN reached THEN ${sql} END AS ${id(name)}`)
      .join(',\n    ')}
  FROM reached
), gated AS (
  SELECT *${gateColumns.length === 0 ? '' : `, ${gateColumns.join(', ')}`} FROM clean
), judged_lines AS (
  SELECT *, CASE WHEN line = '' THEN NULL
    WHEN NOT json_ok THEN CASE WHEN parsed THEN ${str(NOT_JSON)} ELSE ${unparsedReasonSql()} END
    WHEN top <> 'object'
      THEN ${str(`schema: record: expected a JSON object (${table} record), received `)} || top
    WHEN issues IS NOT NULL THEN 'schema: ' || issues
    ELSE ${dropReason} END AS reason
  FROM gated
)
SELECT src, piece, start, ord, len, reached,
  CASE WHEN line = '' THEN 'empty' WHEN reason IS NULL THEN 'ok' ELSE 'bad' END AS status,
  reason, CASE WHEN reason IS NOT NULL THEN line END AS line,
  ${cleanNames}${gates.map((_, i) => `, ${id(`gate$${i}`)}`).join('')}
FROM judged_lines`;
}

// ---------------------------------------------------------------------------------------------
// Orchestration: inputs → pieces table → classified table → counts, Parquet, quarantine.

/** Bytes per piece handed to DuckDB (a line longer than this is one piece of its own). */
const PIECE_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

interface Range {
  start: number;
  end: number;
}

/** `[start, end)` cut into ranges of about PIECE_BYTES that end just after a newline. */
function pieceRanges(buffer: Uint8Array, start: number, end: number): Range[] {
  const ranges: Range[] = [];
  while (start < end) {
    let stop = Math.min(end, start + PIECE_BYTES);
    if (stop < end) {
      const before = buffer.lastIndexOf(NEWLINE, stop - 1);
      const after = buffer.indexOf(NEWLINE, stop);
      stop = before >= start ? before + 1 : after < 0 || after >= end ? end : after + 1;
    }
    ranges.push({ start, end: stop });
    start = stop;
  }
  return ranges;
}

interface Split {
  pieces: Range[];
  /** Lines that are not UTF-8: their offset, and their bytes without the line ending. */
  rejects: { offset: number; bytes: Uint8Array }[];
}

/**
 * The pieces of one input. A UTF-8 file (checked natively, whole) is cut without looking at its
 * lines. Any other file takes the slow path, line by line in JS: runs of UTF-8 lines become
 * pieces, and each line that is not UTF-8 is set aside for the quarantine.
 */
function splitInput(buffer: Buffer): Split {
  if (isUtf8(buffer)) return { pieces: pieceRanges(buffer, 0, buffer.length), rejects: [] };
  const split: Split = { pieces: [], rejects: [] };
  let run = 0;
  for (let start = 0; start < buffer.length;) {
    const newline = buffer.indexOf(NEWLINE, start);
    const end = newline < 0 ? buffer.length : newline;
    if (!isUtf8(buffer.subarray(start, end))) {
      split.pieces.push(...pieceRanges(buffer, run, start));
      const stop = buffer[end - 1] === RETURN ? end - 1 : end;
      split.rejects.push({ offset: start, bytes: buffer.subarray(start, stop) });
      run = end + 1;
    }
    start = end + 1;
  }
  split.pieces.push(...pieceRanges(buffer, run, buffer.length));
  return split;
}

/** Loads every input's pieces (and set-aside lines) into the call's tables, one file at a time. */
async function loadInputs(
  connection: DuckDBConnection,
  inputs: readonly CleanSqlInput[],
  names: { pieces: string; rejects: string; sources: string },
): Promise<void> {
  await connection.run(
    `CREATE TEMP TABLE ${names.pieces} (src INTEGER, piece INTEGER, start BIGINT, body BLOB)`,
  );
  await connection.run(
    `CREATE TEMP TABLE ${names.rejects} (src INTEGER, "offset" BIGINT, value VARCHAR)`,
  );
  await connection.run(
    `CREATE TEMP TABLE ${names.sources} (src INTEGER, source VARCHAR, base BIGINT)`,
  );
  const appender = (table: string) => connection.createAppender(table, 'main', 'temp');
  const [pieces, rejects, sources] = await Promise.all([
    appender(names.pieces),
    appender(names.rejects),
    appender(names.sources),
  ]);
  let piece = 0;
  try {
    for (const [src, input] of inputs.entries()) {
      sources.appendInteger(src);
      sources.appendVarchar(input.source);
      sources.appendBigInt(BigInt(input.baseOffset));
      sources.endRow();
      const buffer = await readFile(input.file);
      const split = splitInput(buffer);
      for (const range of split.pieces) {
        pieces.appendInteger(src);
        pieces.appendInteger(piece++);
        pieces.appendBigInt(BigInt(range.start));
        pieces.appendBlob(buffer.subarray(range.start, range.end));
        pieces.endRow();
      }
      for (const reject of split.rejects) {
        rejects.appendInteger(src);
        rejects.appendBigInt(BigInt(reject.offset));
        rejects.appendVarchar(`base64:${Buffer.from(reject.bytes).toString('base64')}`);
        rejects.endRow();
      }
      // Hand this file's bytes to DuckDB now, so JS holds one input at a time.
      pieces.flushSync();
    }
  } finally {
    for (const a of [pieces, rejects, sources]) a.closeSync();
  }
}

const count = (value: unknown): number => Number(value ?? 0);

/** Cleans `inputs` into `parquetOut` and `quarantineOut`; see the top of this file. */
export async function cleanWithSql<T extends Table>(
  connection: DuckDBConnection,
  options: CleanSqlOptions<T>,
): Promise<CleanSqlResult> {
  const { table } = options;
  const gates: readonly SqlExpectation<T>[] = options.gates ?? DEFAULT_GATES[table];
  const gateSql = gateChecks(table, gates);
  const tag = randomBytes(6).toString('hex');
  // Plain identifiers (the appender takes names unquoted); unique, in case of a shared connection.
  const names = {
    pieces: `pinpipe_pieces_${tag}`,
    rejects: `pinpipe_rejects_${tag}`,
    sources: `pinpipe_sources_${tag}`,
    classified: `pinpipe_classified_${tag}`,
  };
  try {
    await loadInputs(connection, options.inputs, names);
    await connection.run(
      `CREATE TEMP TABLE ${names.classified} AS ${classifySql(table, names.pieces, gates, gateSql)}`,
    );
    await connection.run(`DROP TABLE ${names.pieces}`);

    const gateCounts = gates.map((_, i) => `count(*) FILTER (NOT ${id(`gate$${i}`)})`);
    const counted = await connection.runAndReadAll(
      `SELECT count(*) FILTER (status <> 'empty') AS raw, count(*) FILTER (status = 'ok') AS ok,
        count(*) FILTER (status = 'bad') AS bad, count(*) FILTER (reached) AS checked,
        [${gateCounts.join(', ')}]::BIGINT[] AS failed,
        (SELECT count(*) FROM ${names.rejects}) AS rejects
      FROM ${names.classified}`,
    );
    const row = counted.getRowObjectsJson()[0] ?? {};
    const rejects = count(row.rejects);

    const columns = cleanSchema(table).map(
      (column) => `CAST(${id(column.name)} AS ${SQL_TYPE[column.kind]}) AS ${id(column.name)}`,
    );
    await connection.run(
      `COPY (SELECT ${columns.join(', ')} FROM ${names.classified} WHERE status = 'ok')
        TO ${str(options.parquetOut)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    await connection.run(quarantineCopySql(names, options.quarantineOut));
    return {
      rawRecords: count(row.raw) + rejects,
      rowsIn: count(row.ok),
      quarantined: count(row.bad) + rejects,
      gateState: {
        checked: count(row.checked),
        failed: (Array.isArray(row.failed) ? row.failed : []).map(count),
      },
    };
  } finally {
    for (const name of Object.values(names)) await connection.run(`DROP TABLE IF EXISTS ${name}`);
  }
}

/**
 * The quarantine lines in input order. A line's offset is its piece's start plus the lengths of
 * the lines before it in the piece, summed only over pieces that hold a rejected line.
 */
function quarantineCopySql(
  names: { rejects: string; sources: string; classified: string },
  out: string,
): string {
  const offset =
    'start + coalesce(sum(len + 1) OVER (PARTITION BY piece ORDER BY ord ' +
    'ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)';
  return `COPY (
    SELECT s.source AS source, s.base + q.pos AS "offset", q.reason AS reason, q.value AS value
    FROM (
      SELECT src, pos, reason, line AS value FROM (
        SELECT src, status, reason, line, ${offset} AS pos FROM ${names.classified}
        WHERE piece IN (SELECT piece FROM ${names.classified} WHERE status = 'bad')
      ) WHERE status = 'bad'
      UNION ALL
      SELECT src, "offset", ${str(NOT_UTF8)}, value FROM ${names.rejects}
    ) q JOIN ${names.sources} s USING (src)
    ORDER BY q.src, q.pos
  ) TO ${str(out)} (FORMAT json)`;
}
