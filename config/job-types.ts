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

export const exampleJobTypes = [hello, nightlyBackup];
