/** The concurrency counter of an Offpeak queue. */
export function queueSlotCounter(queue: string): string {
  return `queue#${queue}`;
}

/** The concurrency counter of a job type (its `concurrency`). */
export function typeSlotCounter(type: string): string {
  return `type#${type}`;
}

/** The concurrency counter of one value of a job type's `concurrencyKey`. */
export function keySlotCounter(type: string, value: string): string {
  return `key#${type}#${value}`;
}

/** The counter of a shared resource's units. */
export function resourceSlotCounter(resource: string): string {
  return `resource#${resource}`;
}
