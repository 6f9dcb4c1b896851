import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hello } from '../../config/job-types.js';
import { parseEcrImage, parseSecretArn } from '../../lib/job-type-resources.js';
import { Offpeak, type OffpeakProps } from '../../lib/offpeak.js';
import { INVALID_PROPS } from '../../lib/validate-props.js';
import { ValidationError } from '../../src/core/errors.js';
import { defineJobType } from '../../src/core/job-type.js';
import { resourcesOf, synthOffpeak } from './synth.js';

/** Constructs Offpeak with these props and returns the validation error it throws. */
function validationErrorOf(props: OffpeakProps): ValidationError {
  const stack = new Stack(new App(), 'Invalid');
  try {
    new Offpeak(stack, 'Batch', props);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('props validation', () => {
  it('reports every problem at once, each named by its path', () => {
    // Prepare: one mistake of each kind.
    const props: OffpeakProps = {
      jobTypes: [
        hello,
        hello, // duplicate name
        defineJobType({ name: 'big', image: 'busybox', command: ['true'], vcpu: 3, queue: 'nope' }),
        defineJobType({ name: 'gpu', image: 'busybox', command: ['true'], gpu: 1 }),
        defineJobType({
          name: 'leaky',
          image: 'busybox',
          command: ['true'],
          secrets: { TOKEN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/token' },
          environment: { AWS_BATCH_X: '1' },
        }),
        defineJobType({ name: 'Bad Name', image: '', command: [] }),
      ],
      queues: [
        { name: 'high', batchPriority: 300 },
        { name: 'normal', batchPriority: 300 }, // duplicate priority
      ],
      maxVcpus: 0,
      maxReceiveCount: 0,
      infrastructureAttempts: 11,
      alarmEmails: ['not-an-email'],
      onDemandFirstQueues: ['urgent'],
      extraJobWritePrefixes: { ghost: ['/abs/*'] },
      outputRetention: Duration.hours(12),
      idempotencyRetention: Duration.minutes(10),
      runnableTimeout: Duration.seconds(10),
      runnableTimeoutAction: 'panic' as 'fail',
    };

    // Act
    const error = validationErrorOf(props);

    // Assess
    expect(error.code).toBe(INVALID_PROPS);
    const paths = (error.details as { path: string }[]).map((d) => d.path);
    const expected = [
      'jobTypes.hello', // duplicate
      'jobTypes[5] (Bad Name)',
      'queues.normal', // priority 300 also used by high
      'jobTypes.big.queue',
      'jobTypes[2] (big)', // 3 vCPU is not a Fargate size
      'jobTypes[3] (gpu)',
      'jobTypes[4] (leaky).secrets.TOKEN',
      'jobTypes[4] (leaky).environment.AWS_BATCH_X',
      'maxVcpus',
      'maxReceiveCount',
      'infrastructureAttempts',
      'alarmEmails[0]',
      'onDemandFirstQueues',
      'extraJobWritePrefixes.ghost',
      'outputRetention',
      'idempotencyRetention',
      'runnableTimeout',
      'runnableTimeoutAction',
    ];
    for (const path of expected) expect(paths, path).toContain(path);
    for (const path of expected) expect(error.message).toContain(path);
  });

  it('accepts the example job types', () => {
    expect(() => synthOffpeak()).not.toThrow();
  });
});

describe('existing resources and options', () => {
  it('uses an existing VPC, table and bucket instead of creating them', () => {
    const { template } = synthOffpeak({
      props: (stack) => ({
        vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
          vpcId: 'vpc-12345678',
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
          privateSubnetIds: ['subnet-11111111', 'subnet-22222222'],
        }),
        table: dynamodb.Table.fromTableName(stack, 'Table', 'existing-jobs'),
        bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'existing-bucket'),
        alarmEmails: ['ops@example.com'],
        eventArchiveRetention: Duration.days(30),
        maxVcpus: 64,
        idempotencyRetention: Duration.hours(48),
        runnableTimeout: Duration.minutes(30),
        runnableTimeoutAction: 'fail',
      }),
    });
    // Reliability settings reach every Lambda as OFFPEAK_SETTINGS, in the form the AWS deps factory parses.
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function').filter(
      ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'offpeak',
    )) {
      expect(JSON.parse(fn.Properties.Environment.Variables.OFFPEAK_SETTINGS)).toEqual({
        idempotencyRetentionHours: 48,
        runnableTimeoutMs: 1_800_000,
        runnableTimeoutAction: 'fail',
      });
    }
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    for (const [, env] of resourcesOf(template, 'AWS::Batch::ComputeEnvironment')) {
      expect(env.Properties.ComputeResources).toMatchObject({
        MaxvCpus: 64,
        Subnets: ['subnet-11111111', 'subnet-22222222'],
      });
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ OFFPEAK_TABLE: 'existing-jobs', OFFPEAK_BUCKET: 'existing-bucket' }),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 30 });
  });

  it('pulls private ECR images and injects Secrets Manager secrets through the execution role', () => {
    const { template } = synthOffpeak({
      props: () => ({
        extraJobWritePrefixes: {},
        triggers: {},
        jobTypes: [
          defineJobType({
            name: 'worker',
            image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker:1.2.3',
            command: ['worker'],
            params: z.object({}),
            secrets: {
              DB_PASSWORD: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::',
            },
          }),
        ],
      }),
    });
    const [, definition] = resourcesOf(template, 'AWS::Batch::JobDefinition')[0]!;
    expect(definition.Properties.ContainerProperties.Secrets).toEqual([
      {
        Name: 'DB_PASSWORD',
        ValueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::',
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          // arrayWith matches in order: the image grant comes before the secret's.
          Match.objectLike({ Action: Match.arrayWith(['ecr:BatchGetImage']) }),
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
          }),
        ]),
      },
    });
  });
});

describe('job type resource parsing', () => {
  it.each([
    ['public.ecr.aws/docker/library/busybox:stable', undefined],
    ['busybox', undefined],
    [
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker:1.2.3',
      { account: '123456789012', region: 'eu-west-1', repositoryName: 'team/worker', tagOrDigest: '1.2.3' },
    ],
    [
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/app',
      { account: '123456789012', region: 'us-east-1', repositoryName: 'app', tagOrDigest: 'latest' },
    ],
  ])('parseEcrImage(%s)', (image, expected) => {
    expect(parseEcrImage(image)).toEqual(expected);
  });

  it.each([
    [
      'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf',
      { secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf', complete: true },
    ],
    [
      'arn:aws:secretsmanager:eu-west-1:1:secret:db',
      { secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db', complete: false },
    ],
    [
      'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf:user:AWSCURRENT:',
      {
        secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf',
        complete: true,
        jsonKey: 'user',
        versionStage: 'AWSCURRENT',
      },
    ],
    ['arn:aws:ssm:eu-west-1:1:parameter/token', undefined],
  ])('parseSecretArn(%s)', (arn, expected) => {
    expect(parseSecretArn(arn)).toEqual(expected);
  });
});
