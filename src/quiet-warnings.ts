/**
 * The AWS SDK warns once per process that its 2027 releases will need Node 22. Our entry
 * points run on Node 20 by design (the machine's runtime), so the warning tells an operator
 * nothing they can act on; every other warning still prints. Imported first by entry points.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  if (text.startsWith('NodeVersionSupportWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
};
