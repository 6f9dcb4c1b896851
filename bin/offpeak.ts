#!/usr/bin/env node
import { App, Fn, Stack, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Offpeak } from '../lib/offpeak.js';
import { readyAppProps } from '../lib/ready-app.js';

/**
 * The ready Offpeak app (`npx cdk deploy`): one stack with the example job types. No lookups, so `cdk synth`
 * needs no credentials. `-c nag=true` runs the cdk-nag AWS Solutions checks during synthesis.
 */
/**
 * An environment-specific stack resolves its availability zones with a context lookup (credentials needed at synth).
 * Two zones of the deployment region, resolved by CloudFormation, keep `cdk synth` offline either way.
 */
class OffpeakStack extends Stack {
  override get availabilityZones(): string[] {
    return [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }
}

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
const stack = new OffpeakStack(app, 'Offpeak', {
  description: 'Offpeak: serverless batch jobs on AWS Batch',
  ...(account || region ? { env: { account, region } } : {}),
});

new Offpeak(stack, 'Batch', readyAppProps);

Tags.of(app).add('project', 'offpeak');
Tags.of(app).add('managed-by', 'cdk');

const nag = app.node.tryGetContext('nag');
if (nag === true || nag === 'true') {
  // cdk-nag 3 is a CDK policy-validation plugin: findings are reported (and fail synth when errors) at synthesis.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
