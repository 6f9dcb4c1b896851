import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** Object access to a set of bucket prefixes. */
export interface PrefixAccess {
  /** Prefixes (ending in `/`) whose objects may be read (GetObject, which also covers HeadObject). */
  readonly read?: readonly string[];
  /** Prefixes whose objects may be written (PutObject, multipart uploads). */
  readonly write?: readonly string[];
  /**
   * Whether `s3:ListBucket` is granted on the whole bucket rather than only under the prefixes. S3 answers 404 for
   * a missing key only to principals that may list the bucket (403 otherwise), so code that treats "not found" as
   * a normal outcome needs it.
   * @default false - listing is limited to the prefixes with an `s3:prefix` condition
   */
  readonly listWholeBucket?: boolean;
}

/**
 * Grants exact S3 actions (no action wildcards) on `<bucket>/<prefix>*` objects: least privilege per prefix, where
 * `bucket.grantReadWrite` would hand out `s3:GetObject*`, `s3:DeleteObject*`, … on the whole bucket.
 */
export function grantPrefixAccess(grantee: iam.IGrantable, bucket: s3.IBucket, access: PrefixAccess): void {
  const read = unique([...(access.read ?? []), ...(access.write ?? [])]);
  const write = unique(access.write ?? []);
  const policy: iam.PolicyStatement[] = [];
  if (read.length > 0) {
    policy.push(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: read.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
    );
  }
  if (write.length > 0) {
    policy.push(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: write.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
    );
  }
  if (read.length > 0) {
    policy.push(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: access.listWholeBucket
          ? undefined
          : { StringLike: { 's3:prefix': read.map((p) => `${p}*`) } },
      }),
    );
  }
  for (const statement of policy) grantee.grantPrincipal.addToPrincipalPolicy(statement);
  // Exact KMS actions: SSE-KMS reads need Decrypt, writes (and multipart uploads) GenerateDataKey as well.
  if (bucket.encryptionKey) {
    if (write.length > 0) bucket.encryptionKey.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
    else bucket.encryptionKey.grant(grantee, 'kms:Decrypt');
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
