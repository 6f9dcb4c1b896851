import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Offpeak, type OffpeakProps } from '../../lib/offpeak.js';
import { readyAppProps } from '../../lib/ready-app.js';

/** What a synthesized test app exposes. */
export interface SynthesizedOffpeak {
  readonly app: App;
  readonly stack: Stack;
  readonly offpeak: Offpeak;
  readonly template: Template;
}

export interface SynthOptions {
  /**
   * Run esbuild for the Lambda assets. Off by default: template assertions and cdk-nag do not need the code, and
   * bundling five Lambdas is most of a synth's time.
   * @default false
   */
  readonly bundle?: boolean;
  /** Props on top of the ready app's, built in the test stack (for imported resources). Disables memoization. */
  readonly props?: (stack: Stack) => Partial<OffpeakProps>;
}

/** The props of the ready app (bin/offpeak.ts). */
export const appProps: OffpeakProps = readyAppProps;

/** The feature flags of cdk.json, so tests synthesize what `cdk deploy` deploys. */
export const cdkJsonContext: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

const memo = new Map<boolean, SynthesizedOffpeak>();

/**
 * Synthesizes an app with one `Offpeak` stack like bin/offpeak.ts does. Memoized per test file (vitest isolates
 * files) for the default props: synthesis is the slow part of every infra test.
 */
export function synthOffpeak(options: SynthOptions = {}): SynthesizedOffpeak {
  const bundle = options.bundle ?? false;
  const cached = options.props ? undefined : memo.get(bundle);
  if (cached) return cached;
  const app = new App({
    // An empty bundling-stacks list skips asset bundling (CDK stages a placeholder instead).
    context: { ...cdkJsonContext, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new Stack(app, 'Offpeak', { env: { account: '123456789012', region: 'eu-west-1' } });
  const offpeak = new Offpeak(stack, 'Batch', { ...appProps, ...options.props?.(stack) });
  const result = { app, stack, offpeak, template: Template.fromStack(stack) };
  if (!options.props) memo.set(bundle, result);
  return result;
}

/** A CloudFormation resource as the template holds it. */
export interface CfnResourceJson {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped; tests navigate it freely
  readonly Properties: any;
  readonly DeletionPolicy?: string;
}

/** Every resource of a type, as `[logicalId, resource]`. */
export function resourcesOf(template: Template, type: string): [string, CfnResourceJson][] {
  return Object.entries(template.findResources(type)) as [string, CfnResourceJson][];
}

/** The logical id a `Ref` / `Fn::GetAtt` points at, or undefined. */
export function refTarget(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0] as string;
  }
  return undefined;
}
