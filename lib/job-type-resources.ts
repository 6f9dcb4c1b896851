/**
 * Pure helpers that map a job type's plain-data fields (image, secrets, vCPU/memory) to what Batch on Fargate
 * accepts. Used by the compute construct and by props validation, so a bad value is reported before synthesis.
 */

/** An image reference in a private ECR repository. */
export interface EcrImageRef {
  readonly account: string;
  readonly region: string;
  readonly repositoryName: string;
  /** Tag or `sha256:` digest. */
  readonly tagOrDigest: string;
}

const ECR_IMAGE =
  /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)(?::([\w][\w.-]{0,127})|@(sha256:[a-f0-9]{64}))?$/;

/** The ECR repository of an image, or undefined for any other registry (Docker Hub, public.ecr.aws, …). */
export function parseEcrImage(image: string): EcrImageRef | undefined {
  const m = ECR_IMAGE.exec(image);
  if (!m) return undefined;
  return {
    account: m[1]!,
    region: m[2]!,
    repositoryName: m[3]!,
    tagOrDigest: m[4] ?? m[5] ?? 'latest',
  };
}

/** A Secrets Manager reference as Batch's `valueFrom` takes it. */
export interface SecretRef {
  /** The secret's ARN, without the JSON key / version suffix. */
  readonly secretArn: string;
  /** Whether the ARN ends with Secrets Manager's 6-character suffix (a complete ARN). */
  readonly complete: boolean;
  readonly jsonKey?: string;
  readonly versionStage?: string;
  readonly versionId?: string;
}

/**
 * Parses `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<version-stage>:<version-id>]`.
 * @returns undefined when the ARN is not a Secrets Manager secret ARN.
 */
export function parseSecretArn(arn: string): SecretRef | undefined {
  const parts = arn.split(':');
  if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'secretsmanager' || parts[5] !== 'secret')
    return undefined;
  const name = parts[6] ?? '';
  if (!/^[\w/+=.@-]+$/.test(name)) return undefined;
  const [jsonKey, versionStage, versionId] = parts.slice(7).map((p) => (p === '' ? undefined : p));
  return {
    secretArn: parts.slice(0, 7).join(':'),
    complete: /-[A-Za-z0-9]{6}$/.test(name),
    ...(jsonKey ? { jsonKey } : {}),
    ...(versionStage ? { versionStage } : {}),
    ...(versionId ? { versionId } : {}),
  };
}

/** Fargate's valid memory sizes (MiB) per vCPU value. */
const FARGATE_MEMORY: ReadonlyMap<number, readonly number[]> = new Map([
  [0.25, [512, 1024, 2048]],
  [0.5, range(1024, 4096, 1024)],
  [1, range(2048, 8192, 1024)],
  [2, range(4096, 16384, 1024)],
  [4, range(8192, 30720, 1024)],
  [8, range(16384, 61440, 4096)],
  [16, range(32768, 122880, 8192)],
]);

/** Why a vCPU / memory / GPU combination cannot run on Fargate, or undefined when it can. */
export function fargateResourceIssue(vcpu: number, memoryMiB: number, gpu: number): string | undefined {
  if (gpu > 0)
    return 'GPU jobs need an EC2 compute environment; the Offpeak construct provisions Fargate only';
  const memories = FARGATE_MEMORY.get(vcpu);
  if (!memories) return `vcpu ${vcpu} is not a Fargate size (${[...FARGATE_MEMORY.keys()].join(', ')})`;
  if (!memories.includes(memoryMiB)) {
    return `memoryMiB ${memoryMiB} is not valid with ${vcpu} vCPU on Fargate (${memories[0]}–${memories.at(-1)} MiB in steps of ${(memories[1] ?? 0) - (memories[0] ?? 0)})`;
  }
  return undefined;
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}
