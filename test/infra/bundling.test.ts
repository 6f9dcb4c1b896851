import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_DEFINE_KEY } from '../../src/aws/bundled-catalog.js';
import { resourcesOf, type SynthesizedOffpeak, synthOffpeak } from './synth.js';

/** The bundled code of each Offpeak Lambda: `{ id, dir }` of its asset in the cloud assembly. */
function lambdaAssets(synth: SynthesizedOffpeak): { id: string; dir: string }[] {
  const assembly = synth.app.synth();
  return resourcesOf(synth.template, 'AWS::Lambda::Function')
    .filter(([, fn]) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'offpeak')
    .map(([id, fn]) => {
      // The default synthesizer names the asset object `<hash>.zip` and stages it as `asset.<hash>/`.
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      return { id, dir: join(assembly.directory, `asset.${hash}`) };
    });
}

describe('Lambda bundles (esbuild, offline)', () => {
  // Prepare: the one synthesis in the infra tier that really bundles the five Lambdas.
  let assets: { id: string; dir: string }[];
  beforeAll(() => {
    assets = lambdaAssets(synthOffpeak({ bundle: true }));
  });

  it('emits a minified ESM bundle with a source map and a require shim for each function', () => {
    expect(assets).toHaveLength(7); // api, intake, dispatcher, tracker, reconciler, dead-letters, monitor
    for (const { id, dir } of assets) {
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(
        code.startsWith("import { createRequire as __offpeakCreateRequire } from 'node:module';"),
        id,
      ).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), id).toBe(true);
      expect(code.length / code.split('\n').length, id).toBeGreaterThan(2000); // minified: very long lines
    }
  });

  it('compiles the catalog in and bundles the AWS SDK instead of relying on the runtime copy', () => {
    for (const { id, dir } of assets) {
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code, id).toContain('"nightly-backup"');
      // The define replaced the identifier; only the key's name remains, in an error message.
      expect(code.match(new RegExp(`\\b${CATALOG_DEFINE_KEY}\\b`, 'g'))?.length ?? 0, id).toBeLessThanOrEqual(
        1,
      );
      expect(code, id).not.toMatch(/from\s*["']@aws-sdk\//);
    }
  });

  it('loads in plain Node (no vite transform) and exports a handler', () => {
    const script = `for (const f of ${JSON.stringify(assets.map((a) => pathToFileURL(join(a.dir, 'index.mjs')).href))})
      console.log(typeof (await import(f)).handler);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(assets.map(() => 'function'));
  });
});
