import assert from 'node:assert/strict';
import { formatCell, formatTextTable } from '../../src/cli/text-table';

describe('cli/text-table', () => {
  const cells: Array<[unknown, string]> = [
    [null, 'null'],
    [undefined, ''],
    [0, '0'],
    [2019, '2019'],
    [1.5, '1.5'],
    [-3, '-3'],
    [true, 'true'],
    ['Côte d’Ivoire', 'Côte d’Ivoire'],
    ['two\nlines\tand\u0001', 'two\\nlines\\tand\\u0001'],
    [[1, 2], '[1,2]'],
  ];
  for (const [value, shown] of cells) {
    it(`formatCell(${JSON.stringify(value) ?? 'undefined'}) is ${JSON.stringify(shown)}`, () =>
      assert.equal(formatCell(value), shown));
  }

  const tables: Array<{
    name: string;
    columns: string[];
    rows: Record<string, unknown>[];
    expected: string[];
  }> = [
    {
      name: 'text left, numbers right, header sets the minimum width',
      columns: ['country', 'category', 'category_count'],
      rows: [
        { country: 'Albania', category: 'art', category_count: 2 },
        { country: 'Chad', category: 'vehicles', category_count: 13 },
      ],
      expected: [
        'country  category  category_count',
        '-------  --------  --------------',
        'Albania  art                    2',
        'Chad     vehicles              13',
      ],
    },
    {
      name: 'a value wider than its header widens the column, the header aligns with it',
      columns: ['age_group', 'n'],
      rows: [
        { age_group: '18-24', n: 2000 },
        { age_group: 'fifty and over', n: 123456 },
      ],
      expected: [
        'age_group            n',
        '--------------  ------',
        '18-24             2000',
        'fifty and over  123456',
      ],
    },
    {
      name: 'nulls do not stop a numeric column from aligning right',
      columns: ['name', 'n'],
      rows: [
        { name: 'a', n: null },
        { name: 'bb', n: 100 },
      ],
      expected: ['name     n', '----  ----', 'a     null', 'bb     100'],
    },
    {
      name: 'a column mixing strings and numbers aligns left',
      columns: ['k', 'v'],
      rows: [
        { k: 'x', v: 'abc' },
        { k: 'y', v: 7 },
      ],
      expected: ['k  v', '-  ---', 'x  abc', 'y  7'],
    },
    {
      name: 'accented letters count as one column each',
      columns: ['country', 'n'],
      rows: [
        { country: 'Réunion', n: 1 },
        { country: 'Chad', n: 22 },
      ],
      expected: ['country   n', '-------  --', 'Réunion   1', 'Chad     22'],
    },
    {
      name: 'a missing column is blank, and no line ends in spaces',
      columns: ['a', 'b'],
      rows: [{ a: 'only a' }, { a: 'x', b: 'y' }],
      expected: ['a       b', '------  -', 'only a', 'x       y'],
    },
    {
      name: 'no rows',
      columns: ['post_year', 'number_users_joined'],
      rows: [],
      expected: ['post_year  number_users_joined', '---------  -------------------', '(no rows)'],
    },
  ];
  for (const t of tables) {
    it(t.name, () => assert.equal(formatTextTable(t.columns, t.rows), t.expected.join('\n')));
  }
});
