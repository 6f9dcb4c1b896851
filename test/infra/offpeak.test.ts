import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogData as catalog } from '../../config/offpeak.config.js';
import { apiRoutes } from '../../lambdas/api.js';
import { BucketPrefixes } from '../../lib/bucket-layout.js';
import { EnvVars, TableIndexes, TableKeys } from '../../src/aws/table-schema.js';
import {
  type CfnResourceJson,
  refTarget,
  resourcesOf,
  type SynthesizedOffpeak,
  synthOffpeak,
} from './synth.js';

// Prepare: one synthesis of the ready app's construct for the whole file.
let synth: SynthesizedOffpeak;
beforeAll(() => {
  synth = synthOffpeak();
});

/** Offpeak's own Lambdas (the CDK-provided custom-resource handler is not one of them). */
function offpeakFunctions(): [string, CfnResourceJson][] {
  return resourcesOf(synth.template, 'AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'offpeak',
  );
}

/** Logical ids of every dead-letter queue: SQS redrive targets and EventBridge target DLQs. */
function deadLetterQueueIds(): Set<string> {
  const ids = new Set<string>();
  for (const [, queue] of resourcesOf(synth.template, 'AWS::SQS::Queue')) {
    const target = refTarget(queue.Properties.RedrivePolicy?.deadLetterTargetArn);
    if (target) ids.add(target);
  }
  for (const [, rule] of resourcesOf(synth.template, 'AWS::Events::Rule')) {
    for (const target of rule.Properties.Targets ?? []) {
      const dlq = refTarget(target.DeadLetterConfig?.Arn);
      if (dlq) ids.add(dlq);
    }
  }
  return ids;
}

describe('queues and dead letters', () => {
  it('gives every non-DLQ SQS queue a redrive policy to its own DLQ (maxReceiveCount 5)', () => {
    const dlqs = deadLetterQueueIds();
    const queues = resourcesOf(synth.template, 'AWS::SQS::Queue').filter(([id]) => !dlqs.has(id));
    expect(queues).toHaveLength(3);
    const targets = queues.map(([, q]) => refTarget(q.Properties.RedrivePolicy?.deadLetterTargetArn));
    expect(queues.map(([, q]) => q.Properties.RedrivePolicy?.maxReceiveCount)).toEqual([5, 5, 5]);
    expect(new Set(targets).size).toBe(3);
  });

  it('keeps dead letters 14 days, encrypts and enforces TLS on every queue', () => {
    for (const id of deadLetterQueueIds()) {
      expect(synth.template.toJSON().Resources[id].Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    }
    for (const [, queue] of resourcesOf(synth.template, 'AWS::SQS::Queue')) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    }
    const policies = resourcesOf(synth.template, 'AWS::SQS::QueuePolicy');
    const tlsOnly = policies.filter(([, p]) =>
      p.Properties.PolicyDocument.Statement.some(
        (s: { Effect: string; Condition?: { Bool?: Record<string, string> } }) =>
          s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      ),
    );
    expect(tlsOnly).toHaveLength(resourcesOf(synth.template, 'AWS::SQS::Queue').length);
  });

  it('alarms on every DLQ as soon as it holds a message, notifying the alarm topic', () => {
    const dlqs = deadLetterQueueIds();
    expect(dlqs.size).toBe(4);
    const alarms = resourcesOf(synth.template, 'AWS::CloudWatch::Alarm');
    const topicId = resourcesOf(synth.template, 'AWS::SNS::Topic')[0]![0];
    for (const dlq of dlqs) {
      const alarm = alarms.find(([, a]) =>
        (a.Properties.Dimensions ?? []).some(
          (d: { Name: string; Value: unknown }) => d.Name === 'QueueName' && refTarget(d.Value) === dlq,
        ),
      );
      expect(alarm, `alarm for ${dlq}`).toBeDefined();
      expect(alarm![1].Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expect(alarm![1].Properties.AlarmActions.map(refTarget)).toContain(topicId);
      expect(alarm![1].Properties.OKActions.map(refTarget)).toContain(topicId);
    }
  });

  it('sets each queue visibility timeout to at least 6x its consumer Lambda timeout', () => {
    const resources = synth.template.toJSON().Resources;
    const mappings = resourcesOf(synth.template, 'AWS::Lambda::EventSourceMapping');
    // intake, dispatch and events queues, and the dead-letter ingester on each of the four DLQs.
    expect(mappings).toHaveLength(7);
    for (const [, mapping] of mappings) {
      const queue = resources[refTarget(mapping.Properties.EventSourceArn)!];
      const fn = resources[refTarget(mapping.Properties.FunctionName)!];
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.BatchSize).toBeGreaterThan(1);
      expect(mapping.Properties.MaximumBatchingWindowInSeconds).toBeGreaterThan(0);
    }
  });
});

