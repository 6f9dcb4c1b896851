import { type EventPattern, escapeWildcard } from './event-pattern.js';
import type { UploadTrigger } from './trigger-config.js';
import { UPLOADS_PREFIX } from './trigger-messages.js';

/**
 * The EventBridge rule pattern of an upload trigger: S3 "Object Created" events of the bucket under
 * `inputs/<prefix>`, with a `wildcard` per suffix when suffixes are given. The CDK rule and the local router use
 * this same pattern.
 */
export function uploadRulePattern(
  trigger: Pick<UploadTrigger, 'prefix' | 'suffixes'>,
  bucketName: string,
): EventPattern {
  const prefix = `${UPLOADS_PREFIX}${trigger.prefix}`;
  return {
    source: ['aws.s3'],
    'detail-type': ['Object Created'],
    detail: {
      bucket: { name: [bucketName] },
      object: {
        key: trigger.suffixes
          ? trigger.suffixes.map((suffix) => ({
              wildcard: `${escapeWildcard(prefix)}*${escapeWildcard(suffix)}`,
            }))
          : [{ prefix }],
      },
    },
  };
}
