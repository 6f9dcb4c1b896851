/** One benchmark of `npm run bench`: a module under bench/ exporting one of these, listed in bench/index.ts. */
export interface Benchmark {
  /** Selects it on the command line (`npm run bench -- dispatcher`). */
  readonly name: string;
  readonly description: string;
  /** Runs and prints its own report; throws (or returns false) when a result is out of bounds. */
  run(log: (line?: string) => void): Promise<boolean | undefined>;
}

/**
 * Runs the benchmarks named in `args` (all when none is named), one after the other, and sets a non-zero exit code
 * when one fails. Performance is measured here, never in timed tests (BRIEF), and reported as ratios against a
 * baseline measured in the same run.
 */
export async function runBenchmarks(
  benchmarks: readonly Benchmark[],
  args: readonly string[],
): Promise<void> {
  const unknown = args.filter((name) => !benchmarks.some((b) => b.name === name));
  if (unknown.length > 0) {
    console.error(
      `Unknown benchmarks: ${unknown.join(', ')}. Known: ${benchmarks.map((b) => b.name).join(', ')}`,
    );
    process.exitCode = 2;
    return;
  }
  const selected = args.length > 0 ? benchmarks.filter((b) => args.includes(b.name)) : benchmarks;
  for (const benchmark of selected) {
    console.log(`\n== ${benchmark.name}: ${benchmark.description}\n`);
    const started = performance.now();
    try {
      const ok = await benchmark.run((line = '') => console.log(line));
      if (ok === false) process.exitCode = 1;
    } catch (error) {
      console.error(`${benchmark.name} failed:`, error);
      process.exitCode = 1;
    }
    console.log(`\n(${benchmark.name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
}
