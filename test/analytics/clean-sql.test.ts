import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBBlobValue } from '@duckdb/node-api';
import { cleanSchema } from '../../src/analytics/clean-schema';
import {
  cleanWithSql,
  GATE_SQL,
  type CleanSqlResult,
  type SqlExpectation,
} from '../../src/analytics/clean-sql';
import { openDuckDb, type DuckDbSession } from '../../src/analytics/duckdb-session';
import { readCleanParquet } from '../../src/analytics/parquet-writer';
import { cleanNdjsonLine, ndjsonLines } from '../../src/domain/clean-line';
import type { CleanRecordMap } from '../../src/domain/cleaning';
import { formatUtcIso } from '../../src/domain/datetime';
import { drawEvents } from '../../src/domain/generator';
import {
  IMAGE_SRC_ERROR,
  NO_DESCRIPTION,
  NO_DESCRIPTION_STORY,
  NO_TAGS,
  NO_TITLE,
} from '../../src/domain/placeholders';
import { DEFAULT_GATES, GateTally, type Expectation } from '../../src/domain/quality-gates';
import seed from '../../src/domain/seed-rows.json';
import { CATEGORIES, TABLES, type Table } from '../../src/domain/tables';

/**
 * The differential test: every line goes through the specification (cleanNdjsonLine, in JS)
 * and through cleanWithSql (DuckDB SQL); the kept rows, the quarantine (line by line, matched
 * by source and offset, reasons included), the counts and the gate tallies must be identical.
 */

interface InputFile {
  source: string;
  baseOffset: number;
  bytes: Buffer;
}

interface QuarantineEntry {
  source: string;
  offset: number;
  reason: string;
  value: string;
}

interface Outcome<T extends Table> {
  rows: CleanRecordMap[T][];
  quarantine: QuarantineEntry[];
  result: CleanSqlResult;
  /** The distinct texts of the kept lines (the spec's side only). */
  keptLines?: Set<string>;
}

function specOutcome<T extends Table>(
  table: T,
  files: readonly InputFile[],
  gates: readonly Expectation<T>[] = DEFAULT_GATES[table],
): Outcome<T> {
  const tally = new GateTally(gates);
  const rows: CleanRecordMap[T][] = [];
  const quarantine: QuarantineEntry[] = [];
  const keptLines = new Set<string>();
  let rawRecords = 0;
  for (const file of files) {
    for (const line of ndjsonLines(file.bytes)) {
      rawRecords++;
      const result = cleanNdjsonLine(table, line.bytes, gates);
      if (result.row) tally.check(result.row);
      if (result.ok) {
        rows.push(result.row);
        keptLines.add(Buffer.from(line.bytes).toString());
        continue;
      }
      const text = Buffer.from(line.bytes);
      quarantine.push({
        source: file.source,
        offset: file.baseOffset + line.offset,
        reason: result.reason,
        value:
          result.reason === 'not UTF-8' ? `base64:${text.toString('base64')}` : text.toString(),
      });
    }
  }
  return {
    rows,
    quarantine,
    keptLines,
    result: {
      rawRecords,
      rowsIn: rows.length,
      quarantined: quarantine.length,
      gateState: tally.snapshot(),
    },
  };
}

let dir: string;
let session: DuckDbSession;
let run = 0;