describe('Lambdas', () => {
  it('runs every Offpeak function on nodejs24.x arm64 with JSON logs, tracing and source maps', () => {
    const functions = offpeakFunctions();
    expect(functions).toHaveLength(7); // api, intake, dispatcher, tracker, reconciler, dead-letters, monitor
    const logGroups = synth.template.toJSON().Resources;
    for (const [id, fn] of functions) {
      expect(fn.Properties, id).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' },
      });
      expect(fn.Properties.Environment.Variables).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'offpeak',
        POWERTOOLS_METRICS_NAMESPACE: 'Offpeak',
      });
      const logGroup = logGroups[refTarget(fn.Properties.LoggingConfig.LogGroup)!];
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
  });

  it('gives every function the full environment the AWS deps factory validates, and no catalog variable', () => {
    for (const [id, fn] of offpeakFunctions()) {
      const variables = fn.Properties.Environment.Variables;
      for (const name of [
        EnvVars.table,
        EnvVars.bucket,
        EnvVars.intakeQueueUrl,
        EnvVars.dispatchQueueUrl,
        EnvVars.eventsQueueUrl,
        EnvVars.eventBusName,
        EnvVars.jobQueues,
        EnvVars.jobDefinitions,
      ]) {
        expect(variables[name], `${id} ${name}`).toBeDefined();
      }
      // The catalog is compiled into the bundle (esbuild define), never an env var (4 KB limit).
      expect(variables[EnvVars.catalog]).toBeUndefined();
    }
  });

  it('runs the dispatcher and the reconciler every minute', () => {
    const tick = resourcesOf(synth.template, 'AWS::Events::Rule').find(
      ([, r]) => r.Properties.ScheduleExpression === 'rate(1 minute)',
    );
    expect(tick).toBeDefined();
    const targets = tick![1].Properties.Targets.map((t: { Arn: unknown }) => refTarget(t.Arn));
    const { dispatcher, reconciler } = synth.offpeak.functions;
    expect(targets).toEqual(
      expect.arrayContaining([
        synth.stack.getLogicalId(dispatcher.function.node.defaultChild as never),
        synth.stack.getLogicalId(reconciler.function.node.defaultChild as never),
      ]),
    );
  });
});

