/**
 * EventBridge event patterns (content filtering), for routing local events the way rules route them on AWS, and
 * for checking patterns before they are deployed. Supported: exact values (strings, numbers, booleans, null),
 * `prefix`, `suffix`, `equals-ignore-case`, `wildcard`, `anything-but` (a value, a list, or a prefix/suffix),
 * `numeric` and `exists`; nested objects match nested fields, and an event array matches when any element does.
 * Anything else (`cidr`, `$or`, …) is rejected by {@link eventPatternProblems}, so a pattern never means something
 * locally that it does not mean on AWS.
 */
export type EventPattern = { readonly [key: string]: EventPattern | readonly unknown[] };

const NUMERIC_OPERATORS = ['<', '<=', '=', '>', '>='] as const;

/** Problems with a pattern, by path; empty when EventBridge and the local matcher agree on what it means. */
export function eventPatternProblems(pattern: unknown, path = ''): string[] {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    return [`${path || 'pattern'}: must be an object`];
  }
  const entries = Object.entries(pattern);
  if (entries.length === 0) return [`${path || 'pattern'}: must not be empty`];
  return entries.flatMap(([key, value]) => {
    const here = path ? `${path}.${key}` : key;
    if (key.startsWith('$')) return [`${here}: ${key} is not supported`];
    if (Array.isArray(value)) {
      if (value.length === 0) return [`${here}: an empty list matches nothing`];
      return value.flatMap((item, i) => matcherProblems(item, `${here}[${i}]`));
    }
    if (value !== null && typeof value === 'object') return eventPatternProblems(value, here);
    return [`${here}: values must be lists (e.g. ["${String(value)}"]) or nested objects`];
  });
}

function matcherProblems(item: unknown, path: string): string[] {
  if (item === null || ['string', 'number', 'boolean'].includes(typeof item)) return [];
  if (typeof item !== 'object' || Array.isArray(item)) return [`${path}: not a value or an operator`];
  const entries = Object.entries(item);
  if (entries.length !== 1) return [`${path}: an operator object has exactly one key`];
  const [operator, operand] = entries[0]!;
  switch (operator) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard':
      return typeof operand === 'string' ? [] : [`${path}: ${operator} takes a string`];
    case 'exists':
      return typeof operand === 'boolean' ? [] : [`${path}: exists takes true or false`];
    case 'anything-but': {
      if (Array.isArray(operand)) {
        return operand.every((v) => typeof v === 'string' || typeof v === 'number')
          ? []
          : [`${path}: anything-but takes strings or numbers`];
      }
      if (typeof operand === 'string' || typeof operand === 'number') return [];
      if (operand !== null && typeof operand === 'object') {
        const [inner, value, ...rest] = Object.entries(operand).flat();
        return rest.length === 0 && (inner === 'prefix' || inner === 'suffix') && typeof value === 'string'
          ? []
          : [`${path}: anything-but takes a value, a list, {prefix} or {suffix}`];
      }
      return [`${path}: anything-but takes a value, a list, {prefix} or {suffix}`];
    }
    case 'numeric': {
      if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
        return [`${path}: numeric takes [op, number] or [op, number, op, number]`];
      }
      for (let i = 0; i < operand.length; i += 2) {
        if (!NUMERIC_OPERATORS.includes(operand[i]) || typeof operand[i + 1] !== 'number') {
          return [`${path}: numeric operators are ${NUMERIC_OPERATORS.join(' ')} followed by a number`];
        }
      }
      return [];
    }
    default:
      return [`${path}: operator "${operator}" is not supported`];
  }
}

/** Whether an event (EventBridge envelope: source, detail-type, detail, …) matches a pattern. */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([key, expected]) => {
    const present = Object.hasOwn(record, key);
    const actual = record[key];
    if (!Array.isArray(expected)) return present && matchesEventPattern(expected as EventPattern, actual);
    const values = Array.isArray(actual) ? actual : [actual];
    return expected.some((matcher) => {
      if (isExists(matcher)) return matcher.exists === (present && actual !== null && actual !== undefined);
      return present && values.some((value) => matchesValue(matcher, value));
    });
  });
}

function isExists(matcher: unknown): matcher is { exists: boolean } {
  return matcher !== null && typeof matcher === 'object' && Object.hasOwn(matcher, 'exists');
}

function matchesValue(matcher: unknown, value: unknown): boolean {
  if (matcher === null || typeof matcher !== 'object') return matcher === value;
  const [operator, operand] = Object.entries(matcher)[0] as [string, unknown];
  const text = typeof value === 'string' ? value : '';
  const isText = typeof value === 'string';
  switch (operator) {
    case 'prefix':
      return isText && text.startsWith(operand as string);
    case 'suffix':
      return isText && text.endsWith(operand as string);
    case 'equals-ignore-case':
      return isText && text.toLowerCase() === (operand as string).toLowerCase();
    case 'wildcard':
      return isText && wildcardRegExp(operand as string).test(text);
    case 'anything-but': {
      if (Array.isArray(operand)) return value !== undefined && !operand.includes(value);
      if (operand !== null && typeof operand === 'object') {
        const [inner, affix] = Object.entries(operand)[0] as [string, string];
        if (!isText) return false;
        return inner === 'prefix' ? !text.startsWith(affix) : !text.endsWith(affix);
      }
      return value !== undefined && value !== operand;
    }
    case 'numeric': {
      if (typeof value !== 'number') return false;
      const conditions = operand as unknown[];
      for (let i = 0; i < conditions.length; i += 2) {
        const bound = conditions[i + 1] as number;
        const ok =
          conditions[i] === '<'
            ? value < bound
            : conditions[i] === '<='
              ? value <= bound
              : conditions[i] === '='
                ? value === bound
                : conditions[i] === '>'
                  ? value > bound
                  : value >= bound;
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** EventBridge wildcards: `*` matches any run of characters; `\*` and `\\` are literal. */
function wildcardRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (char === '*') source += '.*';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 's');
}

/** Escapes a literal for an EventBridge `wildcard` operand. */
export function escapeWildcard(text: string): string {
  return text.replace(/[\\*]/g, (c) => `\\${c}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
