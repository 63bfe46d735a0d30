/** The SQL cleaner's slow path (see clean-sql.ts): every rule of the spec, with its exact reason. */

import { NOT_JSON, UNPAIRED_SURROGATE } from '../domain/clean-line';
import { CLEAN_COLUMNS } from '../domain/cleaning';
import { USER_INFO_ERROR } from '../domain/placeholders';
import { EXPECTED } from '../domain/raw-schemas';
import { type Table } from '../domain/tables';
import { cleanSchema, SQL_TYPE } from './clean-schema';
import { quoteIdentifier as id, quoteString as str } from './sql-text';
import {
  type SqlExpectation,
  MAX_SAFE,
  list,
  isUuidSql,
  gateColumn,
  dropReasonSql,
  type FieldRule,
  type RawField,
  RAW_FIELDS,
  col,
  cleanedAndGatedSql,
} from './clean-sql-rules';

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
export function slowSql<T extends Table>(
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
export function slowColumnsSql(table: Table, gateCount: number): string {
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
