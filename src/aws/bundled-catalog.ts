import { type CatalogData, CatalogDataSchema } from '../core/catalog.js';
import { EnvVars } from './table-schema.js';

/**
 * Replaced at bundle time by esbuild's `define` with the deployed catalog (see lib/ function construct), so job
 * types of any size reach the Lambdas without the 4 KB environment limit.
 */
declare const __OFFPEAK_CATALOG__: unknown;

/** The esbuild `define` key under which the CDK construct bundles the catalog. */
export const CATALOG_DEFINE_KEY = '__OFFPEAK_CATALOG__';

/** The catalog bundled into this Lambda, or (tests, tools) the JSON in `OFFPEAK_CATALOG`. */
export function loadCatalogData(env: NodeJS.ProcessEnv = process.env): CatalogData {
  const raw =
    typeof __OFFPEAK_CATALOG__ !== 'undefined' ? __OFFPEAK_CATALOG__ : parseEnv(env[EnvVars.catalog]);
  if (raw === undefined) {
    throw new Error(
      `No Offpeak catalog: bundle it with define ${CATALOG_DEFINE_KEY} or set ${EnvVars.catalog}`,
    );
  }
  return CatalogDataSchema.parse(raw);
}

function parseEnv(value: string | undefined): unknown {
  return value === undefined ? undefined : JSON.parse(value);
}
