import assert from 'node:assert/strict';
import { markdownCell, markdownTable, type MarkdownCell } from '../../src/domain/markdown-table';

describe('domain/markdown-table', () => {
  describe('markdownTable', () => {
    const cases: Array<{
      name: string;
      headers: string[];
      rows: MarkdownCell[][];
      expected: string[];
    }> = [
      {
        name: 'header, delimiter, one line per row',
        headers: ['table', 'status'],
        rows: [
          ['pin', 'cleaning'],
          ['geo', 'committed 3 rows'],
        ],
        expected: [
          '| table | status |',
          '| --- | --- |',
          '| pin | cleaning |',
          '| geo | committed 3 rows |',
        ],
      },
      {
        name: 'numbers are written as is',
        headers: ['rows in', 'rows out'],
        rows: [[10, 0]],
        expected: ['| rows in | rows out |', '| --- | --- |', '| 10 | 0 |'],
      },
      {
        name: 'no rows: the header alone, no trailing newline',
        headers: ['day', 'status'],
        rows: [],
        expected: ['| day | status |', '| --- | --- |'],
      },
      {
        name: 'an empty header reads | |, an empty cell |  |',
        headers: ['', 'step', 'attempt'],
        rows: [['[ ]', 'Ensure bucket', '']],
        expected: ['| | step | attempt |', '| --- | --- | --- |', '| [ ] | Ensure bucket |  |'],
      },
      {
        name: 'a short row is padded with empty cells',
        headers: ['a', 'b', 'c'],
        rows: [['x']],
        expected: ['| a | b | c |', '| --- | --- | --- |', '| x |  |  |'],
      },
      {
        name: '| is escaped and line breaks flattened in cells and headers',
        headers: ['a|b', 'c'],
        rows: [['x | y', 'one\ntwo\r\nthree\rfour']],
        expected: ['| a\\|b | c |', '| --- | --- |', '| x \\| y | one two three four |'],
      },
      {
        name: 'markdown inside a cell is kept, its | escaped',
        headers: ['result'],
        rows: [['**x|y**']],
        expected: ['| result |', '| --- |', '| **x\\|y** |'],
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(markdownTable(c.headers, c.rows), c.expected.join('\n')));
    }
  });

  describe('markdownCell', () => {
    const cases: Array<[MarkdownCell, string]> = [
      ['plain', 'plain'],
      [42, '42'],
      ['', ''],
      ['a|b|c', 'a\\|b\\|c'],
      ['line\nbreak', 'line break'],
    ];
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () =>
        assert.equal(markdownCell(input), expected));
    }
  });
});