async function sqlOutcome<T extends Table>(
  table: T,
  files: readonly InputFile[],
  gates?: readonly SqlExpectation<T>[],
): Promise<Outcome<T>> {
  run++;
  const inputs = await Promise.all(
    files.map(async (f, i) => {
      const file = join(dir, `run-${run}-in-${i}.ndjson`);
      await writeFile(file, f.bytes);
      return { file, source: f.source, baseOffset: f.baseOffset };
    }),
  );
  const parquetOut = join(dir, `run-${run}.parquet`);
  const quarantineOut = join(dir, `run-${run}.quarantine.ndjson`);
  const result = await cleanWithSql(session.connection, {
    table,
    inputs,
    parquetOut,
    quarantineOut,
    ...(gates ? { gates } : {}),
  });
  const quarantine = (await readFile(quarantineOut, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as QuarantineEntry);
  return { rows: await readExactParquet(table, parquetOut), quarantine, result };
}

/**
 * readCleanParquet (which checks the file's schema), with its strings read again as bytes: the
 * node-api decodes VARCHAR with a default TextDecoder, which drops a leading U+FEFF.
 */
async function readExactParquet<T extends Table>(
  table: T,
  path: string,
): Promise<CleanRecordMap[T][]> {
  const rows = await readCleanParquet(table, path);
  const strings = cleanSchema(table)
    .filter((c) => c.kind === 'varchar')
    .map((c) => c.name);
  const reader = await session.connection.runAndReadAll(
    `SELECT ${strings.map((name) => `encode(${name}) AS ${name}`).join(', ')} FROM read_parquet('${path}')`,
  );
  reader.getRowObjects().forEach((bytes, i) => {
    const row = rows[i] as Record<string, unknown>;
    for (const name of strings) {
      const value = bytes[name];
      row[name] = value instanceof DuckDBBlobValue ? Buffer.from(value.bytes).toString() : null;
    }
  });
  return rows;
}

/** Asserts spec and SQL agree, naming the first line where they do not. */
async function assertAgree<T extends Table>(
  table: T,
  files: readonly InputFile[],
  gates?: readonly SqlExpectation<T>[],
): Promise<Outcome<T>> {
  const expected = specOutcome(table, files, gates);
  const actual = await sqlOutcome(table, files, gates);
  const at = (q: QuarantineEntry) => `${q.source}@${q.offset}`;
  const sqlReasons = new Map(actual.quarantine.map((q) => [at(q), q]));
  for (const q of expected.quarantine) {
    const got = sqlReasons.get(at(q));
    assert.deepStrictEqual(got, q, `${table} line ${at(q)}: ${q.value.slice(0, 300)}`);
  }
  assert.deepStrictEqual(actual.quarantine, expected.quarantine);
  // The part holds the row of each distinct kept line once, in no particular order.
  const distinct = (rows: readonly CleanRecordMap[T][]) =>
    [...new Map(rows.map((row) => [JSON.stringify(row), row])).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => row);
  const [want, got] = [distinct(expected.rows), distinct(actual.rows)];
  for (const [i, row] of want.entries()) {
    assert.deepStrictEqual(got[i], row, `${table} distinct kept row ${i}`);
  }
  assert.equal(actual.rows.length, expected.keptLines?.size, 'one row per distinct kept line');
  assert.deepStrictEqual(actual.result, expected.result);
  return expected;
}

const ndjson = (lines: readonly string[], ending = '\n') =>
  Buffer.from(lines.map((l) => `${l}${ending}`).join(''));
const oneFile = (lines: readonly string[]): InputFile[] => [
  { source: 'topics/t/object.json', baseOffset: 0, bytes: ndjson(lines) },
];

// ---------------------------------------------------------------------------------------------
// Adversarial lines. A line is built from a valid record with one field's JSON text replaced.

const BASE = seed.rows[1]!.raw; // row 2863: an ordinary image post
type RawObject = Record<string, unknown>;
const MARK = '\u0001mark\u0001';

/** The base record's line with `field` set to the raw JSON text `json` (or removed). */
function withField(table: Table, field: string, json: string | undefined): string {
  const record: RawObject = { ...BASE[table] };
  if (json === undefined) {
    delete record[field];
    return JSON.stringify(record);
  }
  record[field] = MARK;
  return JSON.stringify(record).replace(JSON.stringify(MARK), json);
}

/** `a|b|c` → ['a', 'b', 'c']: compact tables of values (none holds a `|`). */
const bars = (text: string) => text.split('|');

/** JSON texts every field is tried with: wrong types, number edges, odd strings, non-JSON. */
const ANY_VALUES = bars(
  'null|true|false|0|1|2|-1|-0|0.0|-0.0|1.0|1.5|-1.5|1e2|1E+2|1e-400|1e400|-1e400|12|13|' +
    '120|121|2147483648|9007199254740991|9007199254740992|9007199254740993|' +
    '-9007199254740991|-9007199254740992|9007199254740991.4|9007199254740991.5|' +
    '12345678901234567890|123456789012345678901234567890|-1e300|0.1|89.99999999999999|90|' +
    '-90|90.0000001|-90.0000001|180|-180|180.0000001|-180.0000001|""|"x"|"1"|"-1"|' +
    '"1.5"|"1e2"|"null"|[]|{}|[1]|{"a":1}|["x"]|[[]]|"\\u0000"|"\\ud800"|' +
    '"a\\udc00"|"\\ud83d\\ude00"|"\\uDBFF\\uDFFF"|NaN|Infinity|-Infinity|nan|-inf|' +
    '[NaN]|[1,]|{"a":1,}|01|.5|+1|0x10|\'x\'|undefined|"\t"',
);

const TEXT_SAMPLES = [
  '',
  ' ',
  'Untitled',
  NO_TITLE,
  NO_DESCRIPTION,
  NO_DESCRIPTION_STORY,
  NO_TAGS,
  IMAGE_SRC_ERROR,
  'User Info Error',
  'user info error',
  '簡単かわいいネイルデザイン',
  '💅🏽👩‍👩‍👧',
  'e\u0301te\u0301',
  'שלום עולם',
  'مرحبا بالعالم',
  '\u2028\u2029',
  'a"b\\c/d',
  'tab\there\nnewline',
  'nul\u0000x',
  '\u007f\u0080\u00a0',
  '\ufeffbom',
  'Local save in /data/art',
  'Local save in ',
  'Local save in',
  '/data/art',
  'local save in /data/art',
  'Local save in Local save in /x',
  '  padded  ',
];

/** Raw JSON string texts with escapes JSON.stringify would not write. */
const ESCAPED_STRINGS = bars(
  '"\\u00e9t\\u00e9"|"\\/path\\/x"|"\\ud83d\\ude00"|"\\u0041\\u0042"|' +
    '"\\b\\f\\n\\r\\t"|"\\u001f\\u007f"|"a\\\\ud800"|"\\\\\\ud800"|' +
    '"\\"quoted\\""|"\\u2028"',
);

const FOLLOWER_COUNTS = bars(
  '0|00012|5000|1k|999k|1.5k|1.0005k|1.0004k|1.00049999k|0.0005k|0.0004k|1.9999995M|' +
    '1.9999994M|2M|12.5|1.k|.5k|k|M|1m|1K|1kk|9007199254740991|9007199254740992|' +
    '9007199254.740991M|9007199254.7409915M|9007199254740.9914k|9007199254740.9915k|' +
    '1000000000000000000000000000000|00000000000000000000000000000000000000001|' +
    '0.9999999999999999999999999999999999999999M| 1|1 |+1|-1|١٢٣|1e3|1,000|' +
    'User Info Error|',
);

const UUIDS = bars(
  'fbe53c66-3442-4773-b19e-d3ec6f54dddf|FBE53C66-3442-4773-B19E-D3EC6F54DDDF||abc|' +
    'fbe53c66-3442-4773-b19e-d3ec6f54dddf |{fbe53c66-3442-4773-b19e-d3ec6f54dddf}|' +
    'gbe53c66-3442-4773-b19e-d3ec6f54dddf|fbe53c6-63442-4773-b19e-d3ec6f54dddf|' +
    'fbe53c66-3442-4773-b19e-d3ec6f54ddd١|fbe53c66344247730b19e0d3ec6f54dddf00',
);

const DATETIMES = bars(
  '2020-04-27 13:34:16|2020-04-27T13:34:16|2020-04-27T13:34:16.5|2020-04-27 13:34:16.999|' +
    '2020-04-27 13:34:16.0009|2020-04-27 13:34:16.123456789|2020-04-27 13:34:16.1234567891|' +
    '2020-04-27 13:34:16Z|2020-04-27 13:34:16.25Z|2020-04-27 13:34:16+05|' +
    '2020-04-27 13:34:16+0530|2020-04-27 13:34:16-05:30|2020-04-27 13:34:16+23:59|' +
    '2020-04-27 13:34:16-2359|2020-04-27 13:34:16+24:00|2020-04-27 13:34:16+05:60|' +
    '2020-04-27 13:34:16+5|2020-04-27 13:34:16+05:3|2020-04-27 13:34:16z|' +
    '2021-02-29 10:00:00|2020-02-29 10:00:00|1900-02-29 00:00:00|2000-02-29 00:00:00|' +
    '0000-02-29 00:00:00|0000-01-01 00:00:00|0000-01-01 00:00:00+01:00|9999-12-31 23:59:59|' +
    '9999-12-31 23:59:59-01:00|1969-12-31 23:59:59.9999|1970-01-01 00:00:00|' +
    '0099-03-01 00:00:00|2020-13-01 00:00:00|2020-00-01 00:00:00|2020-01-00 00:00:00|' +
    '2020-01-32 00:00:00|2020-04-31 00:00:00|2020-04-27 24:00:00|2020-04-27 23:60:00|' +
    '2020-04-27 23:59:60|2020-4-27 13:34:16| 2020-04-27 13:34:16|2020-04-27 13:34:16 |' +
    '2020-04-27  13:34:16|2020-04-27t13:34:16|2020-04-27|13:34:16|' +
    '２０２０-04-27 13:34:16|2020-04-27 13:34:16.|',
);

/** Lines that are wrong (or odd) as a whole, whatever the table. */
function wholeLines(table: Table): string[] {
  const base = JSON.stringify(BASE[table]);
  const keys = Object.keys(BASE[table]);
  const first = keys[0]!;
  const entries = Object.entries(BASE[table] as RawObject);
  return [
    'not json',
    '{',
    '}',
    '{"a":1',
    base.slice(0, -1),
    `${base},`,
    `${base} x`,
    `${base}}`,
    `${base.slice(0, -1)},}`,
    base.replace(/,/, ',,'),
    `[${base}]`,
    `[${base},]`,
    'NaN',
    'Infinity',
    '-Infinity',
    'true',
    'false',
    'null',
    '5',
    '-0',
    '1e400',
    '"x"',
    '[]',
    '[1,2]',
    '{}',
    '{"a":1,}',
    '[1,]',
    "{'a':1}",
    '{a:1}',
    '// comment',
    '/* c */ {}',
    `${base} // c`,
    `\ufeff${base}`,
    '\u0000',
    `${base}\u0000`,
    ' ',
    '\t',
    ' \t ',
    'undefined',
    'nul',
    'tru',
    `  ${base}  `,
    `\t${base}\t`,
    `${base}\r`,
    `\u00a0${base}`,
    `${base}\u2028`,
    JSON.stringify(BASE[table], null, 2).replace(/\n/g, ' '),
    JSON.stringify(BASE[table], null, '\t').replace(/\n/g, '\t'),
    JSON.stringify(Object.fromEntries([...entries].reverse())),
    base.replace(`"${first}"`, `"\\u00${first.charCodeAt(0).toString(16)}${first.slice(1)}"`),
    JSON.stringify({ ...BASE[table], extra: { nested: [1, { a: [] }], more: 'x' } }),
    base.replace(/}$/, ',"extra":1e400}'),
    base.replace(/}$/, ',"extra":"\\ud800"}'),
    base.replace(/}$/, ',"extra":[1,]}'),
    base.replace(/}$/, ',"extra":NaN}'),
    base.replace(/}$/, ',"extra":"nan inf, ]"}'),
    base.replace(/}$/, ',"extra":{"a":1,"a":2}}'),
    base.replace(/}$/, `,"${keys[1]!}":${JSON.stringify(entries[1]![1])}}`),
    base.replace(/}$/, `,"${first}":"dup"}`),
    base.replace(/^{/, `{"${first}":"dup",`),
    base.replace(/}$/, `,"${first}":1e400}`),
    base.replace(/}$/, `,"${first}":NaN}`),
    base.replace(/}$/, ',"x":1,"x":2}'),
    `{"${first}":1}`,
    base.replace(/:/g, ' : ').replace(/,"/g, ' , "'),
    `{"${first}" :1}`,
  ];
}

