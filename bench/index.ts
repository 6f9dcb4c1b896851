/**
 * `npm run bench`: performance is measured here, never in timed tests, and reported as ratios against a baseline
 * measured in the same run. Each module exports `run()` and prints its own report; `npm run bench -- <name>` runs
 * one.
 */
const benchmarks: Record<string, () => Promise<{ run: () => Promise<unknown> }>> = {
  chunking: () => import('./chunking.js'),
};

const only = process.argv.slice(2);
for (const [name, load] of Object.entries(benchmarks)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await (await load()).run();
}
