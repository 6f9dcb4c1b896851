import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { cdkJsonContext } from './synth.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the ready app (bin/offpeak.ts)', () => {
  // Prepare: run the app the way the CDK CLI does (CDK_OUTDIR, CDK_CONTEXT_JSON), with an account and region set
  // as they are when credentials exist, with cdk-nag on, without credentials and without bundling (tested elsewhere).
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'offpeak-app-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext, nag: 'true', 'aws:cdk:bundling-stacks': [] }),
      CDK_DEFAULT_ACCOUNT: '123456789012',
      CDK_DEFAULT_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const name of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
      delete env[name];
    execFileSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'bin/offpeak.ts'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });

  it('synthesizes with no context lookups, so `cdk synth` needs no credentials', () => {
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    expect(manifest.missing ?? []).toEqual([]);
    expect(manifest.artifacts.Offpeak.environment).toBe('aws://123456789012/eu-west-1');
  });

  it('passes cdk-nag AwsSolutions during synthesis (-c nag=true)', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const nag = (report.pluginReports ?? []).filter(
      (r: { pluginName: string }) => r.pluginName === 'AwsSolutions',
    );
    for (const r of nag) expect(r.violations).toEqual([]);
  });

  it('tags every taggable resource with the project', () => {
    const template = JSON.parse(readFileSync(join(outdir, 'Offpeak.template.json'), 'utf8'));
    const table = Object.values<{ Type: string; Properties: { Tags?: { Key: string; Value: string }[] } }>(
      template.Resources,
    ).find((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(table?.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'project', Value: 'offpeak' }]));
  });
});