function adversarialLines(table: Table): string[] {
  const lines = wholeLines(table);
  const fields = Object.keys(BASE[table]);
  const good = BASE[table] as RawObject;
  for (const field of fields) {
    lines.push(withField(table, field, undefined));
    for (const json of ANY_VALUES) lines.push(withField(table, field, json));
    for (const text of TEXT_SAMPLES) lines.push(withField(table, field, JSON.stringify(text)));
    for (const json of ESCAPED_STRINGS) lines.push(withField(table, field, json));
    // Duplicate keys: JSON.parse keeps the last.
    const valid = JSON.stringify(good[field]);
    lines.push(`${withField(table, field, '"bad"').slice(0, -1)},"${field}":${valid}}`);
    lines.push(`${withField(table, field, valid).slice(0, -1)},"${field}":"bad"}`);
    lines.push(`${withField(table, field, valid).slice(0, -1)},"${field}":null}`);
  }
  const set = (field: string, values: readonly string[]) =>
    values.forEach((v) => lines.push(withField(table, field, JSON.stringify(v))));
  if (table === 'pin') {
    set('follower_count', FOLLOWER_COUNTS);
    set('unique_id', UUIDS);
    set('category', [...CATEGORIES, 'food', 'Art', ' art']);
    set('is_image_or_video', ['image', 'video', 'multi-video(story page format)', 'IMAGE', 'gif']);
  }
  if (table === 'geo') {
    set('timestamp', DATETIMES);
    set('country', ["Cote d'Ivoire", 'Åland', '']);
  }
  if (table === 'user') set('date_joined', DATETIMES);
  // A 1 MB line (longer than DuckDB's pieces).
  lines.push(withField(table, fields[1]!, JSON.stringify('é'.repeat(500_000))));
  return lines;
}

