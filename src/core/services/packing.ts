import { z } from 'zod';
import type { ExecutorJob } from '../../ports/executor.js';
import { ExecutorStatus } from '../../ports/executor.js';
import type { CatalogJobType } from '../catalog.js';
import type { PackingSpec } from '../chunking-spec.js';
import type { OffpeakDeps } from '../deps.js';
import { ErrorKind, errorKindOf } from '../errors.js';
import { type Job, transitionJob, withAttempt } from '../job.js';
import { jobEnvironment } from '../job-environment.js';
import { executorJobName } from '../job-name.js';
import { isTerminal, JobState } from '../job-state.js';
import { WorkerEnv, WorkerRole } from '../worker-env.js';
import { runCompletionEffects } from './effects.js';
import type { ExecutionPlan } from './plan-execution.js';
import { requireObjects } from './plan-execution.js';
import { nextJob, type TrackOutcome } from './track.js';
import { updateJobWith } from './update-job.js';

/** The plan of one pack, stored at `manifests/<leaderId>/pack-<attempt>.json`; child `i` runs members `i*n…`. */
export const PackManifestSchema = z.object({
  version: z.literal(1),
  kind: z.literal('pack'),
  leaderId: z.string(),
  jobType: z.string(),
  jobsPerChild: z.number().int().min(1),
  members: z.array(
    z.object({
      jobId: z.string(),
      attempt: z.number().int().min(1),
      environment: z.record(z.string(), z.string()),
    }),
  ),
  createdAt: z.string(),
});
export type PackManifest = z.infer<typeof PackManifestSchema>;

/** What the worker records for one packed job, at `checkpoints/<leaderId>/pack-<attempt>/<jobId>.json`. */
export const PackedResultSchema = z.object({
  jobId: z.string(),
  exitCode: z.number().int().optional(),
  signal: z.string().optional(),
  error: z.string().optional(),
  startedAt: z.string(),
  stoppedAt: z.string(),
  logKey: z.string(),
});
export type PackedResult = z.infer<typeof PackedResultSchema>;

export function packManifestKey(leaderId: string, attempt: number): string {
  return `manifests/${leaderId}/pack-${attempt}.json`;
}

export function packedResultKey(manifestKey: string, jobId: string): string {
  const [, leaderId, file] = manifestKey.split('/');
  return `checkpoints/${leaderId}/${file?.replace(/\.json$/, '')}/${jobId}.json`;
}

/** Where a packed job's own log goes (each packed job keeps its own log). */
export function packedLogKey(jobId: string): string {
  return `outputs/${jobId}/log.txt`;
}

/**
 * Seconds a QUEUED job of a packed type still waits for others to join its pack (undefined: release it now).
 * The oldest job's window decides: when it ends, every queued job of the type goes in the pack.
 */
export function packingDeferralSeconds(
  deps: Pick<OffpeakDeps, 'catalog' | 'clock'>,
  job: Job,
): number | undefined {
  let spec: PackingSpec | undefined;
  try {
    spec = deps.catalog.jobType(job.type).packing;
  } catch {
    return undefined;
  }
  if (!spec || spec.windowSeconds <= 0) return undefined;
  const age = (deps.clock.now().getTime() - Date.parse(job.stateChangedAt)) / 1000;
  return age >= spec.windowSeconds ? undefined : spec.windowSeconds - age;
}

/** Executor jobs a cancel stops: a packed job shares its array with others, so it stops none (it is skipped). */
export function executorJobsToTerminate(job: Job): string[] {
  if (job.pack) return [];
  return job.executorJobIds ?? (job.executorJobId ? [job.executorJobId] : []);
}

/**
 * Plans a pack led by `leader` (already claimed SUBMITTING by the dispatcher): claims the other QUEUED jobs of its
 * type (QUEUED → SUBMITTING, conditional, without a slot: the pack holds the leader's one), writes the pack
 * manifest, and asks for one array job of `ceil(members / jobsPerChild)` children.
 */
