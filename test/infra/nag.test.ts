import type { PolicyValidationPluginReport } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACKNOWLEDGMENT_METADATA_KEY } from '../../lib/nag.js';
import { type SynthesizedOffpeak, synthOffpeak } from './synth.js';

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: unknown;
}

/** Every acknowledgment recorded in the construct tree (CDK's `Validations.acknowledge` metadata). */
function acknowledgments(root: IConstruct): Acknowledgment[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === ACKNOWLEDGMENT_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

function describeViolations(report: PolicyValidationPluginReport): string {
  return report.violations
    .map(
      (v) =>
        `${v.severity} ${v.ruleName}\n    ${v.violatingResources.map((r) => r.constructPath).join('\n    ')}`,
    )
    .join('\n');
}

describe('cdk-nag AwsSolutions on the ready app', () => {
  // Prepare: synthesize once, then run the rule pack on the construct tree.
  let synth: SynthesizedOffpeak;
  let report: PolicyValidationPluginReport;
  beforeAll(() => {
    synth = synthOffpeak();
    report = new AwsSolutionsChecks().validateScope(synth.app);
  });

  it('leaves zero unacknowledged findings (errors and warnings)', () => {
    expect(report.violations, describeViolations(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgment a reason', () => {
    const acks = acknowledgments(synth.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(typeof ack.reason, `${ack.path} ${ack.id}`).toBe('string');
      expect((ack.reason as string).length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(40);
    }
  });

  it('acknowledges one finding at a time, only for the expected rules', () => {
    // Only cdk-nag's: CDK itself acknowledges some of its built-in template checks (CloudFormation-Validate::…).
    const ids = new Set(
      acknowledgments(synth.app)
        .map((a) => a.id)
        .filter((id) => id.startsWith('AwsSolutions-')),
    );
    expect(ids.size).toBeGreaterThan(0);
    for (const id of ids) {
      // IAM5 acknowledgments name a single finding; no rule is acknowledged wholesale.
      expect(id, id).toMatch(/^AwsSolutions-(IAM5\[(Resource|Action)::.+\]|S1|SQS3|APIG4)$/);
    }
    expect([...ids].filter((id) => id.startsWith('AwsSolutions-IAM5[Action::'))).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions with imported VPC, KMS bucket and private ECR images', () => {
  it('leaves zero unacknowledged findings', () => {
    const { app } = synthOffpeak({
      props: (stack) => ({
        vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
          vpcId: 'vpc-12345678',
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
          privateSubnetIds: ['subnet-11111111', 'subnet-22222222'],
        }),
        bucketEncryptionKey: new kms.Key(stack, 'BucketKey', { enableKeyRotation: true }),
        alarmEmails: ['ops@example.com'],
        extraJobWritePrefixes: {},
        // Every trigger kind, on the custom job type (the example triggers name the example job types).
        triggers: {
          schedules: [{ id: 'every-hour', jobType: 'private-image', expression: 'rate(1 hour)' }],
          uploads: [{ id: 'csv-in', jobType: 'private-image', prefix: 'csv/', suffixes: ['.csv'] }],
          hooks: [
            {
              id: 'signed',
              provider: 'generic-hmac',
              jobType: 'private-image',
              secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf',
              timestampHeader: 'X-Timestamp',
            },
          ],
          queues: [
            {
              id: 'orders',
              jobType: 'private-image',
              queueArn: 'arn:aws:sqs:eu-west-1:123456789012:orders',
              encryptionKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
            },
          ],
          events: [
            {
              id: 'on-ec2',
              jobType: 'private-image',
              bus: 'default',
              pattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
            },
          ],
        },
        jobTypes: [
          {
            name: 'private-image',
            image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker:1.2.3',
            command: ['worker'],
            secrets: {
              DB_PASSWORD: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::',
            },
          },
        ],
      }),
    });
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations, describeViolations(report)).toEqual([]);
  });
});
