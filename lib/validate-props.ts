import { Token } from 'aws-cdk-lib';
import { buildCatalogData, type CatalogData, type CatalogIssue } from '../src/core/catalog.js';
import { ValidationError } from '../src/core/errors.js';
import { type JobTypeSpec, toJobTypeSpec } from '../src/core/job-type.js';
import { defaultQueues } from '../src/core/queue-spec.js';
import { fargateResourceIssue, parseSecretArn } from './job-type-resources.js';
import type { OffpeakProps } from './offpeak.js';

/** One problem with the props of the `Offpeak` construct, named by its path in the props. */
export type PropsIssue = CatalogIssue;

/** Error code of the {@link ValidationError} thrown for invalid `Offpeak` props. */
export const INVALID_PROPS = 'InvalidOffpeakProps';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PREFIX = /^[A-Za-z0-9!_.'()-]+(\/[A-Za-z0-9!_.'()-]+)*\/$/;

/**
 * Validates the props of the `Offpeak` construct and builds its catalog, reporting every problem at once (catalog
 * issues, Fargate sizes, secret ARNs, numeric ranges, unknown names).
 *
 * @throws ValidationError `InvalidOffpeakProps`, `details` listing each {@link PropsIssue}.
 */
export function validateOffpeakProps(props: OffpeakProps): CatalogData {
  const issues: PropsIssue[] = [];
  let catalog: CatalogData | undefined;
  try {
    catalog = buildCatalogData({
      jobTypes: props.jobTypes,
      queues: props.queues,
      resources: props.resources,
      triggers: props.triggers,
    });
  } catch (error) {
    if (error instanceof ValidationError && Array.isArray(error.details))
      issues.push(...(error.details as PropsIssue[]));
    else throw error;
  }

  const specs = parsableSpecs(props);
  const maxVcpus = props.maxVcpus ?? 256;
  for (const [index, spec] of specs) {
    const path = `jobTypes[${index}] (${spec.name})`;
    const sizing = fargateResourceIssue(spec.vcpu, spec.memoryMiB, spec.gpu);
    if (sizing) issues.push({ path, message: sizing });
    if (!Token.isUnresolved(maxVcpus) && spec.vcpu > maxVcpus) {
      issues.push({
        path,
        message: `needs ${spec.vcpu} vCPU but maxVcpus is ${maxVcpus}: it could never run`,
      });
    }
    for (const [name, arn] of Object.entries(spec.secrets)) {
      if (!parseSecretArn(arn)) {
        issues.push({ path: `${path}.secrets.${name}`, message: `not a Secrets Manager secret ARN: ${arn}` });
      }
    }
    for (const name of Object.keys({ ...spec.environment, ...spec.secrets })) {
      if (name.startsWith('AWS_BATCH')) {
        issues.push({
          path: `${path}.environment.${name}`,
          message: 'names starting with AWS_BATCH are reserved by Batch',
        });
      }
    }
  }

  integerIn(issues, 'maxVcpus', props.maxVcpus, 1, 100_000);
  integerIn(issues, 'infrastructureAttempts', props.infrastructureAttempts, 1, 10);
  integerIn(issues, 'maxReceiveCount', props.maxReceiveCount, 1, 1000);
  if (props.outputRetention && !Token.isUnresolved(props.outputRetention.toSeconds())) {
    const days = props.outputRetention.toDays({ integral: false });
    if (days < 1 || !Number.isInteger(days)) {
      issues.push({ path: 'outputRetention', message: 'must be a whole number of days, at least 1' });
    }
  }
  // Reliability settings (issue 6), checked like the settings Lambdas parse from OFFPEAK_SETTINGS.
  if (props.idempotencyRetention && !Token.isUnresolved(props.idempotencyRetention.toSeconds())) {
    const hours = props.idempotencyRetention.toHours({ integral: false });
    if (hours < 1 || hours > 24 * 365) {
      issues.push({ path: 'idempotencyRetention', message: 'must be from 1 hour to 365 days' });
    }
  }
  if (props.runnableTimeout && !Token.isUnresolved(props.runnableTimeout.toSeconds())) {
    const minutes = props.runnableTimeout.toMinutes({ integral: false });
    if (minutes < 1 || minutes > 14 * 24 * 60) {
      issues.push({ path: 'runnableTimeout', message: 'must be from 1 minute to 14 days' });
    }
  }
  if (props.runnableTimeoutAction !== undefined && !['alert', 'fail'].includes(props.runnableTimeoutAction)) {
    issues.push({
      path: 'runnableTimeoutAction',
      message: `must be "alert" or "fail", got "${props.runnableTimeoutAction}"`,
    });
  }
  (props.alarmEmails ?? []).forEach((email, i) => {
    if (!Token.isUnresolved(email) && !EMAIL.test(email)) {
      issues.push({ path: `alarmEmails[${i}]`, message: `not an email address: ${email}` });
    }
  });

  const queueNames = new Set((props.queues ?? defaultQueues).map((q) => q.name));
  for (const name of props.onDemandFirstQueues ?? []) {
    if (!queueNames.has(name)) {
      issues.push({ path: 'onDemandFirstQueues', message: `unknown queue "${name}"` });
    }
  }
  const typeNames = new Set([...specs.values()].map((s) => s.name));
  for (const [type, prefixes] of Object.entries(props.extraJobWritePrefixes ?? {})) {
    if (!typeNames.has(type))
      issues.push({ path: `extraJobWritePrefixes.${type}`, message: `unknown job type "${type}"` });
    for (const prefix of prefixes) {
      if (!PREFIX.test(prefix)) {
        issues.push({
          path: `extraJobWritePrefixes.${type}`,
          message: `"${prefix}" must be a key prefix like "backups/" (no leading slash, no wildcards, ending in "/")`,
        });
      }
    }
  }
  if (props.bucket && props.bucketEncryptionKey) {
    issues.push({
      path: 'bucketEncryptionKey',
      message: 'only applies to a bucket Offpeak creates; omit it with `bucket`',
    });
  }

  if (issues.length > 0 || !catalog) {
    throw new ValidationError(
      INVALID_PROPS,
      `Invalid Offpeak props:\n${issues.map((i) => `- ${i.path}: ${i.message}`).join('\n')}`,
      { details: issues },
    );
  }
  return catalog;
}

/** The job types that parse on their own (the others are already reported by the catalog), by index. */
function parsableSpecs(props: OffpeakProps): Map<number, JobTypeSpec> {
  const specs = new Map<number, JobTypeSpec>();
  props.jobTypes.forEach((definition, index) => {
    try {
      specs.set(index, toJobTypeSpec(definition));
    } catch {
      // reported by buildCatalogData
    }
  });
  return specs;
}

function integerIn(
  issues: PropsIssue[],
  path: string,
  value: number | undefined,
  min: number,
  max: number,
): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    issues.push({ path, message: `must be an integer from ${min} to ${max}, got ${value}` });
  }
}