describe('HTTP API', () => {
  it('authorizes every route with IAM (only signed webhooks may opt out)', () => {
    const routes = resourcesOf(synth.template, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(
      apiRoutes.map((r) => `${r.method} ${r.path}`).sort(),
    );
    for (const [, route] of routes) {
      const declared = apiRoutes.find((r) => `${r.method} ${r.path}` === route.Properties.RouteKey)!;
      expect(route.Properties.AuthorizationType, route.Properties.RouteKey).toBe(
        declared.auth === 'none' ? 'NONE' : 'AWS_IAM',
      );
      if (declared.auth === 'none') expect(declared.path).toMatch(/^\/hooks\//);
    }
  });

  it('writes access logs to a log group with retention', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });
});

describe('AWS Batch', () => {
  it('has one job queue per Offpeak queue with its distinct Batch priority', () => {
    const queues = resourcesOf(synth.template, 'AWS::Batch::JobQueue');
    const priorities = queues.map(([, q]) => q.Properties.Priority);
    expect(new Set(priorities).size).toBe(priorities.length);
    expect(priorities.sort()).toEqual(catalog.queues.map((q) => q.batchPriority).sort());
    for (const queue of catalog.queues) {
      const id = synth.stack.getLogicalId(synth.offpeak.jobQueues[queue.name]!.node.defaultChild as never);
      expect(synth.template.toJSON().Resources[id].Properties.Priority).toBe(queue.batchPriority);
    }
  });

  it('prefers on-demand Fargate for high, Fargate Spot for the other queues', () => {
    const envType = (id: string | undefined) =>
      synth.template.toJSON().Resources[id!].Properties.ComputeResources.Type as string;
    for (const queue of catalog.queues) {
      const id = synth.stack.getLogicalId(synth.offpeak.jobQueues[queue.name]!.node.defaultChild as never);
      const order = synth.template.toJSON().Resources[id].Properties.ComputeEnvironmentOrder;
      const types = [...order]
        .sort((a: { Order: number }, b: { Order: number }) => a.Order - b.Order)
        .map((o: { ComputeEnvironment: unknown }) => envType(refTarget(o.ComputeEnvironment)));
      expect(types).toEqual(
        queue.name === 'high' ? ['FARGATE', 'FARGATE_SPOT'] : ['FARGATE_SPOT', 'FARGATE'],
      );
    }
  });

  it('has one Fargate job definition per job type that retries only infrastructure failures', () => {
    const definitions = resourcesOf(synth.template, 'AWS::Batch::JobDefinition');
    expect(definitions).toHaveLength(catalog.jobTypes.length);
    for (const type of catalog.jobTypes) {
      const id = synth.stack.getLogicalId(
        synth.offpeak.jobDefinitions[type.name]!.node.defaultChild as never,
      );
      const props = synth.template.toJSON().Resources[id].Properties;
      expect(props).toMatchObject({
        PlatformCapabilities: ['FARGATE'],
        PropagateTags: true,
        Timeout: { AttemptDurationSeconds: type.timeoutSeconds },
        ContainerProperties: {
          Image: type.image,
          // Chunked and packed types start the worker runtime in front of their command.
          Command:
            type.chunking || type.packing
              ? [...(type.chunking?.workerCommand ?? type.packing!.workerCommand), '--', ...type.command]
              : type.command,
          FargatePlatformConfiguration: { PlatformVersion: 'LATEST' },
          NetworkConfiguration: { AssignPublicIp: 'DISABLED' },
          LogConfiguration: { LogDriver: 'awslogs' },
          ResourceRequirements: expect.arrayContaining([
            { Type: 'VCPU', Value: String(type.vcpu) },
            { Type: 'MEMORY', Value: String(type.memoryMiB) },
          ]),
        },
      });
      const retry = props.RetryStrategy;
      expect(retry.Attempts).toBeGreaterThanOrEqual(2);
      const rules = retry.EvaluateOnExit as { Action: string; [k: string]: string }[];
      expect(rules.length).toBeLessThanOrEqual(5); // Batch's limit
      expect(rules.at(-1)).toEqual({ Action: 'EXIT', OnExitCode: '*' });
      expect(rules.slice(0, -1).every((r) => r.Action === 'RETRY')).toBe(true);
      const retried = rules.slice(0, -1).map((r) => r.OnStatusReason ?? r.OnReason);
      expect(retried).toEqual(
        expect.arrayContaining([
          'Host EC2*',
          'Your Spot Task was interrupted*',
          'Task failed to start*',
          'CannotPullContainerError*',
        ]),
      );
      const logGroupId = refTarget(props.ContainerProperties.LogConfiguration.Options['awslogs-group']);
      expect(synth.template.toJSON().Resources[logGroupId!].Properties.RetentionInDays).toBe(30);
    }
  });

  it('runs the worker for the chunked and packed example types, whose roles may list the bucket', () => {
    const chunked = catalog.jobTypes.filter((t) => t.chunking || t.packing).map((t) => t.name);
    expect(chunked).toEqual(expect.arrayContaining(['settlement-map', 'notify']));
    for (const name of chunked) {
      const id = synth.stack.getLogicalId(synth.offpeak.jobDefinitions[name]!.node.defaultChild as never);
      const command = synth.template.toJSON().Resources[id].Properties.ContainerProperties
        .Command as string[];
      expect(command.slice(0, 3)).toEqual(['node', '/opt/offpeak/worker.mjs', '--']);
      const role = synth.offpeak.compute.jobTypes[name]!.jobRole;
      const roleId = synth.stack.getLogicalId(role.node.defaultChild as never);
      const listing = resourcesOf(synth.template, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
        .flatMap(
          ([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Condition?: unknown }[],
        )
        .filter((st) => ([] as unknown[]).concat(st.Action).includes('s3:ListBucket'));
      expect(listing).toHaveLength(1);
      expect(listing[0]!.Condition).toBeUndefined();
    }
  });

  it('lets the tracker and the reconciler end chunk runs: manifests and checkpoints read, outputs written', () => {
    for (const fn of [synth.offpeak.functions.tracker, synth.offpeak.functions.reconciler]) {
      const roleId = synth.stack.getLogicalId(fn.role.node.defaultChild as never);
      const actions = resourcesOf(synth.template, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
        .map((st) => `${([] as unknown[]).concat(st.Action).join(',')} ${JSON.stringify(st.Resource)}`);
      expect(
        actions.some((a) => a.startsWith('s3:AbortMultipartUpload,s3:PutObject') && a.includes('outputs/*')),
      ).toBe(true);
      expect(actions.some((a) => a.startsWith('s3:GetObject') && a.includes('checkpoints/*'))).toBe(true);
      expect(actions.some((a) => a.includes('batch:DescribeJobs'))).toBe(true);
    }
  });

  it('routes Batch job state changes of Offpeak job queues only to the events queue, with a DLQ', () => {
    const eventsQueueId = synth.stack.getLogicalId(
      synth.offpeak.queues.eventsQueue.node.defaultChild as never,
    );
    const queueArns = catalog.queues.map((q) => ({
      'Fn::GetAtt': [
        synth.stack.getLogicalId(synth.offpeak.jobQueues[q.name]!.node.defaultChild as never),
        'JobQueueArn',
      ],
    }));
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        detail: { jobQueue: Match.arrayWith(queueArns) },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [eventsQueueId, 'Arn'] },
          DeadLetterConfig: { Arn: Match.anyValue() },
          // The tracker parses the whole event: no input transformation.
          Input: Match.absent(),
        }),
      ],
    });
  });
});

