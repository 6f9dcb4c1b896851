/**
 * `npm run build:worker`: bundles the worker runtime (src/worker/main.ts) into one ESM file with its AWS SDK
 * dependencies, for container images of chunked and packed job types:
 *
 *   COPY dist/worker.mjs /opt/offpeak/worker.mjs      # the job type's default workerCommand runs it with node
 */
import { build } from 'esbuild';

/** Bundles the worker to `outfile`. @returns the output path. */
export async function buildWorker(outfile = 'dist/worker.mjs'): Promise<string> {
  await build({
    entryPoints: [new URL('../src/worker/main.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    sourcemap: 'inline',
    logLevel: 'warning',
    // Some SDK dependencies are CommonJS and call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildWorker(process.argv[2]);
  console.log(`worker bundled to ${out}`);
}