describe('analytics/clean-sql', function () {
  this.timeout(120_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-clean-sql-'));
    session = await openDuckDb({ tempDirectory: join(dir, 'duckdb.tmp'), threads: 2 });
  });
  after(async () => {
    session?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const table of TABLES) {
    describe(`${table}: spec and SQL agree`, () => {
      it('on generated rows and the fixture rows', async () => {
        const lines = [...drawEvents({ seed: `clean-sql-${table}`, count: 5000 })].map((e) =>
          JSON.stringify(e[table]),
        );
        lines.push(...seed.rows.map((row) => JSON.stringify(row.raw[table])));
        const outcome = await assertAgree(table, oneFile(lines));
        assert.equal(outcome.result.rawRecords, 5000 + seed.rows.length);
        assert.equal(outcome.result.quarantined, 0);
      });

      it('on adversarial lines', async () => {
        const lines = adversarialLines(table);
        const outcome = await assertAgree(table, oneFile(lines));
        assert.ok(outcome.result.quarantined > 100, 'most adversarial lines are rejected');
        assert.ok(outcome.result.rowsIn > 50, 'many adversarial lines are valid');
      });

      it('on adversarial lines without gates (no gate hides a missed check)', async () => {
        await assertAgree(table, oneFile(adversarialLines(table)), []);
      });

      it('on CRLF line endings and empty lines', async () => {
        const lines = adversarialLines(table).slice(0, 300);
        const bytes = Buffer.concat([
          ndjson(lines.slice(0, 100), '\r\n'),
          Buffer.from('\n\r\n\n\r\r\n'),
          ndjson(lines.slice(100, 200), '\n\n'),
          Buffer.from(lines.slice(200).join('\r\n')), // no final newline
        ]);
        await assertAgree(table, [{ source: 'crlf.json', baseOffset: 7, bytes }]);
      });
    });
  }

  describe('inputs', () => {
    const generated = (table: Table, count: number, seedText = 'inputs') =>
      [...drawEvents({ seed: seedText, count })].map((e) => JSON.stringify(e[table]));

    it('a file that is not UTF-8: its invalid lines are quarantined, the others cleaned', async () => {
      const lines = generated('pin', 200).map((l) => Buffer.from(l));
      lines[3] = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]); // {\xff\xfe}
      lines[50] = Buffer.concat([lines[50]!.subarray(0, 30), Buffer.from([0xc0, 0x80])]); // overlong
      lines[51] = Buffer.from([0xed, 0xa0, 0x80]); // an encoded surrogate
      lines[52] = Buffer.concat([Buffer.from('not json '), Buffer.from([0xe2, 0x82])]); // cut short
      const bytes = Buffer.concat(lines.flatMap((l, i) => [l, Buffer.from(i % 7 ? '\n' : '\r\n')]));
      const outcome = await assertAgree('pin', [
        { source: 'ok.json', baseOffset: 0, bytes: ndjson(generated('pin', 10, 'other')) },
        { source: 'bad.json', baseOffset: 1000, bytes },
      ]);
      assert.equal(outcome.quarantine.filter((q) => q.reason === 'not UTF-8').length, 4);
    });

    it("several files: offsets in each source from the file's baseOffset, input order", async () => {
      const lines = [...generated('geo', 30), 'not json', ...generated('geo', 30, 'b'), '[]'];
      const files: InputFile[] = [
        { source: 'a.json', baseOffset: 0, bytes: ndjson(lines.slice(0, 20)) },
        { source: 'b.json', baseOffset: 0, bytes: ndjson(lines.slice(20, 40)) },
        { source: 'a.json', baseOffset: 999_999, bytes: ndjson(lines.slice(40)) },
        { source: 'c.json', baseOffset: 5, bytes: Buffer.from('') },
      ];
      const outcome = await assertAgree('geo', files);
      assert.deepStrictEqual(
        outcome.quarantine.map((q) => [q.source, q.reason]),
        [
          ['b.json', 'not JSON'],
          ['a.json', 'schema: record: expected a JSON object (geo record), received array'],
        ],
      );
    });

    it('the same file given twice, as two inputs: both count', async () => {
      const file = join(dir, 'twice.ndjson');
      await writeFile(file, ndjson(['{"ind":1}', ...generated('user', 5)]));
      const input = (source: string) => ({ file, source, baseOffset: 3 });
      const result = await cleanWithSql(session.connection, {
        table: 'user',
        inputs: [input('a.json'), input('b.json')],
        parquetOut: join(dir, 'twice.parquet'),
        quarantineOut: join(dir, 'twice.ndjson.quarantine'),
      });
      assert.equal(result.rawRecords, 12);
      assert.equal(result.quarantined, 2);
      const quarantine = (await readFile(join(dir, 'twice.ndjson.quarantine'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as QuarantineEntry);
      assert.deepStrictEqual(
        quarantine.map((q) => [q.source, q.offset]),
        [
          ['a.json', 3],
          ['b.json', 3],
        ],
      );
    });

    it('a file too large for DuckDB to read whole is cut into pieces at line ends', async () => {
      const lines = generated('pin', 36_000, 'large'); // about 19 MB
      for (let i = 0; i < lines.length; i += 997) lines[i] = `${lines[i]!.slice(0, -1)},}`;
      const bytes = Buffer.concat([ndjson(lines, '\r\n'), Buffer.from([0xff, 0x0a])]);
      assert.ok(bytes.length > 16 << 20);
      const outcome = await assertAgree('pin', [{ source: 'big.json', baseOffset: 42, bytes }]);
      assert.equal(outcome.result.quarantined, 38);
    });

    it('no lines: an empty Parquet file with the clean schema and an empty quarantine', async () => {
      for (const table of TABLES) {
        const outcome = await assertAgree(table, [
          { source: 'empty.json', baseOffset: 0, bytes: Buffer.from('\n\r\n\n') },
        ]);
        assert.deepStrictEqual(outcome.result, {
          rawRecords: 0,
          rowsIn: 0,
          quarantined: 0,
          gateState: { checked: 0, failed: DEFAULT_GATES[table].map(() => 0) },
        });
        await assertAgree(table, []);
      }
    });
  });

  describe('gates', () => {
    it('the SQL twins of DEFAULT_GATES agree with their JS checks', async () => {
      const year = (y: number, offsetMs: number) => {
        const date = new Date(Date.UTC(2000, 0, 1) + offsetMs);
        date.setUTCFullYear(y);
        return date.getTime();
      };
      const instants = [
        Date.parse('2020-01-01T00:00:00Z'),
        year(0, 0),
        year(0, -1),
        year(10000, -1),
        year(10000, 0),
      ];
      const rows: { [K in Table]: { js: CleanRecordMap[K]; sql: string }[] } = {
        pin: [],
        geo: [],
        user: [],
      };
      const pin = seed.rows[1]!.clean.pin;
      for (const [ind, uniqueId, category, followers] of [
        [0, null, null, null],
        [1, pin.unique_id, 'art', 0],
        [2, pin.unique_id.toUpperCase(), 'food', -5],
        [3, 'abc', 'Art', 2 ** 53],
        [-1, `${pin.unique_id.slice(0, -1)}g`, 'vehicles', 12],
        [4, `${pin.unique_id} `, '', 9007199254740991],
      ] as const) {
        rows.pin.push({
          js: { ...pin, ind, unique_id: uniqueId, category, follower_count: followers },
          sql: `${ind}, ${uniqueId === null ? 'NULL' : `'${uniqueId}'`}, ${category === null ? 'NULL' : `'${category}'`}, ${followers ?? 'NULL'}`,
        });
      }
      for (const [lat, lon, ms, country] of [
        [90, 180, instants[0]!, 'x'],
        [90.0001, 0, instants[1]!, null],
        [0, -180.5, instants[2]!, ''],
        [-90, -180, instants[3]!, 'y'],
        [-91, 181, instants[4]!, 'z'],
      ] as const) {
        rows.geo.push({
          js: { ind: 1, country, coordinates: [lat, lon], timestamp: formatUtcIso(ms) },
          sql: `1, ${country === null ? 'NULL' : `'${country}'`}, [${lat}, ${lon}]::DOUBLE[], make_timestamptz(${BigInt(ms) * 1000n})`,
        });
      }
      for (const [age, ms] of [
        [12, instants[0]!],
        [13, instants[1]!],
        [120, instants[2]!],
        [121, instants[3]!],
        [-1, instants[4]!],
      ] as const) {
        rows.user.push({
          js: { ind: 1, user_name: 'a b', age, date_joined: formatUtcIso(ms) },
          sql: `1, 'a b', ${age}, make_timestamptz(${BigInt(ms) * 1000n})`,
        });
      }
      const columns = {
        pin: 'ind, unique_id, category, follower_count',
        geo: 'ind, country, coordinates, "timestamp"',
        user: 'ind, user_name, age, date_joined',
      };
      for (const table of TABLES) {
        const gates = DEFAULT_GATES[table] as Expectation<Table>[];
        const values = rows[table].map((r) => `(${r.sql})`).join(', ');
        const reader = await session.connection.runAndReadAll(
          `SELECT ${gates.map((g) => `coalesce((${GATE_SQL[table][g.name]!}), false)`).join(', ')}
           FROM (VALUES ${values}) v(${columns[table]})`,
        );
        const sql = reader.getRows();
        rows[table].forEach((row, i) => {
          const js = gates.map((g) => g.check(row.js));
          assert.deepStrictEqual(sql[i], js, `${table} row ${i}: ${JSON.stringify(row.js)}`);
        });
      }
    });

    it('a custom gate needs its SQL twin; with one it counts and drops like GateTally', async () => {
      const titled: SqlExpectation<'pin'> = {
        name: 'title_present',
        description: 'title is not null',
        policy: 'drop',
        maxFailureRate: 0,
        check: (row) => row.title !== null,
        sql: 'title IS NOT NULL',
      };
      const small: SqlExpectation<'pin'> = {
        name: 'few_followers',
        description: 'follower_count under 1000',
        policy: 'warn',
        maxFailureRate: 0,
        check: (row) => row.follower_count === null || row.follower_count < 1000,
        sql: 'follower_count IS NULL OR follower_count < 1000',
      };
      const gates = [...DEFAULT_GATES.pin, titled, small];
      const lines = [...drawEvents({ seed: 'custom-gates', count: 3000 })].map((e) =>
        JSON.stringify(e.pin),
      );
      const outcome = await assertAgree('pin', oneFile(lines), gates);
      assert.ok(outcome.result.gateState.failed[4]! > 0, 'some titles are placeholders');
      assert.ok(outcome.result.gateState.failed[5]! > 0, 'some counts are large');
      await assert.rejects(
        sqlOutcome('pin', oneFile(lines), [...DEFAULT_GATES.pin, { ...titled, sql: undefined }]),
        /gate title_present of pin has no SQL twin/,
      );
    });
  });
});
