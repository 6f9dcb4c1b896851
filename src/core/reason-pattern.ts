/**
 * Status-reason patterns of a retry policy: `*` matches any run of characters (including none), everything else
 * matches itself, case-sensitively, over the whole reason. The same spirit as Batch's `evaluateOnExit`
 * (`onStatusReason: 'Host EC2*'`), but `*` may appear anywhere. No regular expressions: a pattern from a job type
 * can never be slow to evaluate.
 *
 * @example matchesReasonPattern('Terminated: *', 'Terminated: Cancelled by user') // true
 */
export function matchesReasonPattern(pattern: string, reason: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === reason;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!reason.startsWith(first) || reason.length < first.length + last.length) return false;
  let position = first.length;
  const end = reason.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    if (middle === '') continue;
    const found = reason.indexOf(middle, position);
    if (found < 0 || found + middle.length > end) return false;
    position = found + middle.length;
  }
  return reason.endsWith(last);
}

/** True when `reason` is given and matches one of `patterns`. */
export function matchesAnyReason(patterns: readonly string[], reason: string | undefined): boolean {
  return reason !== undefined && patterns.some((pattern) => matchesReasonPattern(pattern, reason));
}
