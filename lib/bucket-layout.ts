/**
 * Key prefixes of the Offpeak bucket (design §3, §4). Lifecycle rules and IAM grants are written per prefix, so a
 * role never gets the whole bucket.
 */
export const BucketPrefixes = {
  /** Uploaded inputs (S3 triggers, `offpeak submit --input`). Never expired: they belong to the user. */
  inputs: 'inputs/',
  /** Chunk plans, one per submission/retry; expire after a month. */
  manifests: 'manifests/',
  /** Job outputs, `outputs/<jobId>/part-<chunk>`; expire after `outputRetention`. */
  outputs: 'outputs/',
  /** Worker offsets, so a retried chunk resumes; expire after a week. */
  checkpoints: 'checkpoints/',
  /** Large job params stored by reference; expire with outputs. */
  payloads: 'payloads/',
} as const;
export type BucketPrefix = (typeof BucketPrefixes)[keyof typeof BucketPrefixes];

/** Every Offpeak data prefix: what the control-plane Lambdas may read and write. */
export const allDataPrefixes: readonly string[] = Object.values(BucketPrefixes);

/** What a job container may read (its input, its chunk plan, params by reference). */
export const jobReadPrefixes: readonly string[] = [
  BucketPrefixes.inputs,
  BucketPrefixes.manifests,
  BucketPrefixes.payloads,
  BucketPrefixes.checkpoints,
];

/** What a job container may write (its output parts and checkpoints). */
export const jobWritePrefixes: readonly string[] = [BucketPrefixes.outputs, BucketPrefixes.checkpoints];
