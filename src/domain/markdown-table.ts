/**
 * GitHub-flavoured markdown tables, as the Web UI shows a workflow's current details. Pure, so
 * workflow code may use it.
 */

/** What a cell may hold: text, or a number written as is. */
export type MarkdownCell = string | number;

/** One cell's text on one line: `|` escaped, line breaks flattened to spaces, so the table holds. */
export function markdownCell(value: MarkdownCell): string {
  return String(value)
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ');
}

/**
 * A table with one header row and its `---` delimiter row, then one line per row: `| a | b |`,
 * an empty cell `|  |`, a row shorter than the header padded with empty cells. An empty header
 * (a column of marks) reads `| |`. No rows: the header alone. No trailing newline.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly MarkdownCell[])[],
): string {
  const head = headers.map((h) => (h === '' ? ' ' : ` ${markdownCell(h)} `));
  const line = (row: readonly MarkdownCell[]) => {
    const width = Math.max(headers.length, row.length);
    const cells = Array.from({ length: width }, (_, i) => markdownCell(row[i] ?? ''));
    return `| ${cells.join(' | ')} |`;
  };
  return [
    `|${head.join('|')}|`,
    `|${headers.map(() => ' --- ').join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
