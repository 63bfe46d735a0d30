import '../src/quiet-warnings';
import { runApiBench } from './api-bench';
import { runIngestBench } from './ingest-bench';
import { runNightlyBench } from './nightly-bench';

/** `npm run bench -- <name> [options]`: performance figures, as ratios to a same-run baseline. */
const benches: Record<string, (args: string[]) => Promise<void>> = {
  api: runApiBench,
  ingest: runIngestBench,
  nightly: runNightlyBench,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const selected = name ? [name] : Object.keys(benches);
  for (const n of selected) {
    const bench = benches[n];
    if (!bench) throw new Error(`unknown bench ${n}; known: ${Object.keys(benches).join(', ')}`);
    await bench(args);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
