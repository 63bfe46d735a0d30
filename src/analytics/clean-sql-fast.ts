/** The SQL cleaner's fast path (see clean-sql.ts): one JSON parse per distinct line, cheap checks. */

import { CLEAN_COLUMNS } from '../domain/cleaning';
import { USER_INFO_ERROR } from '../domain/placeholders';
import { type Table } from '../domain/tables';
import { quoteIdentifier as id, quoteString as str } from './sql-text';
import {
  type SqlExpectation,
  MAX_SAFE,
  list,
  isUuidSql,
  gateColumn,
  type FieldRule,
  RAW_FIELDS,
  col,
  cleanedAndGatedSql,
} from './clean-sql-rules';

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
export function fastSql<T extends Table>(
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
