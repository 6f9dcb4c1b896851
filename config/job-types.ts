import { z } from 'zod';
import { defineJobType } from '../src/core/job-type.js';

/**
 * The example job types shipped with Offpeak. Declare your own the same way and pass them to the `Offpeak`
 * construct (bin/offpeak.ts) — the local service (`npm start`) reads this same list.
 *
 * Params reach the container as JSON in `OFFPEAK_PARAMS`; each top-level string/number param is also exported as
 * `OFFPEAK_PARAM_<NAME>` (upper-cased) so shell commands can use them directly.
 */
export const hello = defineJobType({
  name: 'hello',
  description: 'Greets someone, optionally failing with a given exit code (for demos and tests).',
  image: 'public.ecr.aws/docker/library/busybox:stable',
  command: [
    'sh',
    '-c',
    'echo "hello, ${OFFPEAK_PARAM_NAME:-world}"; sleep "${OFFPEAK_PARAM_SLEEPSECONDS:-0}"; exit "${OFFPEAK_PARAM_EXITCODE:-0}"',
  ],
  params: z
    .object({
      name: z.string().min(1).max(100).optional(),
      /** Exit code to end with: non-zero makes the job fail. */
      exitCode: z.number().int().min(0).max(255).optional(),
      sleepSeconds: z.number().min(0).max(3600).optional(),
    })
    .strict(),
  retry: { attempts: 1 },
  queue: 'normal',
});

export const nightlyBackup = defineJobType({
  name: 'nightly-backup',
  description: 'Archives a folder into a dated tar.gz (on AWS: uploads it to the Offpeak bucket).',
  image: 'public.ecr.aws/aws-cli/aws-cli:latest',
  command: [
    'sh',
    '-c',
    'set -eu; out="/tmp/${OFFPEAK_PARAM_LABEL:-backup}-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"; ' +
      'tar -czf "$out" -C "$OFFPEAK_PARAM_SOURCE" .; ' +
      'aws s3 cp "$out" "s3://$OFFPEAK_BUCKET/backups/$(basename "$out")"',
  ],
  localCommand: [
    'sh',
    '-c',
    'set -eu; mkdir -p "$OFFPEAK_LOCAL_DIR/backups"; ' +
      'out="$OFFPEAK_LOCAL_DIR/backups/${OFFPEAK_PARAM_LABEL:-backup}-$(date -u +%Y%m%dT%H%M%SZ)-$OFFPEAK_JOB_ID.tar.gz"; ' +
      'tar -czf "$out" -C "$OFFPEAK_PARAM_SOURCE" . && echo "archived $OFFPEAK_PARAM_SOURCE to $out"',
  ],
  params: z
    .object({
      source: z.string().min(1).max(1024),
      label: z
        .string()
        .regex(/^[a-z0-9-]{1,40}$/)
        .optional(),
    })
    .strict(),
  vcpu: 0.5,
  memoryMiB: 1024,
  timeoutSeconds: 2 * 3600,
  retry: { attempts: 3, baseDelaySeconds: 30, maxDelaySeconds: 600 },
  queue: 'low',
});

/**
 * End-of-day settlement, map step (chunked): a CSV of the day's transactions (`txn_id,merchant_bank,amount_cents`)
 * is cut into byte-range chunks; each chunk's records stream through awk, which prints one subtotal line per
 * merchant bank (`bank,amountCents,transactions`) as the chunk's output part. The reduce step adds them up.
 *
 * Chunked job types run the worker in front of the command: their image needs Node and the worker bundle at
 * `/opt/offpeak/worker.mjs` (`npm run build:worker`, see docs/chunking.md).
 */
export const settlementMap = defineJobType({
  name: 'settlement-map',
  description: 'End-of-day settlement, map: per-bank subtotals of a chunk of the transactions CSV.',
  image: 'public.ecr.aws/docker/library/node:22-alpine',
  command: [
    'awk',
    '-F,',
    'NR == 1 { next } { sum[$2] += $3; n[$2]++ } END { for (b in sum) printf "%s,%d,%d\\n", b, sum[b], n[b] }',
  ],
  chunking: { format: 'csv', chunkSizeBytes: 64 * 1024 * 1024, mode: 'streaming' },
  failurePolicy: { toleratedFailurePercent: 0, toleratedFailureCount: 0 },
  reduce: { jobType: 'settlement-reduce' },
  retry: { attempts: 3, baseDelaySeconds: 10, maxDelaySeconds: 300 },
  vcpu: 0.5,
  memoryMiB: 1024,
  queue: 'normal',
});

/** End-of-day settlement, reduce step: totals per merchant bank over the map step's result manifest. */
export const settlementReduce = defineJobType({
  name: 'settlement-reduce',
  description: 'End-of-day settlement, reduce: totals per merchant bank from the map step result manifest.',
  image: 'public.ecr.aws/docker/library/node:22-alpine',
  command: ['node', '/opt/offpeak/settlement-reduce.mjs'],
  localCommand: ['node', '--import', 'tsx', 'examples/settlement/reduce.ts'],
  retry: { attempts: 2, baseDelaySeconds: 10, maxDelaySeconds: 60 },
  queue: 'normal',
});

/**
 * Many tiny jobs (e.g. one per webhook) packed together: jobs submitted within 5 s of each other share one array
 * job, 100 per container start.
 */
export const notify = defineJobType({
  name: 'notify',
  description: 'Sends one notification (a small job: packed with others submitted close together).',
  image: 'public.ecr.aws/docker/library/node:22-alpine',
  command: ['sh', '-c', 'echo "notify ${OFFPEAK_PARAM_TO:-nobody}: ${OFFPEAK_PARAM_MESSAGE:-}"'],
  params: z.object({ to: z.string().min(1).max(200), message: z.string().max(1000).optional() }).strict(),
  packing: { windowSeconds: 5, jobsPerChild: 100, maxJobs: 10_000 },
  retry: { attempts: 2, baseDelaySeconds: 5, maxDelaySeconds: 60 },
  queue: 'normal',
});

export const exampleJobTypes = [hello, nightlyBackup, settlementMap, settlementReduce, notify];
