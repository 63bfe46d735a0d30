/**
 * The nightly cleaning in DuckDB SQL: raw NDJSON files in, the clean Parquet part and the
 * quarantine NDJSON out, with the rules of domain/clean-line.ts (the specification; a
 * differential test holds the two to identical rows, reasons, counts and gate tallies).
 *
 *   cleanWithSql(connection, { table, inputs, parquetOut, quarantineOut, gates? })
 *     → { rawRecords, rowsIn, quarantined, gateState: { checked, failed[] } }
 *
 * - inputs: local files, each holding whole lines of raw object `source` starting at byte
 *   `baseOffset` of it, or whole S3 objects read in place (no copy through JS or the disk). Lines end at LF; a CR before the LF is dropped; empty lines are skipped
 *   and not counted. Every other line counts in `rawRecords`.
 * - parquetOut: the kept rows (valid, and no drop gate failed) with the exact clean schema
 *   (clean-schema.ts), the row of each distinct kept line once, in no particular order: exact
 *   duplicates are what the commit removes anyway, and writing every copy cost more than all the
 *   cleaning (a day of the source's draw with replacement is mostly repeated lines). Two
 *   different lines may still clean to the same row (e.g. differing only in `downloaded`).
 *   `rowsIn` counts every kept line, repeats included, so the commit's reconciliation
 *   (raw = out + quarantined + duplicates) holds. Written even when empty.
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
 * Memory: meant for shards of up to ~64 MiB under a DuckDB memory_limit of 256 MB or more
 * (measured: 64 MiB of distinct pin lines in one file, 256 MB limit, 400 MB process RSS). DuckDB
 * holds the distinct lines and spills beyond its limit to the connection's temp_directory; JS
 * holds one input file at a time, and only one larger than DIRECT_BYTES. The call's tables are
 * temporary and dropped, its piece files removed, at the end.
 *
 * How, and why (measured on DuckDB 1.5.5):
 * - Lines: DuckDB reads files of up to DIRECT_BYTES itself (read_text, which also checks UTF-8)
 *   and splits them. JS cuts a larger file into 4 MiB piece files beside it, at line ends:
 *   `unnest(string_split(...))` copies the whole text per 2048 lines, quadratic in its size (3 s
 *   and an out-of-memory at 64 MiB). read_csv splits lines at CR too and knows no byte offsets.
 *   An input that is not UTF-8 fails read_text; it then takes a JS slow path: its lines are
 *   checked one by one, the invalid ones quarantined as `not UTF-8`, the others cleaned as usual.
 * - Each distinct line is cleaned once (cleanLine is a function of the line's text), with its
 *   number of occurrences as a weight; the quarantine finds every occurrence of a rejected line
 *   again, with its offset, only when there is one.
 * - Fast path, one JSON parse per line: json_transform into typed columns; the line must be
 *   exactly those values re-serialised in schema order (what JSON.stringify of a raw record
 *   gives), every value must pass cheap checks and no drop gate may fail. Such a line has no
 *   duplicate or extra keys, whitespace, escapes, or JSON only DuckDB's lenient reader accepts;
 *   its row is the spec's. json_transform fails the whole query on malformed JSON, so it runs
 *   unguarded first and, only if that fails, again behind json_valid (a second parse).
 * - Slow path, every other line (rare: producers post JSON.stringify output): all of the spec's
 *   rules over json_extract fragments, with exact reasons. json_keys and `$.*` give the LAST
 *   value of a duplicate key (as JSON.parse does; json_extract gives the first), and a regex
 *   finds trailing commas and NaN/Infinity, which DuckDB's JSON reader accepts and JSON.parse
 *   does not. TRY() is avoided: it ran json_extract row by row, 4-8 times slower.
 */

import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { AGE_TOO_LARGE, NOT_JSON, NOT_UTF8, UNPAIRED_SURROGATE } from '../domain/clean-line';
import { CLEAN_COLUMNS } from '../domain/cleaning';
import { PIN_PLACEHOLDERS, SAVE_LOCATION_PREFIX, USER_INFO_ERROR } from '../domain/placeholders';
import { DEFAULT_GATES, type Expectation } from '../domain/quality-gates';
import { EXPECTED, IMAGE_OR_VIDEO } from '../domain/raw-schemas';
import { CATEGORIES, type Table } from '../domain/tables';
import { cleanSchema, SQL_TYPE } from './clean-schema';
import { quoteIdentifier as id, quoteString as str } from './sql-text';