export async function planPack(
  deps: OffpeakDeps,
  leader: Job,
  type: CatalogJobType,
  spec: PackingSpec,
  attempt: number,
): Promise<ExecutionPlan> {
  const objects = requireObjects(deps);
  const manifestKey = packManifestKey(leader.id, attempt);
  const queued = (await deps.store.queuedJobs(leader.queue, spec.maxJobs))
    .filter((j) => j.type === leader.type && j.id !== leader.id)
    .slice(0, spec.maxJobs - 1);
  const tentative = { leaderId: leader.id, manifestKey, child: 0, position: 0 };
  const claimed = (
    await mapLimit(queued, 16, async (candidate) => {
      const outcome = await updateJobWith(
        deps,
        candidate.id,
        (job) =>
          job.state === JobState.Queued && job.version === candidate.version
            ? transitionJob(
                job,
                JobState.Submitting,
                deps.clock.now(),
                { pack: tentative },
                `packed with ${leader.id}`,
              )
            : undefined,
        candidate,
      ).catch((error: unknown) => {
        if (errorKindOf(error) === ErrorKind.NotFound) return undefined;
        throw error;
      });
      return outcome?.changed ? outcome.after : undefined;
    })
  ).filter((j): j is Job => j !== undefined);
  const members = [leader, ...claimed];
  const manifest: PackManifest = {
    version: 1,
    kind: 'pack',
    leaderId: leader.id,
    jobType: type.name,
    jobsPerChild: spec.jobsPerChild,
    members: members.map((m) => ({
      jobId: m.id,
      attempt: m.id === leader.id ? attempt : m.attempt + 1,
      environment: jobEnvironment(m, m.id === leader.id ? attempt : m.attempt + 1),
    })),
    createdAt: deps.clock.now().toISOString(),
  };
  const release = async () => {
    await mapLimit(claimed, 16, (member) =>
      updateJobWith(deps, member.id, (job) =>
        job.state === JobState.Submitting && job.pack?.leaderId === leader.id
          ? transitionJob(job, JobState.Queued, deps.clock.now(), { pack: undefined }, 'pack not submitted')
          : undefined,
      ),
    );
  };
  try {
    await objects.put(manifestKey, JSON.stringify(manifest), 'application/json');
  } catch (error) {
    await release();
    throw error;
  }
  const children = Math.ceil(members.length / spec.jobsPerChild);
  deps.log.info('Pack planned', { leaderId: leader.id, jobs: members.length, children });
  const membership = (index: number) => ({
    leaderId: leader.id,
    manifestKey,
    child: Math.floor(index / spec.jobsPerChild),
    position: index % spec.jobsPerChild,
  });
  return {
    submissions: [
      {
        ...(children >= 2 ? { arraySize: children } : {}),
        environment: { [WorkerEnv.role]: WorkerRole.Pack, [WorkerEnv.manifestKey]: manifestKey },
      },
    ],
    patch: (handles) => ({
      pack: membership(0),
      executorJobIds: [handles[0]!.executorJobId],
      outputUri: objects.uri(`outputs/${leader.id}/`),
    }),
    abandon: release,
    afterRecord: async (handles) => {
      const handle = handles[0]!;
      await mapLimit(claimed, 16, async (member, i) => {
        const memberAttempt = member.attempt + 1;
        const outcome = await updateJobWith(deps, member.id, (job) => {
          if (job.state !== JobState.Submitting || job.pack?.leaderId !== leader.id) return undefined;
          const now = deps.clock.now();
          return transitionJob(job, JobState.Submitted, now, {
            attempt: memberAttempt,
            executorJobId: handle.executorJobId,
            executorJobIds: [handle.executorJobId],
            pack: membership(i + 1),
            outputUri: objects.uri(`outputs/${member.id}/`),
            runSpec: {
              typeVersion: type.version,
              jobDefinition: handle.jobDefinition,
              image: handle.image,
              command: [...handle.command],
            },
            attempts: withAttempt(job, {
              attempt: memberAttempt,
              executorJobId: handle.executorJobId,
              submittedAt: now.toISOString(),
            }),
          });
        });
        // Cancelled while being packed: it stays cancelled; the worker's result for it is ignored.
        if (!outcome.changed) deps.log.info('Packed job changed meanwhile', { jobId: member.id });
      });
    },
  };
}

