/**
 * `npm run bench [-- name…]`: performance is measured here, never in timed tests, and reported as ratios against a
 * baseline measured in the same run. One module per benchmark; list it here.
 */

import { chunkingBenchmark } from './chunking.js';
import { dispatcherBenchmark } from './dispatcher.js';
import { type Benchmark, runBenchmarks } from './run.js';
import { statsBenchmark } from './stats.js';

const benchmarks: readonly Benchmark[] = [dispatcherBenchmark, chunkingBenchmark, statsBenchmark];

await runBenchmarks(benchmarks, process.argv.slice(2));