export interface CleanSqlInput {
  /**
   * A local NDJSON file of whole lines, or a whole S3 object `s3://bucket/key` that DuckDB reads
   * in place (see readableInPlace; the connection needs S3 access).
   */
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
const list = (values: readonly string[]) => values.map(str).join(', ');

/**
 * JS's /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, in RE2 (measured faster
 * here than length and dash checks with a cast to UUID).
 */
const UUID_RE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const isUuidSql = (text: string) => `regexp_full_match(${text}, ${str(UUID_RE)})`;

// The instants formatUtcIso prints with a 4-digit year, the only ones Date.parse reads back.
const YEAR_0_US = '-62167219200000000';
const YEAR_10000_US = '253402300800000000';
const parseableTimestamp = (column: string) =>
  `epoch_us(${id(column)}) >= ${YEAR_0_US} AND epoch_us(${id(column)}) < ${YEAR_10000_US}`;
const indIsInteger = `ind BETWEEN 0 AND ${MAX_SAFE}`;

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

const gateColumn = (i: number) => id(`gate$${i}`);

/** Gate columns (NULL for a row that did not reach the gates; a NULL check fails). */
function gateColumnsSql(gateSql: readonly string[], reached: string): string {
  return gateSql
    .map(
      (sql, i) => `, CASE WHEN ${reached} THEN coalesce((${sql}), false) END AS ${gateColumn(i)}`,
    )
    .join('');
}

/** `gate <name>: <description>; ...` for the failed drop gates (NULL when none failed). */
function dropReasonSql<T extends Table>(gates: readonly SqlExpectation<T>[]): string {
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
interface Unfit {
  max: number;
  message: string;
}

type FieldRule =
  | { kind: 'integer'; unfit?: Unfit }
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
    ['age', { kind: 'integer', unfit: { max: 2 ** 31 - 1, message: AGE_TOO_LARGE } }],
    ['date_joined', { kind: 'datetime' }],
  ],
};

