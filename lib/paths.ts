import { fileURLToPath } from 'node:url';

/** The package root: where package-lock.json and lambdas/ live (the Lambdas are bundled from here). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** The handler file of a Lambda, by name (`lambdas/<name>.ts`). */
export function lambdaEntry(
  name: 'api' | 'intake' | 'dispatcher' | 'tracker' | 'reconciler' | 'dead-letters' | 'monitor' | 'notifier',
): string {
  return `${PROJECT_ROOT}/lambdas/${name}.ts`;
}
