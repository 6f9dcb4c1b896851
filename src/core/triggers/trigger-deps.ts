import type { ScheduleRegistry } from '../../ports/schedule-registry.js';
import type { ScheduleStore } from '../../ports/schedule-store.js';
import type { SecretSource } from '../../ports/secret-source.js';
import type { OffpeakDeps } from '../deps.js';
import { NonRetryableError } from '../errors.js';

/** What the trigger services need beyond the core's deps. */
export interface TriggerDeps {
  readonly schedules: ScheduleStore;
  readonly registry: ScheduleRegistry;
  readonly secrets: SecretSource;
}

/** The trigger deps of a deployment. @throws NonRetryableError when this runtime was built without them */
export function triggerDeps(deps: OffpeakDeps): TriggerDeps {
  if (!deps.triggers) {
    throw new NonRetryableError(
      'TriggersNotConfigured',
      'This Offpeak runtime has no schedule store or secrets',
    );
  }
  return deps.triggers;
}