describe('IAM least privilege', () => {
  const statements = () =>
    resourcesOf(synth.template, 'AWS::IAM::Policy').flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]).map(
        (s) => ({
          id,
          actions: ([] as string[]).concat(s.Action),
          resources: ([] as unknown[]).concat(s.Resource),
        }),
      ),
    );

  it('allows batch:SubmitJob only on Offpeak job queues and job definitions', () => {
    const submit = statements().filter((s) => s.actions.includes('batch:SubmitJob'));
    expect(submit).toHaveLength(1);
    const expected = [
      ...Object.values(synth.offpeak.jobQueues).map((q) => synth.stack.resolve(q.jobQueueArn)),
      ...Object.values(synth.offpeak.jobDefinitions).map((d) => synth.stack.resolve(d.jobDefinitionArn)),
    ];
    expect(submit[0]!.resources).toEqual(expect.arrayContaining(expected));
    expect(submit[0]!.resources).toHaveLength(expected.length);
  });

  it('grants Resource * only for actions without resource-level permissions', () => {
    const allowedOnStar = new Set([
      'batch:DescribeJobs',
      'batch:ListJobs',
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'ecr:GetAuthorizationToken',
    ]);
    for (const s of statements().filter((st) => st.resources.includes('*'))) {
      for (const action of s.actions) expect(allowedOnStar, `${s.id}: ${action}`).toContain(action);
    }
    expect(statements().flatMap((s) => s.actions)).not.toContain('*');
  });

  it('allows events:PutEvents only on the Offpeak bus', () => {
    const busArn = synth.stack.resolve(synth.offpeak.eventBus.eventBusArn);
    for (const s of statements().filter((st) => st.actions.includes('events:PutEvents'))) {
      expect(s.resources).toEqual([busArn]);
    }
  });

  it('limits job roles to their bucket prefixes', () => {
    const roleOf = (type: string) =>
      synth.stack.getLogicalId(synth.offpeak.compute.jobTypes[type]!.jobRole.node.defaultChild as never);
    const writes = (type: string) =>
      resourcesOf(synth.template, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: unknown) => refTarget(r) === roleOf(type)))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
        .filter((s: { Action: string | string[] }) =>
          ([] as string[]).concat(s.Action).includes('s3:PutObject'),
        )
        .flatMap((s: { Resource: unknown }) => ([] as unknown[]).concat(s.Resource))
        .map((r: unknown) => JSON.stringify(r));
    expect(writes('hello').join()).toContain(`/${BucketPrefixes.outputs}*`);
    expect(writes('hello').join()).not.toContain('backups/');
    expect(writes('nightly-backup').join()).toContain('/backups/*');
    expect(writes('hello').join()).not.toContain(`/${BucketPrefixes.manifests}*`);
  });
});

