/**
 * Query rows as a small aligned plain-text table for a terminal (`pinpipe report --print`).
 * Pure: no I/O. Widths count code points, so accented country names line up; East Asian wide
 * characters and emoji can still be off by a column, which is acceptable for a quick look.
 */

/** `null` is shown as `null`, as in the HTML report; a missing column is blank. */
export function formatCell(value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return 'null';
  if (typeof value === 'string') return escapeControls(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return escapeControls(JSON.stringify(value));
}

/**
 * Header, a dashed rule, then one line per row; two spaces between columns. A column whose
 * values are all numbers (nulls aside) is right-aligned so digits line up. No trailing spaces.
 */
export function formatTextTable(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, unknown>>[],
): string {
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const headers = columns.map(escapeControls);
  const widths = columns.map((_, i) =>
    Math.max(width(headers[i] ?? ''), ...cells.map((line) => width(line[i] ?? ''))),
  );
  const numeric = columns.map((column) => {
    const values = rows.map((row) => row[column]).filter((v) => v !== null && v !== undefined);
    return values.length > 0 && values.every((v) => typeof v === 'number');
  });
  const render = (line: readonly string[]) =>
    line
      .map((text, i) => pad(text, widths[i] ?? 0, numeric[i] ?? false))
      .join('  ')
      .trimEnd();
  const lines = [render(headers), widths.map((w) => '-'.repeat(w)).join('  ')];
  if (cells.length === 0) lines.push('(no rows)');
  else for (const line of cells) lines.push(render(line));
  return lines.join('\n');
}

function width(text: string): number {
  return Array.from(text).length;
}

function pad(text: string, to: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, to - width(text)));
  return right ? fill + text : text + fill;
}

/** A newline or tab inside user data (poster names) would break the grid: show it escaped. */
function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