/** Column names of one raw field's intermediate values (`$` keeps them apart from clean names). */
const col = (field: string, part: string) => id(`${field}$${part}`);

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
function cleanedAndGatedSql(
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
function linesSql(texts: string, keys: string): string {
  return `SELECT ${keys}, ord, strlen(raw) AS len,
    CASE WHEN ends_with(raw, chr(13)) THEN left(raw, -1) ELSE raw END AS line
  FROM (
    SELECT ${keys}, unnest(parts) AS raw, unnest(range(len(parts))) AS ord
    FROM (SELECT ${keys}, string_split(text, chr(10)) AS parts FROM (${texts}))
  )`;
}

// ---------------------------------------------------------------------------------------------
// Fast path: typed values of a line that is its own canonical serialisation, cheap checks.

interface FastField {
  /** json_transform's type for the field. */
  type: 'BIGINT' | 'VARCHAR';
  /** concat() arguments that print the value as JSON.stringify would. */
  print: string[];
  /** Values derived from the field's value `v`, by name. */
  derive?: Record<string, string>;
  /** The checks a valid value passes (schema and cleaning; any failure goes the slow path). */
  valid?: string;
  /** The cleaned value. */
  clean?: string;
}

const FOLLOWER_COUNT_FAST_RE = '[0-9]{1,16}|[0-9]{1,13}k|[0-9]{1,10}M';

function fastField(field: string, rule: FieldRule): FastField {
  const v = col(field, 'v');
  const x = (part: string) => col(field, part);
  const quoted = [`'"'`, v, `'"'`];
  switch (rule.kind) {
    case 'integer':
      return {
        type: 'BIGINT',
        print: [v],
        valid: `${v} BETWEEN 0 AND ${rule.unfit?.max ?? MAX_SAFE}`,
        clean: v,
      };
    case 'uuid':
      return {
        type: 'VARCHAR',
        print: quoted,
        valid: `(${v} = '' OR ${isUuidSql(v)})`,
        clean: `nullif(${v}, '')`,
      };
    case 'text':
      return {
        type: 'VARCHAR',
        // concat() skips a NULL argument: JSON null prints as null, a string in quotes.
        print: [
          `CASE WHEN ${v} IS NULL THEN 'null' ELSE '"' END`,
          v,
          `CASE WHEN ${v} IS NULL THEN '' ELSE '"' END`,
        ],
        clean: `CASE WHEN ${v} NOT IN (${list(['', ...(rule.placeholders ?? [])])}) THEN ${v} END`,
      };
    case 'followerCount': {
      // Only digits, then k or M, few enough that the product fits BIGINT; others, like `1.5k`,
      // take the slow path.
      const placeholder = `${v} IN ('', ${str(USER_INFO_ERROR)})`;
      const value =
        `CAST(CASE WHEN ends_with(${v}, 'k') OR ends_with(${v}, 'M') THEN left(${v}, -1) ELSE ${v} END AS BIGINT) ` +
        `* CASE right(${v}, 1) WHEN 'k' THEN 1000 WHEN 'M' THEN 1000000 ELSE 1 END`;
      return {
        type: 'VARCHAR',
        print: quoted,
        derive: {
          n: `CASE WHEN regexp_full_match(${v}, ${str(FOLLOWER_COUNT_FAST_RE)}) THEN ${value} END`,
        },
        valid: `(${placeholder} OR ${x('n')} <= ${MAX_SAFE})`,
        clean: `CASE WHEN NOT ${placeholder} THEN ${x('n')} END`,
      };
    }
    case 'enum':
      return {
        type: 'VARCHAR',
        print: quoted,
        valid: `${v} IN (${list(['', ...rule.values])})`,
        clean: `nullif(${v}, '')`,
      };
    case 'downloaded':
      return { type: 'BIGINT', print: [v], valid: `${v} IN (0, 1)` };
    case 'datetime':
      // Only `YYYY-MM-DD HH:MM:SS` here: DuckDB's cast, printed back identically (so no hour 24
      // or second 60 was normalised away, and no year 0, which DuckDB prints as 1 BC); other
      // forms take the slow path.
      return {
        type: 'VARCHAR',
        print: quoted,
        derive: { ts: `CASE WHEN strlen(${v}) = 19 THEN TRY_CAST(${v} AS TIMESTAMP) END` },
        valid: `CAST(${x('ts')} AS VARCHAR) = ${v}`,
        clean: `epoch_us(${x('ts')})`,
      };
    case 'coordinate':
      // The number's text as DuckDB printed it: equal to the line's, so both parse the same.
      return {
        type: 'VARCHAR',
        print: [v],
        derive: { d: `TRY_CAST(${v} AS DOUBLE)` },
        valid: `isfinite(${x('d')}) AND abs(${x('d')}) <= ${rule.limit}`,
        clean: `${x('d')} + 0.0`,
      };
  }
}

/**
 * The fast path over the distinct lines (`line`, `n` its occurrences): per line, `status` `ok` (a
 * kept row: its clean columns and gates) or `slow` (the line, for the slow path). `guard` parses
 * only lines json_valid accepts: json_transform fails the whole query on malformed JSON, so the
 * guard (a second parse) is used only after an unguarded run failed.
 */
function fastSql<T extends Table>(
  table: T,
  lines: string,
  gates: readonly SqlExpectation<T>[],
  gateSql: readonly string[],
  guard: boolean,
): string {
  const fields = RAW_FIELDS[table].map(([name, rule]) => ({ name, ...fastField(name, rule) }));
  const structure = JSON.stringify(Object.fromEntries(fields.map((f) => [f.name, f.type])));
  const transform = `json_transform(line, ${str(structure)})`;
  const print = fields.flatMap((f, i) => [
    str(`${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`),
    ...f.print,
  ]);
  const derived = fields.flatMap((f) =>
    Object.entries(f.derive ?? {}).map(([part, sql]) => `${sql} AS ${col(f.name, part)}`),
  );
  const checks = fields.flatMap((f) => (f.valid ? [`(${f.valid})`] : []));
  const clean = fields.flatMap((f) =>
    f.clean ? [`CASE WHEN valid THEN ${f.clean} END AS ${col(f.name, 'c')}`] : [],
  );
  const dropped = gates.flatMap((g, i) => (g.policy === 'drop' ? [gateColumn(i)] : []));
  const keptOnly = (name: string) => `CASE WHEN ok THEN ${name} END AS ${name}`;
  return `
WITH parsed AS (
  SELECT line, n, ${guard ? `CASE WHEN json_valid(line) THEN ${transform} END` : transform} AS j
  FROM (${lines})
), valued AS (
  SELECT line, n, ${fields.map((f) => `j.${id(f.name)} AS ${col(f.name, 'v')}`).join(', ')}
  FROM parsed
), derived AS (
  SELECT *${derived.map((d) => `, ${d}`).join('')} FROM valued
), checked AS (
  SELECT *, coalesce(line = concat(${print.join(', ')}, '}') AND ${checks.join(' AND ')}, false) AS valid
  FROM derived
), cleaned AS (
  SELECT line, n, valid, ${clean.join(', ')} FROM checked
), ${cleanedAndGatedSql(table, gateSql, { where: 'valid', keep: 'line, n, valid', from: 'cleaned' })}
), judged AS (
  SELECT *, valid${dropped.map((g) => ` AND ${g}`).join('')} AS ok FROM gated
)
SELECT CASE WHEN ok THEN 'ok' ELSE 'slow' END AS status, n, CASE WHEN NOT ok THEN line END AS line,
  ${CLEAN_COLUMNS[table].map((name) => keptOnly(id(name))).join(', ')}
  ${gates.map((_, i) => `, ${keptOnly(gateColumn(i))}`).join('')}
FROM judged`;
}

// ---------------------------------------------------------------------------------------------
// Slow path: every rule of the spec, with its exact reason, over json_extract fragments.

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
          issue(`NOT coalesce(${s} = '' OR ${isUuidSql(s)}, false)`, expected(EXPECTED.uuid)),
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

/** A valid value the clean column cannot hold: its message, NULL when all fit. */
function unfitSql(fields: readonly RawField[]): string {
  const unfit = fields.flatMap(([name, rule]) =>
    rule.kind === 'integer' && rule.unfit
      ? [`WHEN ${col(name, 'c')} > ${rule.unfit.max} THEN ${str(rule.unfit.message)}`]
      : [],
  );
  return unfit.length === 0 ? 'NULL' : `CASE ${unfit.join(' ')} END`;
}

/** The slow path over distinct `lines` (line, n): per line its status, reason and clean row. */
function slowSql<T extends Table>(
  table: T,
  lines: string,
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
  const stage = (pick: (s: FieldStages) => string[]) =>
    stages
      .flatMap(pick)
      .map((c) => `, ${c}`)
      .join('');
  const anyField = (predicate: (name: string) => string) =>
    names.map((name) => predicate(name)).join(' OR ');
  const issues = `nullif(concat_ws('; ', ${names.map((n) => col(n, 'r')).join(', ')}), '')`;
  const cleanNames = CLEAN_COLUMNS[table].map((name) => id(name)).join(', ');
  // json_valid first: json_extract fails the whole query on malformed JSON.
  return `
WITH fast AS (
  SELECT line, n, CASE WHEN json_valid(line) THEN json_extract(line, ${paths}) END AS fast
  FROM (${lines})
), canon AS (
  -- A line that is its fragments in schema order: the fragments are JSON.parse's values.
  SELECT *, coalesce(line = ${canonical} || '}', false) AS canon
  FROM fast
), slow AS (
  SELECT *,
    CASE WHEN fast IS NOT NULL AND NOT canon THEN json_keys(line) END AS keys,
    CASE WHEN fast IS NOT NULL AND NOT canon THEN json_extract(line, '$.*') END AS vals
  FROM canon
), frags AS (
  SELECT line, n, fast IS NOT NULL AS parsed, canon,
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
      AND NOT CASE WHEN NOT canon OR ${anyField((n) => `${col(n, 't')} IN ('array', 'object')`)}
        THEN ${lenientSql('line')} ELSE false END AS json_ok,
    CASE WHEN canon THEN 'object' ELSE CASE left(ltrim(line, ${WHITESPACE}), 1)
      WHEN '{' THEN 'object' WHEN '[' THEN 'array' WHEN '"' THEN 'string' WHEN 't' THEN 'boolean'
      WHEN 'f' THEN 'boolean' WHEN 'n' THEN 'null' ELSE 'number' END END AS top,
    ${issues} AS issues,
    ${unfitSql(fields)} AS unfit
  FROM checked
), reached AS (
  SELECT *, coalesce(json_ok AND top = 'object' AND issues IS NULL AND unfit IS NULL, false) AS reached
  FROM judged
), ${cleanedAndGatedSql(table, gateSql, {
    where: 'reached',
    keep: 'line, n, parsed, json_ok, top, issues, unfit, reached',
    from: 'reached',
  })}
), reasoned AS (
  SELECT *, CASE
    WHEN NOT json_ok THEN CASE WHEN parsed THEN ${str(NOT_JSON)} ELSE ${unparsedReasonSql()} END
    WHEN top <> 'object'
      THEN ${str(`schema: record: expected a JSON object (${table} record), received `)} || top
    WHEN issues IS NOT NULL THEN 'schema: ' || issues
    WHEN unfit IS NOT NULL THEN 'cleaning: ' || unfit
    ELSE ${dropReasonSql(gates)} END AS reason
  FROM gated
)
SELECT n, reached, CASE WHEN reason IS NULL THEN 'ok' ELSE 'bad' END AS status,
  reason, CASE WHEN reason IS NOT NULL THEN line END AS line,
  ${cleanNames}${gates.map((_, i) => `, ${gateColumn(i)}`).join('')}
FROM reasoned`;
}

/** The columns slowSql yields, for the table of a call that had no slow line. */
function slowColumnsSql(table: Table, gateCount: number): string {
  const clean = cleanSchema(table).map(
    (c) => `${id(c.name)} ${c.kind === 'integer' ? 'BIGINT' : SQL_TYPE[c.kind]}`,
  );
  const gateColumns = Array.from({ length: gateCount }, (_, i) => `${gateColumn(i)} BOOLEAN`);
  return [
    'n BIGINT, reached BOOLEAN, status VARCHAR',
    'reason VARCHAR, line VARCHAR',
    ...clean,
    ...gateColumns,
  ].join(', ');
}

// ---------------------------------------------------------------------------------------------
// Inputs: the text files DuckDB reads, each an input or a piece JS cut from one.

/** Files up to this size DuckDB reads whole; a 64 MiB text ran out of a 256 MB memory_limit. */
const DIRECT_BYTES = 16 << 20;
/** Bytes per piece JS cuts a larger file into (a longer line is a piece of its own). */
const PIECE_BYTES = 4 << 20;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
/** read_text expands globs and a leading `~`: such a path is read by JS instead. */
const EXPANDED = /[*?[\]{}]|^~/;
const isRemote = (file: string) => file.startsWith('s3://');

/**
 * Whether `cleanWithSql` can read the S3 object at `url` in place (DuckDB's httpfs, on a
 * connection opened with S3 access): a URL without glob characters, which read_text would expand.
 */
export function readableInPlace(url: string): boolean {
  return isRemote(url) && !EXPANDED.test(url);
}

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
 * The pieces of a file JS read. A UTF-8 file (checked natively, whole) is cut without looking
 * at its lines. Any other file takes the slow path, line by line in JS: runs of UTF-8 lines
 * become pieces, and each line that is not UTF-8 is set aside for the quarantine.
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

interface Tables {
  /** The text files: (file, src, piece, start); `start` is the file's offset in its input. */
  files: string;
  /** Lines that are not UTF-8: (src, offset, value). */
  rejects: string;
  /** (src, source, base). */
  sources: string;
  /** The distinct non-empty lines: (line, n). */
  lines: string;
  /** Fast path results; see fastSql. */
  fast: string;
  /** Slow path results; see slowSql. */
  slow: string;
}

interface TextFile {
  file: string;
  src: number;
  piece: number;
  start: number;
  /** Whether the file is an input itself (not a piece JS wrote). */
  direct: boolean;
}

/** The text files of one call, and the tables that describe them. */
class TextFiles {
  private files: TextFile[] = [];
  /** The inputs DuckDB reads as they are. */
  private readonly read = new Set<string>();
  private dir: string | undefined;
  private piece = 0;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly tables: Tables,
    /** A local directory for the pieces of remote inputs. */
    private readonly scratch: string,
  ) {}

  /** An S3 object's bytes, through DuckDB's own S3 access (only on the rare non-UTF-8 path). */
  private async fetch(url: string): Promise<Buffer> {
    const reader = await this.connection.runAndReadAll(
      `SELECT content FROM read_blob(${str(url)})`,
    );
    const value = reader.getRows()[0]?.[0];
    if (!(value instanceof DuckDBBlobValue)) throw new Error(`could not read ${url}`);
    return Buffer.from(value.bytes);
  }

  private appender(table: string) {
    return this.connection.createAppender(table, 'main', 'temp');
  }

  async load(inputs: readonly CleanSqlInput[]): Promise<void> {
    const t = this.tables;
    await this.connection.run(
      `CREATE TEMP TABLE ${t.files} (file VARCHAR, src INTEGER, piece INTEGER, start BIGINT);
       CREATE TEMP TABLE ${t.rejects} (src INTEGER, "offset" BIGINT, value VARCHAR);
       CREATE TEMP TABLE ${t.sources} (src INTEGER, source VARCHAR, base BIGINT);`,
    );
    const sources = await this.appender(t.sources);
    try {
      for (const [src, input] of inputs.entries()) {
        sources.appendInteger(src);
        sources.appendVarchar(input.source);
        sources.appendBigInt(BigInt(input.baseOffset));
        sources.endRow();
        // An S3 object is read in place (httpfs); its caller chose it for its size.
        const remote = isRemote(input.file);
        if (remote && !readableInPlace(input.file)) {
          throw new Error(`${input.file} cannot be read in place (glob characters): download it`);
        }
        const size = remote ? 0 : (await stat(input.file)).size;
        // A path given twice is cut the second time: each text file must be read once.
        const direct = (remote || size <= DIRECT_BYTES) && !EXPANDED.test(input.file);
        if (direct && !this.read.has(input.file)) {
          this.read.add(input.file);
          this.files.push({ file: input.file, src, piece: this.piece++, start: 0, direct: true });
        } else {
          await this.cut(src, input.file);
        }
      }
    } finally {
      sources.closeSync();
    }
    await this.sync();
  }

  /** Reads a file in JS and writes its pieces (and set-aside lines) for DuckDB. */
  private async cut(src: number, file: string): Promise<void> {
    const buffer = isRemote(file) ? await this.fetch(file) : await readFile(file);
    const split = splitInput(buffer);
    // Beside the (first) local input, whose file system had room for it; else beside the outputs.
    this.dir ??= await mkdtemp(
      join(isRemote(file) ? this.scratch : dirname(file), '.pinpipe-pieces-'),
    );
    for (const range of split.pieces) {
      const piece = join(this.dir, `${this.piece}.ndjson`);
      await writeFile(piece, buffer.subarray(range.start, range.end));
      this.files.push({ file: piece, src, piece: this.piece++, start: range.start, direct: false });
    }
    const rejects = await this.appender(this.tables.rejects);
    try {
      for (const reject of split.rejects) {
        rejects.appendInteger(src);
        rejects.appendBigInt(BigInt(reject.offset));
        rejects.appendVarchar(`base64:${Buffer.from(reject.bytes).toString('base64')}`);
        rejects.endRow();
      }
    } finally {
      rejects.closeSync();
    }
  }

  private async sync(): Promise<void> {
    await this.connection.run(`DELETE FROM ${this.tables.files}`);
    const files = await this.appender(this.tables.files);
    try {
      for (const f of this.files) {
        files.appendVarchar(f.file);
        files.appendInteger(f.src);
        files.appendInteger(f.piece);
        files.appendBigInt(BigInt(f.start));
        files.endRow();
      }
    } finally {
      files.closeSync();
    }
  }

  /**
   * Moves the inputs DuckDB read that are not UTF-8 to the JS path (read_text fails the whole
   * query on one). Asked only after a failure, so the normal path pays nothing for it.
   */
  async rerouteNonUtf8(): Promise<void> {
    const direct = this.files.filter((f) => f.direct);
    if (direct.length === 0) return;
    const reader = await this.connection.runAndReadAll(
      `SELECT filename FROM read_blob([${direct.map((f) => str(f.file)).join(', ')}])
       WHERE TRY(decode(content)) IS NULL`,
    );
    const bad = new Set(reader.getRowObjectsJson().map((row) => `${row.filename as string}`));
    if (bad.size === 0) return;
    const moved = direct.filter((f) => bad.has(f.file));
    this.files = this.files.filter((f) => !bad.has(f.file));
    for (const f of moved) await this.cut(f.src, f.file);
    await this.sync();
  }

  /** (file, text) of every text file, or only of `pieces`. */
  textsSql(pieces?: ReadonlySet<number>): string {
    const files = this.files.filter((f) => !pieces || pieces.has(f.piece));
    if (files.length === 0)
      return 'SELECT NULL::VARCHAR AS file, NULL::VARCHAR AS text WHERE false';
    return `SELECT filename AS file, content AS text FROM read_text([${files.map((f) => str(f.file)).join(', ')}])`;
  }

  async remove(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
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
  // Plain identifiers (the appender takes names unquoted); unique, in case of a shared connection.
  const tag = randomBytes(6).toString('hex');
  const t: Tables = {
    files: `pinpipe_files_${tag}`,
    rejects: `pinpipe_rejects_${tag}`,
    sources: `pinpipe_sources_${tag}`,
    lines: `pinpipe_lines_${tag}`,
    fast: `pinpipe_fast_${tag}`,
    slow: `pinpipe_slow_${tag}`,
  };
  const texts = new TextFiles(connection, t, dirname(options.parquetOut));
  try {
    await texts.load(options.inputs);
    // Each distinct line is cleaned once (cleanLine is a function of the line's text): a day
    // drawn with replacement from the source repeats most of its lines.
    const distinct = () =>
      connection.run(
        `CREATE TEMP TABLE ${t.lines} AS SELECT line, count(*) AS n
        FROM (${linesSql(texts.textsSql(), 'file')}) WHERE line <> '' GROUP BY line`,
      );
    await distinct().catch(async () => {
      // read_text refuses an input that is not UTF-8: move such inputs to the JS path, retry.
      await texts.rerouteNonUtf8();
      await distinct();
    });
    const fast = (guard: boolean) =>
      connection.run(
        `CREATE TEMP TABLE ${t.fast} AS ${fastSql(table, `SELECT line, n FROM ${t.lines}`, gates, gateSql, guard)}`,
      );
    // Optimistic: json_transform fails the whole query on a line that is not JSON.
    await fast(false).catch(() => fast(true));
    const slowLines = await connection.runAndReadAll(
      `SELECT count(*) AS n FROM ${t.fast} WHERE status = 'slow'`,
    );
    // Binding the slow path's query alone takes tens of milliseconds: skipped without a line.
    await connection.run(
      count(slowLines.getRowObjectsJson()[0]?.n) > 0
        ? `CREATE TEMP TABLE ${t.slow} AS ${slowSql(table, `SELECT line, n FROM ${t.fast} WHERE status = 'slow'`, gates, gateSql)}`
        : `CREATE TEMP TABLE ${t.slow} (${slowColumnsSql(table, gates.length)})`,
    );
    return await writeOutputs(connection, texts, t, options, gates.length);
  } finally {
    await texts.remove();
    try {
      for (const name of Object.values(t)) await connection.run(`DROP TABLE IF EXISTS ${name}`);
    } catch {
      // Best effort: a connection that failed may refuse this too, and must not hide why.
    }
  }
}

async function writeOutputs<T extends Table>(
  connection: DuckDBConnection,
  texts: TextFiles,
  t: Tables,
  options: CleanSqlOptions<T>,
  gateCount: number,
): Promise<CleanSqlResult> {
  const failed = `[${Array.from({ length: gateCount }, (_, i) => `coalesce(sum(n) FILTER (NOT ${gateColumn(i)}), 0)`).join(', ')}]::BIGINT[]`;
  const counted = await connection.runAndReadAll(
    `SELECT (SELECT coalesce(sum(n), 0) FROM ${t.lines}) AS raw,
      (SELECT coalesce(sum(n), 0) FROM ${t.fast} WHERE status = 'ok') AS fast_ok,
      (SELECT coalesce(sum(n) FILTER (status = 'ok'), 0) FROM ${t.slow}) AS slow_ok,
      (SELECT coalesce(sum(n) FILTER (status = 'bad'), 0) FROM ${t.slow}) AS bad,
      (SELECT coalesce(sum(n) FILTER (reached), 0) FROM ${t.slow}) AS slow_checked,
      ${gateCount === 0 ? '[]' : `(SELECT ${failed} FROM ${t.fast} WHERE status = 'ok')`} AS fast_failed,
      ${gateCount === 0 ? '[]' : `(SELECT ${failed} FROM ${t.slow})`} AS slow_failed,
      (SELECT count(*) FROM ${t.rejects}) AS rejects`,
  );
  const row = counted.getRowObjectsJson()[0] ?? {};
  const numbers = (value: unknown) => (Array.isArray(value) ? value.map(count) : []);
  const [fastFailed, slowFailed] = [numbers(row.fast_failed), numbers(row.slow_failed)];
  const rejects = count(row.rejects);
  const bad = count(row.bad);

  const columns = cleanSchema(options.table).map(
    (column) => `CAST(${id(column.name)} AS ${SQL_TYPE[column.kind]}) AS ${id(column.name)}`,
  );
  const names = CLEAN_COLUMNS[options.table].map((name) => id(name)).join(', ');
  await connection.run(
    `COPY (SELECT ${columns.join(', ')} FROM (
        SELECT ${names} FROM ${t.fast} WHERE status = 'ok'
        UNION ALL SELECT ${names} FROM ${t.slow} WHERE status = 'ok'))
      TO ${str(options.parquetOut)} (FORMAT parquet, COMPRESSION snappy)`,
  );
  if (bad + rejects === 0) await writeFile(options.quarantineOut, '');
  else await connection.run(quarantineCopySql(texts, t, options.quarantineOut));
  const fastOk = count(row.fast_ok);
  return {
    rawRecords: count(row.raw) + rejects,
    rowsIn: fastOk + count(row.slow_ok),
    quarantined: bad + rejects,
    gateState: {
      checked: fastOk + count(row.slow_checked),
      failed: fastFailed.map((n, i) => n + (slowFailed[i] ?? 0)),
    },
  };
}

/**
 * The quarantine lines, in input order: every occurrence of each rejected distinct line, found
 * by reading the text files again (only when something was rejected). A line's offset is its
 * text file's start plus the bytes of the lines before it.
 */
function quarantineCopySql(texts: TextFiles, t: Tables, out: string): string {
  return `COPY (
    WITH marked AS (
      SELECT l.file, l.ord, l.len, b.reason, CASE WHEN b.reason IS NOT NULL THEN l.line END AS line
      FROM (${linesSql(texts.textsSql(), 'file')}) l
      LEFT JOIN (SELECT line, reason FROM ${t.slow} WHERE status = 'bad') b USING (line)
    ), placed AS (
      SELECT file, reason, line, coalesce(sum(len + 1) OVER (PARTITION BY file ORDER BY ord
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
      FROM marked
    ), found AS (
      SELECT m.src, m.start + p.before AS pos, p.reason, p.line AS value
      FROM placed p JOIN ${t.files} m USING (file) WHERE p.reason IS NOT NULL
      UNION ALL SELECT src, "offset", ${str(NOT_UTF8)}, value FROM ${t.rejects}
    )
    SELECT s.source AS source, s.base + f.pos AS "offset", f.reason AS reason, f.value AS value
    FROM found f JOIN ${t.sources} s USING (src)
    ORDER BY f.src, f.pos
  ) TO ${str(out)} (FORMAT json)`;
}