/** Pack children moved: their jobs follow (RUNNING, then each job's own outcome from the worker's result). */
export async function applyPackChildUpdates(
  deps: OffpeakDeps,
  leader: Job,
  updates: readonly ExecutorJob[],
  random: () => number = Math.random,
): Promise<void> {
  const manifest = await readPackManifest(deps, leader.pack!.manifestKey);
  if (!manifest) return;
  const arrayId = leader.executorJobId;
  for (const update of updates) {
    if (update.arrayIndex === undefined || update.executorJobId.replace(/:\d+$/, '') !== arrayId) continue;
    const members = manifest.members.slice(
      update.arrayIndex * manifest.jobsPerChild,
      (update.arrayIndex + 1) * manifest.jobsPerChild,
    );
    await applyToMembers(deps, manifest, leader.pack!.manifestKey, members, arrayId, update, random);
  }
}

/**
 * The pack's array job (or its plain job, for one child) moved. At its end, every packed job not finished yet
 * (its child's events were lost) gets its outcome from the worker's result, or fails.
 */
export async function applyPackParentUpdate(
  deps: OffpeakDeps,
  job: Job,
  update: ExecutorJob,
  random: () => number = Math.random,
): Promise<TrackOutcome> {
  const manifestKey = job.pack?.manifestKey;
  const manifest = manifestKey ? await readPackManifest(deps, manifestKey) : undefined;
  if (
    !manifest ||
    !manifestKey ||
    job.executorJobId !== update.executorJobId ||
    manifest.leaderId !== job.pack?.leaderId
  ) {
    return { kind: 'unchanged', jobId: job.id, state: job.state };
  }
  const oneChild = manifest.members.length <= manifest.jobsPerChild;
  const terminal = update.status === ExecutorStatus.Succeeded || update.status === ExecutorStatus.Failed;
  if (!terminal && !(oneChild && update.status === ExecutorStatus.Running)) {
    return { kind: 'unchanged', jobId: job.id, state: job.state };
  }
  await applyToMembers(deps, manifest, manifestKey, manifest.members, update.executorJobId, update, random);
  const after = await deps.store.getJob(job.id);
  return after && after.state !== job.state
    ? { kind: 'changed', jobId: job.id, from: job.state, to: after.state }
    : { kind: 'unchanged', jobId: job.id, state: after?.state ?? job.state };
}

async function applyToMembers(
  deps: OffpeakDeps,
  manifest: PackManifest,
  manifestKey: string,
  members: PackManifest['members'],
  arrayId: string | undefined,
  update: ExecutorJob,
  random: () => number,
): Promise<void> {
  if (!arrayId) return;
  const objects = requireObjects(deps);
  await mapLimit(members, 16, async (member) => {
    let memberUpdate: ExecutorJob = {
      ...update,
      executorJobId: arrayId,
      jobName: executorJobName(manifest.jobType, member.jobId),
      arrayIndex: undefined,
    };
    if (update.status === ExecutorStatus.Succeeded || update.status === ExecutorStatus.Failed) {
      const text = await objects.getText(packedResultKey(manifestKey, member.jobId));
      const result = text === undefined ? undefined : PackedResultSchema.safeParse(JSON.parse(text)).data;
      memberUpdate = result
        ? {
            ...memberUpdate,
            status: result.exitCode === 0 ? ExecutorStatus.Succeeded : ExecutorStatus.Failed,
            ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : { exitCode: undefined }),
            statusReason:
              result.exitCode === 0
                ? 'Packed job exited'
                : (result.error ??
                  `Packed job exited with ${result.exitCode ?? result.signal ?? 'no exit code'}`),
            startedAt: new Date(result.startedAt),
            stoppedAt: new Date(result.stoppedAt),
          }
        : {
            ...memberUpdate,
            status: ExecutorStatus.Failed,
            exitCode: undefined,
            statusReason: `The pack's container ended before this job ran (${update.statusReason ?? update.status})`,
          };
    }
    const outcome = await updateJobWith(deps, member.jobId, (job) =>
      job.pack?.manifestKey === manifestKey && !isTerminal(job.state)
        ? nextJob(deps, job, memberUpdate, random)
        : undefined,
    ).catch((error: unknown) => {
      if (errorKindOf(error) === ErrorKind.NotFound) return undefined;
      throw error;
    });
    if (outcome?.changed && outcome.after.effectsPending) await runCompletionEffects(deps, outcome.after);
  });
}

async function readPackManifest(deps: OffpeakDeps, key: string): Promise<PackManifest | undefined> {
  const text = await requireObjects(deps).getText(key);
  return text === undefined ? undefined : PackManifestSchema.parse(JSON.parse(text));
}

/** Maps with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}
