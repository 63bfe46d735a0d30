/**
 * A horizontal bar chart as an inline SVG string: labels on the left, one bar per row, the value
 * at the bar's end. Inline SVG needs no script or library, so the report stays self-contained.
 */

import { escapeHtml } from './html-escape';

export interface Bar {
  label: string;
  /** null draws no bar (shown as "null"). */
  value: number | null;
}

export interface BarChartOptions {
  /** Draw at most this many bars: the largest values, in descending order. */
  maxBars: number;
  /** For the accessible name of the chart. */
  title: string;
  /** What the values measure, for tooltips. */
  valueName: string;
}

const WIDTH = 760;
const LABEL_WIDTH = 260;
const VALUE_WIDTH = 96;
const ROW_HEIGHT = 24;
const BAR_HEIGHT = 16;
const PADDING = 8;
const MAX_LABEL_CHARS = 38;

export function renderBarChart(bars: readonly Bar[], options: BarChartOptions): string {
  const name = escapeHtml(options.title);
  if (bars.length === 0) {
    const height = 48;
    return (
      `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" ` +
      `aria-label="${name}: no rows"><text class="empty" x="${WIDTH / 2}" y="28" ` +
      `text-anchor="middle">No rows</text></svg>`
    );
  }
  const shown = bars.length > options.maxBars ? largest(bars, options.maxBars) : bars;
  const max = Math.max(0, ...shown.map((bar) => bar.value ?? 0));
  const area = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const height = PADDING * 2 + shown.length * ROW_HEIGHT;
  const rows = shown.map((bar, index) => {
    const y = PADDING + index * ROW_HEIGHT;
    const textY = y + ROW_HEIGHT / 2 + 4;
    const barY = y + (ROW_HEIGHT - BAR_HEIGHT) / 2;
    const value = bar.value ?? 0;
    // Scale to the largest shown value; a positive value always gets at least a visible sliver.
    const width = max > 0 && value > 0 ? Math.max(1, (value / max) * area) : 0;
    const shownValue = bar.value === null ? 'null' : formatNumber(bar.value);
    return (
      `<g><title>${escapeHtml(`${bar.label}: ${options.valueName} ${shownValue}`)}</title>` +
      `<text class="label" x="${LABEL_WIDTH - 8}" y="${textY}" text-anchor="end">` +
      `${escapeHtml(truncate(bar.label))}</text>` +
      `<rect class="bar" x="${LABEL_WIDTH}" y="${barY}" width="${round(width)}" ` +
      `height="${BAR_HEIGHT}" rx="2"></rect>` +
      `<text class="value" x="${round(LABEL_WIDTH + width + 6)}" y="${textY}">` +
      `${escapeHtml(shownValue)}</text></g>`
    );
  });
  return (
    `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" ` +
    `aria-label="${name}">${rows.join('')}</svg>`
  );
}

/** The `count` largest bars, largest first; equal values keep their input order. */
function largest(bars: readonly Bar[], count: number): Bar[] {
  return bars
    .map((bar, index) => ({ bar, index }))
    .sort((a, b) => (b.bar.value ?? -Infinity) - (a.bar.value ?? -Infinity) || a.index - b.index)
    .slice(0, count)
    .map(({ bar }) => bar);
}

/** Long labels (country · poster name) are cut on code points; the tooltip keeps the full one. */
function truncate(label: string): string {
  const chars = Array.from(label);
  return chars.length <= MAX_LABEL_CHARS
    ? label
    : `${chars.slice(0, MAX_LABEL_CHARS - 1).join('')}…`;
}

/** 1234567 → `1,234,567`: deterministic (no locale), integers only get separators. */
export function formatNumber(value: number): string {
  if (!Number.isInteger(value)) return String(value);
  const digits = String(Math.abs(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return value < 0 ? `-${digits}` : digits;
}

function round(value: number): string {
  return String(Math.round(value * 10) / 10);
}
