import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared real AWS payload samples (../shared/fixtures/aws-events beside the repository). */
export const fixturesDir = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/aws-events',
);

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}
