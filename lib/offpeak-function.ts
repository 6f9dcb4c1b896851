import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CATALOG_DEFINE_KEY } from '../src/aws/bundled-catalog.js';
import { EnvVars, TableIndexes } from '../src/aws/table-schema.js';
import type { CatalogData } from '../src/core/catalog.js';
import { grantPrefixAccess } from './grants.js';
import { acknowledge, nagResourceName } from './nag.js';
import { PROJECT_ROOT } from './paths.js';

/** Props of {@link OffpeakFunction}. */
export interface OffpeakFunctionProps {
  /** Path of the handler file (exports `handler`). */
  readonly entry: string;
  /** The catalog, bundled into the code with esbuild `define` (never an environment variable: 4 KB limit). */
  readonly catalog: CatalogData;
  /** @default - no description */
  readonly description?: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default Size.mebibytes(512) */
  readonly memorySize?: Size;
  /** @default - no reserved concurrency (uses the account's unreserved pool) */
  readonly reservedConcurrentExecutions?: number;
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Extra environment variables. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

/** How a function uses a queue. */
export type QueueUse = 'send' | 'consume';

/** Which Batch calls a function may make. */
export interface BatchUse {
  /** `batch:SubmitJob` on exactly these job queues and job definitions (+ `batch:TagResource` on jobs). */
  readonly submit?: boolean;
  /** `batch:DescribeJobs` and `batch:ListJobs` (these support no resource-level permissions). */
  readonly read?: boolean;
  /** `batch:TerminateJob` on jobs of this account and region. */
  readonly terminate?: boolean;
}

/** The Batch resources a function is told about. */
export interface BatchResources {
  /** Offpeak queue name → Batch job queue. */
  readonly jobQueues: Readonly<Record<string, batch.IJobQueue>>;
  /** Job type name → Batch job definition. */
  readonly jobDefinitions: Readonly<Record<string, batch.IJobDefinition>>;
}

/**
 * Offpeak's one opinionated Lambda function: Node.js 24 on arm64, ESM bundle (minified, source maps on, AWS SDK
 * bundled so its version is pinned), the catalog compiled in, JSON logs at INFO into its own log group with a
 * retention, active tracing, its own role without managed policies. The `use*` helpers grant access and set the
 * environment variable that names the resource, together, so the two never drift.
 *
 * @example
 * const fn = new OffpeakFunction(this, 'Tracker', { entry: 'lambdas/tracker.ts', catalog, timeout: Duration.minutes(1) });
 * fn.useTable(table).useQueue(EnvVars.eventsQueueUrl, eventsQueue, 'consume');
 */
export class OffpeakFunction extends Construct implements iam.IGrantable {
  /** The underlying function. */
  readonly function: nodejs.NodejsFunction;
  /** The execution role (no managed policies: logs are granted on the function's own log group). */
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: OffpeakFunctionProps) {
    super(scope, id);
    this.timeout = props.timeout ?? Duration.seconds(30);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Offpeak ${id} function`,
    });
    this.logGroup.grantWrite(this.role);
    this.grantPrincipal = this.role;

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: (props.memorySize ?? Size.mebibytes(512)).toMebibytes(),
      timeout: this.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      tracing: lambda.Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}/package-lock.json`,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'offpeak',
        POWERTOOLS_METRICS_NAMESPACE: 'Offpeak',
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        platform: 'node',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle everything, the AWS SDK included, so the deployed versions are the lockfile's.
        externalModules: [],
        bundleAwsSDK: true,
        // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
        banner:
          "import { createRequire as __offpeakCreateRequire } from 'node:module'; const require = __offpeakCreateRequire(import.meta.url);",
        define: { [CATALOG_DEFINE_KEY]: JSON.stringify(props.catalog) },
        forceDockerBundling: false,
      },
    });

    // Active tracing makes CDK add xray:PutTraceSegments/PutTelemetryRecords, which only accept Resource '*'.
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (defaultPolicy) {
      acknowledge(
        defaultPolicy,
        'AwsSolutions-IAM5[Resource::*]',
        'X-Ray PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level permissions; ' +
          'this policy has no other statement on Resource *.',
      );
    }
  }

  /** Sets an environment variable on the function. */
  addEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /**
   * Read/write access to the Offpeak table (items and its indexes by name, no wildcards), and `OFFPEAK_TABLE`.
   * Scan is not granted: listing goes through the indexes (design §4).
   */
  useTable(table: dynamodb.ITable): this {
    const indexArns = Object.values(TableIndexes).map((index) => `${table.tableArn}/index/${index.name}`);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DescribeTable',
        ],
        resources: [table.tableArn, ...indexArns],
      }),
    );
    // A customer-managed table key: the exact actions DynamoDB needs for reads and writes (no kms:*Encrypt* wildcards).
    table.encryptionKey?.grant(
      this.role,
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
      'kms:DescribeKey',
    );
    return this.addEnvironment(EnvVars.table, table.tableName);
  }

  /** Object access under the given prefixes of the Offpeak bucket, and `OFFPEAK_BUCKET`. */
  useBucket(
    bucket: s3.IBucket,
    prefixes: { readonly read?: readonly string[]; readonly write?: readonly string[] },
  ): this {
    grantPrefixAccess(this.role, bucket, { ...prefixes, listWholeBucket: true });
    for (const prefix of new Set([...(prefixes.read ?? []), ...(prefixes.write ?? [])])) {
      acknowledge(
        this.role,
        `AwsSolutions-IAM5[Resource::${nagResourceName(this, bucket.arnForObjects(`${prefix}*`))}]`,
        `Object keys under ${prefix} are created at run time (job ids); access is limited to that prefix with exact actions.`,
      );
    }
    return this.addEnvironment(EnvVars.bucket, bucket.bucketName);
  }

  /**
   * `logs:GetLogEvents` on these job log groups (their streams), to copy the last lines of a failed attempt into its
   * dead letter. Read only, on exactly these groups.
   */
  useJobLogs(logGroups: readonly logs.ILogGroup[]): this {
    if (logGroups.length === 0) return this;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:GetLogEvents'],
        // A log group's ARN ends in `:*`, which covers its `:log-stream:<name>` ARNs.
        resources: logGroups.map((group) => group.logGroupArn),
      }),
    );
    return this;
  }

  /** Send to or consume from a queue, and set `envName` to its URL. */
  useQueue(envName: string, queue: sqs.IQueue, use: QueueUse): this {
    if (use === 'send') queue.grantSendMessages(this.role);
    else queue.grantConsumeMessages(this.role);
    return this.addEnvironment(envName, queue.queueUrl);
  }

  /** `events:PutEvents` on this bus only, and `OFFPEAK_EVENT_BUS_NAME`. */
  useEventBus(bus: events.IEventBus): this {
    bus.grantPutEventsTo(this.role);
    return this.addEnvironment(EnvVars.eventBusName, bus.eventBusName);
  }

  /**
   * Batch permissions as asked, and `OFFPEAK_JOB_QUEUES` / `OFFPEAK_JOB_DEFINITIONS` (JSON name → ARN) always,
   * since the Batch executor adapter is built from both.
   */
  useBatch(resources: BatchResources, use: BatchUse): this {
    const stack = Stack.of(this);
    const jobArnPattern = stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' });
    if (use.submit) {
      const policy = new iam.Policy(this, 'BatchSubmitPolicy', {
        statements: [
          new iam.PolicyStatement({
            actions: ['batch:SubmitJob'],
            resources: [
              ...Object.values(resources.jobQueues).map((q) => q.jobQueueArn),
              ...Object.values(resources.jobDefinitions).map((d) => d.jobDefinitionArn),
            ],
          }),
          // SubmitJob with tags (Offpeak tags every job with its id) is authorized as TagResource on the new job.
          new iam.PolicyStatement({ actions: ['batch:TagResource'], resources: [jobArnPattern] }),
        ],
      });
      policy.attachToRole(this.role);
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Resource::${nagResourceName(this, jobArnPattern)}]`,
        'Tag-on-create of Batch jobs: job ids exist only once SubmitJob runs, so the job ARN cannot be named ahead; ' +
          'SubmitJob itself is limited to Offpeak job queues and job definitions.',
      );
    }
    if (use.read) {
      const policy = new iam.Policy(this, 'BatchReadPolicy', {
        statements: [
          new iam.PolicyStatement({ actions: ['batch:DescribeJobs', 'batch:ListJobs'], resources: ['*'] }),
        ],
      });
      policy.attachToRole(this.role);
      acknowledge(
        policy,
        'AwsSolutions-IAM5[Resource::*]',
        'batch:DescribeJobs and batch:ListJobs support no resource-level permissions (Service Authorization ' +
          'Reference); they are read-only and needed to repair drift from the source of truth.',
      );
    }
    if (use.terminate) {
      const policy = new iam.Policy(this, 'BatchTerminatePolicy', {
        statements: [
          new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [jobArnPattern] }),
        ],
      });
      policy.attachToRole(this.role);
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Resource::${nagResourceName(this, jobArnPattern)}]`,
        'Batch job ARNs are created at run time and carry no queue, so TerminateJob is scoped to jobs of this ' +
          'account and region; Offpeak only terminates jobs it recorded.',
      );
    }
    this.addEnvironment(
      EnvVars.jobQueues,
      toJsonMap(this, resources.jobQueues, (q) => q.jobQueueArn),
    );
    return this.addEnvironment(
      EnvVars.jobDefinitions,
      toJsonMap(this, resources.jobDefinitions, (d) => d.jobDefinitionArn),
    );
  }
}

function toJsonMap<T>(
  scope: Construct,
  map: Readonly<Record<string, T>>,
  value: (item: T) => string,
): string {
  return Stack.of(scope).toJsonString(Object.fromEntries(Object.entries(map).map(([k, v]) => [k, value(v)])));
}
