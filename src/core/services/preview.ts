import type { ChunkSizingDecision } from '../chunk-plan.js';
import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import type { Trigger } from '../job.js';
import type { SubmitRequest } from '../requests.js';
import { dependencyVerdict } from './dependencies.js';
import { packingDeferralSeconds } from './packing.js';
import { jobInputOf, planInput, requireObjects } from './plan-execution.js';
import { queueSlotCounter } from './slots.js';

/** One preflight check of a dry run. */
export interface PreflightCheck {
  readonly name: 'jobType' | 'params' | 'input' | 'dependencies' | 'secrets' | 'queue';
  readonly ok: boolean;
  readonly message: string;
  readonly details?: unknown;
}

/** The answer to `POST /jobs` with `dryRun: true`: what would happen, and nothing created. */
export interface JobPreview {
  readonly dryRun: true;
  /** True when every check passed: submitting the same request would create a job that can run. */
  readonly ok: boolean;
  readonly checks: readonly PreflightCheck[];
  /** The state the job would start in. */
  readonly initialState?: 'QUEUED' | 'WAITING' | 'SKIPPED';
  readonly queue?: {
    readonly name: string;
    readonly concurrency: number;
    readonly used: number;
    readonly priority: number;
  };
  readonly plan?: {
    readonly chunks: number;
    readonly splitting: 'byte-range' | 'whole-object';
    readonly sizing: ChunkSizingDecision;
    readonly input: { readonly objects: number; readonly bytes: number };
    /** Array jobs (each at most 10,000 children); one chunk is a plain job. */
    readonly arrayJobs: readonly number[];
    readonly storageCalls: number;
  };
  readonly packing?: {
    readonly windowSeconds: number;
    readonly jobsPerChild: number;
    /** Jobs of this type waiting now (they would share a pack with this one). */
    readonly queuedNow: number;
    readonly waitSeconds: number;
  };
  readonly reduce?: { readonly jobType: string };
  /** Container starts, and container-seconds from the job type's throughput estimate (chunked types). */
  readonly estimate: { readonly containerStarts: number; readonly containerSeconds?: number };
}

/**
 * A dry run (issue 5 §9): checks what a careful operator would before a production batch — the job type and its
 * params, the input objects (reachable, plannable), the dependencies' states, the secrets it references, the queue
 * and its limit — and returns the plan (chunks, array jobs, packing, estimated container-seconds), creating
 * nothing. Every problem is reported at once; a passing check says what it saw.
 */
