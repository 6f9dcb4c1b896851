import { Duration, FeatureFlags, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { TableIndexes, TableKeys } from '../src/aws/table-schema.js';
import { BucketPrefixes } from './bucket-layout.js';
import { acknowledge } from './nag.js';

/** Props of {@link OffpeakState}. */
export interface OffpeakStateProps {
  /**
   * An existing job table instead of creating one. It must have the key schema and indexes of
   * `src/aws/table-schema.ts` (pk/sk, the four GSIs, TTL on `expiresAt`).
   * @default - a table is created
   */
  readonly table?: dynamodb.ITable;
  /**
   * An existing bucket instead of creating one. Offpeak only uses its own prefixes (`inputs/`, `manifests/`, …).
   * @default - a bucket (and an access-log bucket) is created
   */
  readonly bucket?: s3.IBucket;
  /**
   * Encrypt the created bucket with this KMS key (SSE-KMS with an S3 bucket key) instead of S3-managed keys.
   * @default - S3-managed encryption (SSE-S3)
   */
  readonly bucketEncryptionKey?: kms.IKey;
  /** How long job outputs and large params are kept. @default Duration.days(90) */
  readonly outputRetention?: Duration;
  /** How long S3 server access logs are kept. @default Duration.days(90) */
  readonly accessLogRetention?: Duration;
  /**
   * What happens to the table and buckets when the stack is deleted. With `DESTROY`, buckets must be emptied
   * first (no auto-delete custom resource is installed).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Offpeak's state (design §4): the single DynamoDB table exactly as `src/aws/table-schema.ts` describes it, and the
 * one bucket (encrypted, TLS-only, private, versioned, lifecycle per prefix, access-logged to its own bucket).
 */
export class OffpeakState extends Construct {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  /** The bucket receiving the data bucket's server access logs (only when the data bucket is created). */
  readonly accessLogBucket?: s3.IBucket;

  constructor(scope: Construct, id: string, props: OffpeakStateProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = props.table ?? this.createTable(removalPolicy);
    if (props.bucket) {
      this.bucket = props.bucket;
    } else {
      const accessLogBucket = this.createAccessLogBucket(
        removalPolicy,
        props.accessLogRetention ?? Duration.days(90),
      );
      this.accessLogBucket = accessLogBucket;
      this.bucket = this.createBucket(removalPolicy, accessLogBucket, props);
    }
  }

  private createTable(removalPolicy: RemovalPolicy): dynamodb.Table {
    const string = dynamodb.AttributeType.STRING;
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TableKeys.partitionKey, type: string },
      sortKey: { name: TableKeys.sortKey, type: string },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TableKeys.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    for (const index of Object.values(TableIndexes)) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: string },
        sortKey: { name: index.sortKey, type: string },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }

  private createAccessLogBucket(removalPolicy: RemovalPolicy, retention: Duration): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogBucket', {
      // S3 server access logging can only deliver to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // With the bucket-policy flag, log delivery needs no ACLs; without it CDK grants the legacy log-delivery ACL,
      // which requires ObjectWriter ownership (its default).
      objectOwnership: FeatureFlags.of(this).isEnabled(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY)
        ? s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
        : undefined,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: retention }],
      removalPolicy,
    });
    acknowledge(
      bucket,
      'AwsSolutions-S1',
      'This bucket receives the server access logs of the Offpeak data bucket; logging it to itself would recurse.',
    );
    return bucket;
  }

  private createBucket(
    removalPolicy: RemovalPolicy,
    accessLogBucket: s3.IBucket,
    props: OffpeakStateProps,
  ): s3.Bucket {
    const outputRetention = props.outputRetention ?? Duration.days(90);
    const key = props.bucketEncryptionKey;
    return new s3.Bucket(this, 'Bucket', {
      encryption: key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: key,
      bucketKeyEnabled: key !== undefined,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: 'offpeak-bucket/',
      lifecycleRules: [
        { id: 'expire-outputs', prefix: BucketPrefixes.outputs, expiration: outputRetention },
        { id: 'expire-payloads', prefix: BucketPrefixes.payloads, expiration: outputRetention },
        { id: 'expire-manifests', prefix: BucketPrefixes.manifests, expiration: Duration.days(30) },
        { id: 'expire-checkpoints', prefix: BucketPrefixes.checkpoints, expiration: Duration.days(7) },
        {
          id: 'noncurrent-versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
    });
  }
}
