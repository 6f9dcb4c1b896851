#!/usr/bin/env node
import { App, Stack, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { exampleJobTypes } from '../config/job-types.js';
import { Offpeak } from '../lib/offpeak.js';

/**
 * The ready Offpeak app (`npx cdk deploy`): one stack with the example job types. No lookups, so `cdk synth`
 * needs no credentials. `-c nag=true` runs the cdk-nag AWS Solutions checks during synthesis.
 */
const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
const stack = new Stack(app, 'Offpeak', {
  description: 'Offpeak: serverless batch jobs on AWS Batch',
  ...(account || region ? { env: { account, region } } : {}),
});

new Offpeak(stack, 'Batch', {
  jobTypes: exampleJobTypes,
  // The example backup job uploads its archive under backups/.
  extraJobWritePrefixes: { 'nightly-backup': ['backups/'] },
});

Tags.of(app).add('project', 'offpeak');
Tags.of(app).add('managed-by', 'cdk');

const nag = app.node.tryGetContext('nag');
if (nag === true || nag === 'true') {
  // cdk-nag 3 is a CDK policy-validation plugin: findings are reported (and fail synth when errors) at synthesis.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