export async function previewJob(
  deps: OffpeakDeps,
  request: SubmitRequest,
  _trigger: Trigger,
): Promise<JobPreview> {
  const checks: PreflightCheck[] = [];
  const fail = (name: PreflightCheck['name'], error: unknown) => {
    const e = serializeError(error);
    checks.push({ name, ok: false, message: e.message, details: { code: e.code } });
  };
  let type: ReturnType<OffpeakDeps['catalog']['jobType']>;
  try {
    type = deps.catalog.jobType(request.type);
    checks.push({ name: 'jobType', ok: true, message: `job type "${type.name}" (version ${type.version})` });
  } catch (error) {
    fail('jobType', error);
    return { dryRun: true, ok: false, checks, estimate: { containerStarts: 0 } };
  }
  try {
    deps.catalog.validateParams(type.name, request.params);
    checks.push({ name: 'params', ok: true, message: 'params match the job type schema' });
  } catch (error) {
    checks.push({
      name: 'params',
      ok: false,
      message: serializeError(error).message,
      details: (error as { details?: unknown }).details,
    });
  }

  let plan: JobPreview['plan'];
  let containerSeconds: number | undefined;
  const input = jobInputOf(request.input);
  if (type.chunking) {
    if (!input) {
      checks.push({ name: 'input', ok: false, message: `job type "${type.name}" is chunked: give an input` });
    } else {
      try {
        const planned = await planInput(requireObjects(deps), input, type.chunking, request.chunking);
        const arrays = Math.ceil(planned.layout.chunkCount / 10_000);
        plan = {
          chunks: planned.layout.chunkCount,
          splitting: planned.layout.splitting,
          sizing: planned.layout.sizing,
          input: { objects: planned.layout.objects, bytes: planned.layout.bytes },
          arrayJobs: Array.from({ length: arrays }, (_, i) =>
            Math.min(10_000, planned.layout.chunkCount - i * 10_000),
          ),
          storageCalls: planned.storageCalls,
        };
        containerSeconds = Math.ceil(planned.layout.bytes / type.chunking.throughputBytesPerSecond);
        checks.push({
          name: 'input',
          ok: true,
          message: `${planned.layout.objects} object(s), ${planned.layout.bytes} bytes, ${planned.layout.chunkCount} chunk(s)`,
        });
      } catch (error) {
        fail('input', error);
      }
    }
  } else if (input || request.chunking) {
    checks.push({
      name: 'input',
      ok: false,
      message: `job type "${type.name}" is not chunked: it takes no input`,
    });
  }

  const dependsOn = [...new Set(request.dependsOn)];
  let initialState: JobPreview['initialState'] = 'QUEUED';
  if (dependsOn.length > 0) {
    const found = await deps.store.getJobs(dependsOn);
    const missing = dependsOn.filter((id) => !found.some((j) => j.id === id));
    const verdict = dependencyVerdict(found, dependsOn.length);
    initialState = verdict === 'release' ? 'QUEUED' : verdict === 'wait' ? 'WAITING' : 'SKIPPED';
    const states = Object.fromEntries(found.map((j) => [j.id, j.state]));
    if (missing.length > 0) {
      checks.push({
        name: 'dependencies',
        ok: false,
        message: `unknown dependencies: ${missing.join(', ')}`,
        details: { states },
      });
    } else if (verdict === 'skip') {
      checks.push({
        name: 'dependencies',
        ok: false,
        message: 'a dependency did not succeed: the job would be skipped',
        details: { states },
      });
    } else {
      checks.push({
        name: 'dependencies',
        ok: true,
        message: verdict === 'wait' ? 'would wait for its dependencies' : 'every dependency succeeded',
        details: { states },
      });
    }
  }

  const secretNames = Object.keys(type.secrets);
  if (secretNames.length > 0) {
    // Batch resolves secrets when the container starts; Offpeak's control plane has no access to their values.
    checks.push({
      name: 'secrets',
      ok: true,
      message: `${secretNames.length} secret(s) referenced by ARN; they are resolved by Batch at container start`,
      details: Object.entries(type.secrets).map(([env, arn]) => ({ env, arn, verified: false })),
    });
  }

  const queue = deps.catalog.queue(type.queue);
  const usage = await deps.store.slotUsage(queueSlotCounter(queue.name));
  checks.push({
    name: 'queue',
    ok: queue.concurrency > 0,
    message:
      queue.concurrency > 0
        ? `queue "${queue.name}": ${usage.used} of ${queue.concurrency} slots in use`
        : `queue "${queue.name}" has concurrency 0: nothing would run`,
  });

  let packing: JobPreview['packing'];
  let containerStarts = plan ? plan.chunks : 1;
  if (type.packing) {
    const queued = (await deps.store.queuedJobs(queue.name, type.packing.maxJobs)).filter(
      (j) => j.type === type.name,
    );
    const oldest = queued[0];
    packing = {
      windowSeconds: type.packing.windowSeconds,
      jobsPerChild: type.packing.jobsPerChild,
      queuedNow: queued.length,
      waitSeconds: Math.ceil(
        oldest ? (packingDeferralSeconds(deps, oldest) ?? 0) : type.packing.windowSeconds,
      ),
    };
    containerStarts = Math.ceil((queued.length + 1) / type.packing.jobsPerChild);
  }
  return {
    dryRun: true,
    ok: checks.every((c) => c.ok),
    checks,
    initialState,
    queue: {
      name: queue.name,
      concurrency: queue.concurrency,
      used: usage.used,
      priority: request.priority ?? type.priority,
    },
    ...(plan ? { plan } : {}),
    ...(packing ? { packing } : {}),
    ...(type.reduce ? { reduce: { jobType: type.reduce.jobType } } : {}),
    estimate: { containerStarts, ...(containerSeconds !== undefined ? { containerSeconds } : {}) },
  };
}
