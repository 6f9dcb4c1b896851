import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The dashboard's sources (web/) and where the built files go by default (web/dist, gitignored). */
export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DASHBOARD_DIR = join(WEB_DIR, 'dist');

/**
 * Builds the dashboard: one minified ES module bundle (app.js, with its source map), index.html and app.css, into
 * `outDir`. Offline (esbuild only) and fast (well under a second), so `npm start` and the tests build it on the fly.
 *
 * @returns the output directory.
 */
export async function buildDashboard(outDir: string = DEFAULT_DASHBOARD_DIR): Promise<string> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(WEB_DIR, 'src', 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    outfile: join(outDir, 'app.js'),
    logLevel: 'silent',
    legalComments: 'none',
  });
  await Promise.all(
    ['index.html', 'app.css'].map((file) => copyFile(join(WEB_DIR, file), join(outDir, file))),
  );
  return outDir;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const out = await buildDashboard(process.argv[2]);
  process.stdout.write(`dashboard built in ${out}\n`);
}