describe('state', () => {
  it('creates the table of table-schema.ts: keys, 4 GSIs, on-demand, PITR, TTL, encryption, retained', () => {
    const tables = resourcesOf(synth.template, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    const [, table] = tables[0]!;
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: TableKeys.partitionKey, KeyType: 'HASH' },
        { AttributeName: TableKeys.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TableKeys.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    const indexes = table.Properties.GlobalSecondaryIndexes as {
      IndexName: string;
      KeySchema: { AttributeName: string }[];
      Projection: { ProjectionType: string };
    }[];
    expect(indexes).toHaveLength(4);
    for (const expected of Object.values(TableIndexes)) {
      const index = indexes.find((i) => i.IndexName === expected.name);
      expect(index?.KeySchema.map((k) => k.AttributeName)).toEqual([expected.partitionKey, expected.sortKey]);
      expect(index?.Projection.ProjectionType).toBe('ALL');
    }
  });

  it('makes the bucket private, encrypted, versioned, TLS-only, access-logged, with lifecycle per prefix', () => {
    const bucketId = synth.stack.getLogicalId(synth.offpeak.bucket.node.defaultChild as never);
    const bucket = synth.template.toJSON().Resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: expect.anything() },
    });
    const rules = bucket.Properties.LifecycleConfiguration.Rules as {
      Prefix?: string;
      NoncurrentVersionExpiration?: unknown;
    }[];
    expect(rules.map((r) => r.Prefix)).toEqual(
      expect.arrayContaining([BucketPrefixes.outputs, BucketPrefixes.manifests, BucketPrefixes.checkpoints]),
    );
    expect(rules.some((r) => r.NoncurrentVersionExpiration)).toBe(true);
    const policy = resourcesOf(synth.template, 'AWS::S3::BucketPolicy').find(
      ([, p]) => refTarget(p.Properties.Bucket) === bucketId,
    );
    expect(policy![1].Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    );
  });
});

