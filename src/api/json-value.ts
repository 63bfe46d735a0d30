import { InexactNumber } from './json-numbers';

/**
 * Checks a decoded JSON value before it is re-serialised for Kafka. JSON.parse accepts any
 * nesting, but JSON.stringify recurses and would overflow the stack on a hostile body; integers
 * beyond 2^53 were already rounded by JSON.parse, and any other number a float cannot hold
 * exactly arrives as an InexactNumber (request-body.ts), so storing either would alter the
 * record. Returns the problem (with the path inside the value) or undefined. Iterative on purpose.
 */
export const MAX_JSON_DEPTH = 64;

export function jsonValueProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  // Hot path (every posted record): walk without building paths; only a failing value pays
  // for a second walk that names where the problem is.
  return isPlainSafe(value, maxDepth) ? undefined : describeProblem(value, maxDepth);
}

function isPlainSafe(value: unknown, maxDepth: number): boolean {
  const stack: unknown[] = [value];
  const depths: number[] = [0];
  while (stack.length > 0) {
    const v = stack.pop();
    const depth = depths.pop()!;
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return false;
    } else if (v !== null && typeof v === 'object') {
      if (v instanceof InexactNumber || depth >= maxDepth) return false;
      const children = Array.isArray(v) ? (v as unknown[]) : Object.values(v);
      for (const child of children) {
        if (child !== null && typeof child === 'object') {
          stack.push(child);
          depths.push(depth + 1);
        } else if (
          typeof child === 'number' &&
          Number.isInteger(child) &&
          !Number.isSafeInteger(child)
        ) {
          return false;
        }
      }
    }
  }
  return true;
}

function describeProblem(value: unknown, maxDepth: number): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const at = item.path === '' ? 'value' : `value${item.path}`;
    if (typeof item.value === 'number' && Number.isInteger(item.value)) {
      if (!Number.isSafeInteger(item.value)) {
        return `${at}: integer beyond ±(2^53-1) cannot be stored exactly; send it as a string`;
      }
    } else if (item.value instanceof InexactNumber) {
      return `${at}: ${item.value.reason}`;
    } else if (item.value !== null && typeof item.value === 'object') {
      if (item.depth >= maxDepth) return `${at}: nested deeper than ${maxDepth} levels`;
      const entries = Array.isArray(item.value)
        ? item.value.map((v, i) => [String(i), v] as const)
        : Object.entries(item.value);
      for (const [k, v] of entries) {
        stack.push({ value: v, path: `${item.path}.${k}`, depth: item.depth + 1 });
      }
    }
  }
  return undefined;
}
