import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EnvVars } from '../src/aws/table-schema.js';
import type { CatalogData } from '../src/core/catalog.js';
import type { JobTypeSpec } from '../src/core/job-type.js';
import type { QueueSpec } from '../src/core/queue-spec.js';
import { jobReadPrefixes, jobWritePrefixes } from './bucket-layout.js';
import { grantPrefixAccess } from './grants.js';
import { parseEcrImage, parseSecretArn } from './job-type-resources.js';
import { acknowledge, nagResourceName } from './nag.js';

/** Props of {@link OffpeakCompute}. */
export interface OffpeakComputeProps {
  /** Job types (one job definition each) and queues (one job queue each). */
  readonly catalog: CatalogData;
  /** The Offpeak bucket: job roles get their prefixes of it. */
  readonly bucket: s3.IBucket;
  /**
   * The VPC jobs run in. Its subnets selected by `vpcSubnets` need a route to the image registries and to AWS APIs
   * (NAT or VPC endpoints).
   * @default - a VPC with public and private subnets in two AZs, one NAT gateway, an S3 gateway endpoint, and
   *   flow logs
   */
  readonly vpc?: ec2.IVpc;
  /** @default - the private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Maximum vCPUs of each compute environment (Fargate and Fargate Spot). @default 256 */
  readonly maxVcpus?: number;
  /**
   * Offpeak queues that prefer on-demand Fargate (Fargate Spot as overflow); every other queue prefers Fargate Spot
   * (on-demand as overflow).
   * @default ['high']
   */
  readonly onDemandFirstQueues?: readonly string[];
  /**
   * Batch attempts per job for infrastructure failures (Spot reclaim, host or start failures). Application
   * failures are never retried by Batch: Offpeak retries those with backoff.
   * @default 3
   */
  readonly infrastructureAttempts?: number;
  /**
   * Extra bucket prefixes a job type may write, beyond `outputs/` and `checkpoints/` (e.g. `{ 'nightly-backup':
   * ['backups/'] }`).
   * @default - none
   */
  readonly extraJobWritePrefixes?: Readonly<Record<string, readonly string[]>>;
  /** Retention of job and flow logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Batch `evaluateOnExit` rules, first match wins (Batch allows at most 5). Infrastructure failures are retried; any
 * container that ran and exited is an application failure and EXITs, so Offpeak's own retry (with backoff and the
 * job type's exit-code policy) decides. A failure matching nothing is retried by Batch's default, which only
 * happens for failures without an exit code, i.e. the infrastructure kind.
 */
export const INFRASTRUCTURE_RETRY_RULES: readonly {
  readonly action: batch.Action;
  readonly on: batch.CustomReason;
}[] = [
  // The EC2 instance went away (Spot reclaim, host failure): only with EC2 compute environments.
  { action: batch.Action.RETRY, on: { onStatusReason: 'Host EC2*' } },
  // Fargate Spot capacity was reclaimed (ECS stopped reason).
  { action: batch.Action.RETRY, on: { onStatusReason: 'Your Spot Task was interrupted*' } },
  // Fargate start failures: ResourceInitializationError (ENI, secrets, log setup) and CannotPullContainerError both
  // surface with this status reason, the detail being in the container reason.
  { action: batch.Action.RETRY, on: { onStatusReason: 'Task failed to start*' } },
  { action: batch.Action.RETRY, on: { onReason: 'CannotPullContainerError*' } },
  { action: batch.Action.EXIT, on: { onExitCode: '*' } },
];

/** How long Batch lets a job sit RUNNABLE for a blocking reason when the queue does not say. */
export const DEFAULT_MAX_RUNNABLE = Duration.minutes(30);

/**
 * The Batch job queue's stuck-job protection (`jobStateTimeLimitActions`) for an Offpeak queue: a job no compute
 * environment can ever run (misconfiguration) would sit RUNNABLE forever, so Batch cancels it after the queue's
 * `maxRunnableSeconds` (30 minutes by default) and Offpeak sees it fail. A queue that sets `maxRunnableSeconds` also has
 * jobs blocked by a lack of capacity cancelled after that long.
 */
export function jobStateTimeLimitActions(queue: QueueSpec): batch.JobStateTimeLimitAction[] {
  const maxTime =
    queue.maxRunnableSeconds !== undefined
      ? Duration.seconds(queue.maxRunnableSeconds)
      : DEFAULT_MAX_RUNNABLE;
  const reasons = [
    batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
    batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
    ...(queue.maxRunnableSeconds !== undefined
      ? [batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY]
      : []),
  ];
  return reasons.map((reason) => ({
    action: batch.JobStateTimeLimitActionsAction.CANCEL,
    maxTime,
    reason,
    state: batch.JobStateTimeLimitActionsState.RUNNABLE,
  }));
}

/** Resources of one job type. */
export class OffpeakJobType extends Construct {
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly executionRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(
    scope: Construct,
    id: string,
    props: {
      readonly spec: JobTypeSpec;
      readonly bucket: s3.IBucket;
      readonly writePrefixes: readonly string[];
      readonly attempts: number;
      readonly logRetention: logs.RetentionDays;
      readonly logRemovalPolicy: RemovalPolicy;
    },
  ) {
    super(scope, id);
    const { spec, bucket } = props;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Offpeak job type ${spec.name}: the container's own AWS access`,
    });
    // The worker of a chunked or packed type reads its checkpoint, which does not exist on a first attempt: S3 says
    // 404 (not 403) only to principals that may list the bucket.
    const runsWorker = spec.chunking !== undefined || spec.packing !== undefined;
    grantPrefixAccess(this.jobRole, bucket, {
      read: jobReadPrefixes,
      write: props.writePrefixes,
      listWholeBucket: runsWorker,
    });
    for (const prefix of new Set([...jobReadPrefixes, ...props.writePrefixes])) {
      acknowledge(
        this.jobRole,
        `AwsSolutions-IAM5[Resource::${nagResourceName(this, bucket.arnForObjects(`${prefix}*`))}]`,
        `The job reads or writes objects under ${prefix} whose keys are created at run time (job ids, chunks); ` +
          'access is limited to that prefix with exact actions.',
      );
    }

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Offpeak job type ${spec.name}: pulls the image, reads its secrets, writes its logs`,
    });

    // Chunked and packed types start the worker runtime, which runs the command per chunk or per packed job.
    const workerCommand = spec.chunking?.workerCommand ?? spec.packing?.workerCommand;
    const container = new batch.EcsFargateContainerDefinition(this, 'Container', {
      image: this.containerImage(spec.image),
      command: workerCommand ? [...workerCommand, '--', ...spec.command] : [...spec.command],
      cpu: spec.vcpu,
      memory: Size.mebibytes(spec.memoryMiB),
      environment: {
        ...spec.environment,
        [EnvVars.bucket]: bucket.bucketName,
        OFFPEAK_JOB_TYPE: spec.name,
      },
      secrets: this.secrets(spec.secrets),
      jobRole: this.jobRole,
      executionRole: this.executionRole,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: spec.name }),
      fargatePlatformVersion: ecs.FargatePlatformVersion.LATEST,
      assignPublicIp: false,
    });

    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      container,
      timeout: Duration.seconds(spec.timeoutSeconds),
      retryAttempts: props.attempts,
      retryStrategies: INFRASTRUCTURE_RETRY_RULES.map((rule) =>
        batch.RetryStrategy.of(rule.action, batch.Reason.custom(rule.on)),
      ),
      propagateTags: true,
    });
  }

  private containerImage(image: string): ecs.ContainerImage {
    const ecrImage = parseEcrImage(image);
    if (!ecrImage) return ecs.ContainerImage.fromRegistry(image);
    const repository = ecr.Repository.fromRepositoryAttributes(this, 'Repository', {
      repositoryName: ecrImage.repositoryName,
      repositoryArn: Stack.of(this).formatArn({
        service: 'ecr',
        region: ecrImage.region,
        account: ecrImage.account,
        resource: 'repository',
        resourceName: ecrImage.repositoryName,
      }),
    });
    acknowledge(
      this.executionRole,
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken supports no resource-level permissions; image pulls are limited to the repository.',
    );
    return ecs.ContainerImage.fromEcrRepository(repository, ecrImage.tagOrDigest);
  }

  private secrets(secrets: Readonly<Record<string, string>>): Record<string, batch.Secret> | undefined {
    if (Object.keys(secrets).length === 0) return undefined;
    const out: Record<string, batch.Secret> = {};
    for (const [envName, arn] of Object.entries(secrets)) {
      const ref = parseSecretArn(arn);
      // Props validation rejects anything else before we get here.
      if (!ref) throw new Error(`${envName}: not a Secrets Manager ARN: ${arn}`);
      const secret = ref.complete
        ? secretsmanager.Secret.fromSecretCompleteArn(this, `Secret-${envName}`, ref.secretArn)
        : secretsmanager.Secret.fromSecretPartialArn(this, `Secret-${envName}`, ref.secretArn);
      out[envName] =
        ref.versionStage || ref.versionId
          ? batch.Secret.fromSecretsManagerVersion(
              secret,
              {
                ...(ref.versionStage ? { versionStage: ref.versionStage } : {}),
                ...(ref.versionId ? { versionId: ref.versionId } : {}),
              },
              ref.jsonKey,
            )
          : batch.Secret.fromSecretsManager(secret, ref.jsonKey);
    }
    return out;
  }
}

/**
 * Where jobs run (design §1 "Execution"): a VPC (created with flow logs, or yours), Fargate and Fargate Spot managed
 * compute environments, one Batch job queue per Offpeak queue with its Batch priority, and one job definition per
 * job type (own job role and execution role, awslogs with retention, infrastructure-only Batch retries).
 */
export class OffpeakCompute extends Construct {
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.SecurityGroup;
  readonly onDemandEnvironment: batch.FargateComputeEnvironment;
  readonly spotEnvironment: batch.FargateComputeEnvironment;
  /** Offpeak queue name → Batch job queue. */
  readonly jobQueues: Readonly<Record<string, batch.JobQueue>>;
  /** Job type name → its resources. */
  readonly jobTypes: Readonly<Record<string, OffpeakJobType>>;
  /** Job type name → Batch job definition. */
  readonly jobDefinitions: Readonly<Record<string, batch.EcsJobDefinition>>;

  constructor(scope: Construct, id: string, props: OffpeakComputeProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.vpc = props.vpc ?? this.createVpc(logRetention, logRemovalPolicy);
    const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.securityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', {
      vpc: this.vpc,
      description: 'Offpeak Batch jobs: no inbound, all outbound',
      allowAllOutbound: true,
    });
    const maxvCpus = props.maxVcpus ?? 256;
    const environment = (envId: string, spot: boolean) =>
      new batch.FargateComputeEnvironment(this, envId, {
        vpc: this.vpc,
        vpcSubnets,
        securityGroups: [this.securityGroup],
        maxvCpus,
        spot,
      });
    this.onDemandEnvironment = environment('Fargate', false);
    this.spotEnvironment = environment('FargateSpot', true);

    const onDemandFirst = new Set(props.onDemandFirstQueues ?? ['high']);
    const jobQueues: Record<string, batch.JobQueue> = {};
    for (const queue of props.catalog.queues) {
      const [first, second] = onDemandFirst.has(queue.name)
        ? [this.onDemandEnvironment, this.spotEnvironment]
        : [this.spotEnvironment, this.onDemandEnvironment];
      jobQueues[queue.name] = new batch.JobQueue(this, `JobQueue-${queue.name}`, {
        priority: queue.batchPriority,
        computeEnvironments: [
          { computeEnvironment: first, order: 1 },
          { computeEnvironment: second, order: 2 },
        ],
        jobStateTimeLimitActions: jobStateTimeLimitActions(queue),
      });
    }
    this.jobQueues = jobQueues;

    const jobTypes: Record<string, OffpeakJobType> = {};
    for (const spec of props.catalog.jobTypes) {
      jobTypes[spec.name] = new OffpeakJobType(this, `JobType-${spec.name}`, {
        spec,
        bucket: props.bucket,
        writePrefixes: [...jobWritePrefixes, ...(props.extraJobWritePrefixes?.[spec.name] ?? [])],
        attempts: props.infrastructureAttempts ?? 3,
        logRetention,
        logRemovalPolicy,
      });
    }
    this.jobTypes = jobTypes;
    this.jobDefinitions = Object.fromEntries(Object.entries(jobTypes).map(([k, v]) => [k, v.jobDefinition]));
  }

  private createVpc(retention: logs.RetentionDays, removalPolicy: RemovalPolicy): ec2.Vpc {
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogGroup', { retention, removalPolicy });
    return new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Job data to and from S3 bypasses the NAT gateway (free, and faster).
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
  }
}