describe('monitoring and outputs', () => {
  it('encrypts the alarm topic and accepts only TLS', () => {
    synth.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // The topic policy replaces SNS's default one: CloudWatch must still be allowed to publish alarms.
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
          }),
        ]),
      },
    });
  });

  it('logs VPC flows', () => {
    synth.template.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('outputs the API URL, bucket, table, bus and alarm topic', () => {
    const outputs = Object.keys(synth.template.toJSON().Outputs);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'BatchApiUrl',
        'BatchBucketName',
        'BatchTableName',
        'BatchEventBusName',
        'BatchAlarmTopicArn',
      ]),
    );
  });
});

describe('reliability (issue 6)', () => {
  const policiesOf = (fn: { role: { node: { defaultChild?: unknown } } }) => {
    const roleId = synth.stack.getLogicalId(fn.role.node.defaultChild as never);
    return resourcesOf(synth.template, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: unknown) => refTarget(r) === roleId))
      .flatMap(
        ([, p]) =>
          p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .map((s) => ({
        actions: ([] as string[]).concat(s.Action),
        resources: ([] as unknown[]).concat(s.Resource),
      }));
  };
  const fnId = (fn: { function: { node: { defaultChild?: unknown } } }) =>
    synth.stack.getLogicalId(fn.function.node.defaultChild as never);

  it('drains every dead-letter queue into the dead-letter ingester, with partial batch failures', () => {
    const ingester = synth.offpeak.functions.deadLetters;
    const mappings = resourcesOf(synth.template, 'AWS::Lambda::EventSourceMapping').filter(
      ([, m]) => refTarget(m.Properties.FunctionName) === fnId(ingester),
    );
    const dlqIds = synth.offpeak.deadLetterQueues.map((d) =>
      synth.stack.getLogicalId(d.queue.node.defaultChild as never),
    );
    expect(mappings.map(([, m]) => refTarget(m.Properties.EventSourceArn)).sort()).toEqual(
      [...dlqIds].sort(),
    );
    for (const [, mapping] of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
    // Each DLQ ARN is mapped to the role of the queue it catches.
    const variables = synth.template.toJSON().Resources[fnId(ingester)].Properties.Environment.Variables;
    const sources = JSON.stringify(variables[EnvVars.deadLetterSources]);
    for (const source of ['intake', 'dispatch', 'events', 'eventbridge'])
      expect(sources).toContain(`\\"${source}\\"`);
  });

  it('alarms when a job or a message is dead-lettered (metric DeadLetters by kind), notifying the alarm topic', () => {
    const topicId = resourcesOf(synth.template, 'AWS::SNS::Topic')[0]![0];
    for (const kind of ['job', 'message']) {
      const alarm = resourcesOf(synth.template, 'AWS::CloudWatch::Alarm').find(
        ([, a]) =>
          a.Properties.MetricName === 'DeadLetters' &&
          (a.Properties.Dimensions ?? []).some(
            (d: { Name: string; Value: string }) => d.Name === 'Kind' && d.Value === kind,
          ),
      );
      expect(alarm, kind).toBeDefined();
      expect(alarm![1].Properties).toMatchObject({
        Namespace: 'Offpeak',
        Statistic: 'Sum',
        Period: 60,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        Dimensions: expect.arrayContaining([{ Name: 'service', Value: 'offpeak' }]),
      });
      expect(alarm![1].Properties.AlarmActions.map(refTarget)).toContain(topicId);
      expect(alarm![1].Properties.OKActions.map(refTarget)).toContain(topicId);
    }
  });

  it('lets the tracker, the reconciler and the API read job logs of exactly the job log groups, and no one else', () => {
    const groupArns = Object.values(synth.offpeak.compute.jobTypes).map((t) =>
      JSON.stringify(synth.stack.resolve(t.logGroup.logGroupArn)),
    );
    const { tracker, reconciler, api, dispatcher, intake, deadLetters } = synth.offpeak.functions;
    for (const fn of [tracker, reconciler, api]) {
      const reads = policiesOf(fn).filter((s) => s.actions.includes('logs:GetLogEvents'));
      expect(reads).toHaveLength(1);
      expect(reads[0]!.actions).toEqual(['logs:GetLogEvents']);
      expect(reads[0]!.resources.map((r) => JSON.stringify(r)).sort()).toEqual([...groupArns].sort());
    }
    for (const fn of [dispatcher, intake, deadLetters]) {
      expect(policiesOf(fn).some((s) => s.actions.includes('logs:GetLogEvents'))).toBe(false);
    }
    // Every function knows the job log group of each type (JSON), even where it may not read them.
    for (const [, fn] of offpeakFunctions()) {
      expect(fn.Properties.Environment.Variables[EnvVars.jobLogGroups]).toBeDefined();
    }
  });

  it('lets the tracker and the reconciler read retry markers (outputs/), and the API send redriven messages back', () => {
    const { tracker, reconciler, api } = synth.offpeak.functions;
    for (const fn of [tracker, reconciler]) {
      const reads = policiesOf(fn)
        .filter((s) => s.actions.includes('s3:GetObject'))
        .flatMap((s) => s.resources.map((r) => JSON.stringify(r)));
      expect(reads.join(), fn.node.id).toContain(`/${BucketPrefixes.outputs}*`);
      // They write only under outputs/ (the result manifest of a chunk run, issue 5).
      const writes = policiesOf(fn)
        .filter((s) => s.actions.includes('s3:PutObject'))
        .flatMap((s) => s.resources.map((r) => JSON.stringify(r)));
      for (const resource of writes) expect(resource, fn.node.id).toContain(`/${BucketPrefixes.outputs}*`);
    }
    const sends = policiesOf(api)
      .filter((s) => s.actions.includes('sqs:SendMessage'))
      .flatMap((s) => s.resources.map((r) => refTarget(r)));
    for (const queue of [
      synth.offpeak.queues.intakeQueue,
      synth.offpeak.queues.dispatchQueue,
      synth.offpeak.queues.eventsQueue,
    ]) {
      expect(sends).toContain(synth.stack.getLogicalId(queue.node.defaultChild as never));
    }
  });

  it('retries infrastructure failures in Batch without using the job attempts (evaluateOnExit)', () => {
    for (const [, definition] of resourcesOf(synth.template, 'AWS::Batch::JobDefinition')) {
      const strategy = definition.Properties.RetryStrategy;
      expect(strategy.Attempts).toBe(3);
      const rules = strategy.EvaluateOnExit as {
        Action: string;
        OnStatusReason?: string;
        OnReason?: string;
        OnExitCode?: string;
      }[];
      // Spot reclaim, host loss, start failures and image pulls are retried by Batch …
      for (const infra of ['Host EC2*', 'Your Spot Task was interrupted*', 'Task failed to start*']) {
        expect(rules).toContainEqual(expect.objectContaining({ Action: 'RETRY', OnStatusReason: infra }));
      }
      expect(rules).toContainEqual(
        expect.objectContaining({ Action: 'RETRY', OnReason: 'CannotPullContainerError*' }),
      );
      // … and any container that ran and exited is the application's: Batch exits, Offpeak's policy decides.
      expect(rules.at(-1)).toEqual(expect.objectContaining({ Action: 'EXIT', OnExitCode: '*' }));
      expect(rules.findIndex((r) => r.Action === 'EXIT')).toBe(rules.length - 1);
    }
  });

  it('keeps every DLQ message invisible to other consumers while the ingester handles it (6 x its timeout)', () => {
    const resources = synth.template.toJSON().Resources;
    const timeout = resources[fnId(synth.offpeak.functions.deadLetters)].Properties.Timeout;
    for (const { queue } of synth.offpeak.deadLetterQueues) {
      const id = synth.stack.getLogicalId(queue.node.defaultChild as never);
      expect(resources[id].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    }
  });
});
