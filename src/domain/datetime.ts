/**
 * Source datetimes. Raw records carry `YYYY-MM-DD HH:MM:SS` (the seed's form) or the ISO `T`
 * form, optionally with fractional seconds and a `Z` / `±HH:MM` offset; a datetime without an
 * offset is UTC. Clean rows carry UTC ISO-8601 strings `YYYY-MM-DDTHH:MM:SSZ` (milliseconds are
 * appended only when they are not zero), which sort and compare as text.
 */

const SOURCE_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch milliseconds (UTC) of a source datetime, or undefined when it is not a valid one. */
export function parseSourceDatetime(text: string): number | undefined {
  const match = SOURCE_DATETIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
  // Date.UTC maps years 0..99 to 1900..1999, so set the (already validated) year separately.
  const wall = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  wall.setUTCFullYear(year);
  const offset = zoneOffsetMinutes(zone);
  if (offset === undefined) return undefined;
  return wall.getTime() - offset * 60_000;
}

export function isSourceDatetime(text: string): boolean {
  return parseSourceDatetime(text) !== undefined;
}

/** `YYYY-MM-DDTHH:MM:SSZ` (or `...SS.mmmZ` when milliseconds are not zero). */
export function formatUtcIso(epochMillis: number): string {
  const date = new Date(epochMillis);
  const base =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`;
  const millis = date.getUTCMilliseconds();
  return millis === 0 ? `${base}Z` : `${base}.${pad(millis, 3)}Z`;
}

/** The seed's posting form `YYYY-MM-DD HH:MM:SS` (UTC; milliseconds are dropped). */
export function formatSourceDatetime(epochMillis: number): string {
  const date = new Date(epochMillis);
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    ` ${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`
  );
}

/** Source datetime → clean UTC ISO string; throws on an invalid datetime. */
export function toCleanTimestamp(text: string): string {
  const millis = parseSourceDatetime(text);
  if (millis === undefined) {
    throw new Error(`invalid datetime ${JSON.stringify(text)}: expected YYYY-MM-DD HH:MM:SS`);
  }
  return formatUtcIso(millis);
}

function zoneOffsetMinutes(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
