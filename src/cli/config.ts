import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError, ExitCode } from './exit-codes.js';
import { regionOfApiUrl } from './signer.js';

/** The local service's address (`npm start`, `offpeak dev`). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8787';

/** `~/.config/offpeak/config.json` (or `$OFFPEAK_CONFIG`): defaults for every command. */
export const ConfigFileSchema = z
  .object({
    /** API base URL (the stack output `ApiUrl`). */
    api: z.url().optional(),
    /** AWS region for signing (derived from an execute-api URL when absent). */
    region: z.string().min(1).optional(),
    /** AWS profile of the credential chain. */
    profile: z.string().min(1).optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** Where the CLI talks to and how it signs. */
export interface ResolvedConfig {
  readonly api: URL;
  /** Sign requests with SigV4 (every non-loopback API; the local service needs no auth). */
  readonly sign: boolean;
  readonly region?: string;
  readonly profile?: string;
  /** Where each setting came from, for `offpeak config` and error messages. */
  readonly source: 'flag' | 'env' | 'config' | 'default';
}

export interface ConfigInputs {
  readonly api?: string;
  readonly region?: string;
  readonly profile?: string;
  /** Sign even a loopback URL (an SSH tunnel or port-forward to a deployed API). @default false */
  readonly forceSign?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The API to talk to, first found: `--api`, `OFFPEAK_API_URL`, the config file, the local service. Region:
 * `--region`, the execute-api URL, `AWS_REGION`/`AWS_DEFAULT_REGION`, the config file.
 */
export async function resolveConfig(inputs: ConfigInputs): Promise<ResolvedConfig> {
  const env = inputs.env ?? process.env;
  const file = await readConfigFile(env);
  const [raw, source] =
    inputs.api !== undefined
      ? [inputs.api, 'flag' as const]
      : env.OFFPEAK_API_URL
        ? [env.OFFPEAK_API_URL, 'env' as const]
        : file?.api
          ? [file.api, 'config' as const]
          : [DEFAULT_API_URL, 'default' as const];
  let api: URL;
  try {
    api = new URL(raw);
    if (api.protocol !== 'http:' && api.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new CliError(ExitCode.Usage, `"${raw}" is not an http(s) URL (from ${describeSource(source)})`);
  }
  const region =
    inputs.region ?? regionOfApiUrl(api) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? file?.region;
  const profile = inputs.profile ?? env.AWS_PROFILE ?? file?.profile;
  return {
    api,
    sign: inputs.forceSign === true || !isLoopback(api),
    ...(region ? { region } : {}),
    ...(profile ? { profile } : {}),
    source,
  };
}

/** True for localhost addresses: the local service, which needs no signature. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.OFFPEAK_CONFIG ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'offpeak', 'config.json')
  );
}

async function readConfigFile(env: NodeJS.ProcessEnv): Promise<ConfigFile | undefined> {
  const path = configFilePath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(ExitCode.Usage, `Cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CliError(ExitCode.Usage, `The config file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = ConfigFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new CliError(
      ExitCode.Usage,
      `The config file ${path} is invalid: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

function describeSource(source: ResolvedConfig['source']): string {
  return { flag: '--api', env: 'OFFPEAK_API_URL', config: 'the config file', default: 'the default' }[source];
}
