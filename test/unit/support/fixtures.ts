import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Real AWS and GitHub payload samples (copied from the project's shared fixtures; test/fixtures/aws-events/README.md
 * says where each comes from and which are derived).
 */
export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/aws-events');

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}
