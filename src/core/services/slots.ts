/** The concurrency counter of an Offpeak queue. */
export function queueSlotCounter(queue: string): string {
  return `queue#${queue}`;
}
