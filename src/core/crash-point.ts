/**
 * Named points in the core services where a process may die between two writes. Fault injection (local service
 * only, `--faults crash=<point>@<probability>`) kills the process there to prove that every such crash is
 * repaired; everywhere else `crashPoint` does nothing.
 */
export const CrashPoint = {
  /** submit: the idempotency key is claimed, the job is not written yet. */
  SubmitAfterKeyClaim: 'submit:after-key-claim',
  /** submit: the job is written, the dispatcher is not nudged yet. */
  SubmitAfterCreate: 'submit:after-create',
  /** dispatch: the job is claimed (SUBMITTING), no slot taken yet. */
  DispatchAfterClaim: 'dispatch:after-claim',
  /** dispatch: a slot is taken, nothing submitted yet. */
  DispatchAfterSlot: 'dispatch:after-slot',
  /** dispatch: the executor accepted the job, the job does not record it yet. */
  DispatchAfterSubmit: 'dispatch:after-submit',
  /** tracker: the state change is written, its completion effects have not run. */
  TrackAfterWrite: 'track:after-write',
  /** effects: the slot is back, the event and the dependents are not done yet. */
  EffectsAfterSlotRelease: 'effects:after-slot-release',
  /** effects: every effect ran, `effectsPending` is not cleared yet. */
  EffectsBeforeClear: 'effects:before-clear',
  /** retry release: the job is QUEUED again, its slot is not returned yet. */
  RetryReleaseAfterWrite: 'retry-release:after-write',
  /** cancel: the job is CANCELLED, its effects have not run. */
  CancelAfterWrite: 'cancel:after-write',
  /** redrive: the job or message is back in the queue, the dead letter is not marked redriven yet. */
  RedriveAfterRequeue: 'redrive:after-requeue',
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

export const crashPointNames = Object.values(CrashPoint) as readonly CrashPoint[];

/** The hook fault injection provides; absent in every deployed stack. */
export interface CrashPoints {
  /** Called when a service reaches `point`; may end the process. */
  reached(point: CrashPoint): void;
}

/**
 * Marks a point where a crash must be survivable. A no-op unless the local service was started with a crash
 * fault: the hook is only ever set by `src/local` from the service's own options, never from the environment.
 */
export function crashPoint(deps: { readonly crashPoints?: CrashPoints }, point: CrashPoint): void {
  deps.crashPoints?.reached(point);
}
