import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared real AWS payload samples (`shared/fixtures/aws-events` beside the repository): the nearest such folder
 * above this file, so the suite finds them from the main checkout and from worktrees nested deeper alike.
 */
export const fixturesDir = findFixtures(dirname(fileURLToPath(import.meta.url)));

function findFixtures(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared/fixtures/aws-events');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(start, '../../../../shared/fixtures/aws-events');
  }
}

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}
