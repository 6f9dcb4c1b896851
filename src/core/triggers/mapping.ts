import { JMESPathTypeError, search } from '@aws-lambda-powertools/jmespath';
import { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * How a trigger turns its payload (webhook body, event, queue message) into job params, with JMESPath
 * (https://jmespath.org) — expressions, never code:
 * - a string: one expression whose result is the params object, e.g. `{ref: ref, repo: repository.full_name}`;
 * - a record: param name → expression, e.g. `{ ref: 'ref', repo: 'repository.full_name' }`; a `null` result
 *   (a missing field) leaves the param out, so the job type's schema decides whether that is allowed.
 */
export const ParamsMappingSchema = z.union([
  z.string().min(1).max(4096),
  z.record(z.string().min(1).max(128), z.string().min(1).max(1024)),
]);
export type ParamsMapping = z.infer<typeof ParamsMappingSchema>;

/** Errors of JMESPath that mean "this expression is not valid" (as opposed to a type mismatch on some data). */
function isSyntaxError(error: unknown): boolean {
  return error instanceof Error && !(error instanceof JMESPathTypeError);
}

/**
 * The syntax problem of an expression, or undefined when it parses. Evaluating on `{}` surfaces parse errors, unknown
 * functions and wrong arities; type errors on missing data are not problems of the expression.
 */
export function jmespathProblem(expression: string): string | undefined {
  try {
    search(expression, {});
    return undefined;
  } catch (error) {
    return isSyntaxError(error) ? (error as Error).message : undefined;
  }
}

/** Every syntax problem of a mapping, by the name it is under (`''` for a whole-object expression). */
export function mappingProblems(
  mapping: ParamsMapping,
): { readonly name: string; readonly problem: string }[] {
  const entries = typeof mapping === 'string' ? [['', mapping] as const] : Object.entries(mapping);
  return entries.flatMap(([name, expression]) => {
    const problem = jmespathProblem(expression);
    return problem ? [{ name, problem }] : [];
  });
}

/**
 * Applies a trigger's mapping to a payload: static `params` first, mapped values over them.
 *
 * @throws ValidationError `MappingFailed` (HTTP 422) when an expression fails on this payload or a whole-object
 *   expression does not produce an object
 */
export function mapParams(
  payload: unknown,
  mapping: ParamsMapping | undefined,
  params: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  if (mapping === undefined) return { ...params };
  if (typeof mapping === 'string') {
    const result = evaluate(mapping, payload, '');
    if (result === null || typeof result !== 'object' || Array.isArray(result)) {
      throw new ValidationError(
        'MappingFailed',
        `The mapping "${mapping}" produced ${describe(result)}, not an object of params`,
        { details: { expression: mapping, result: describe(result) } },
      );
    }
    return { ...params, ...withoutNulls(result as Record<string, unknown>) };
  }
  const mapped: Record<string, unknown> = { ...params };
  for (const [name, expression] of Object.entries(mapping)) {
    const value = evaluate(expression, payload, name);
    if (value !== null && value !== undefined) mapped[name] = value;
  }
  return mapped;
}

function evaluate(expression: string, payload: unknown, name: string): unknown {
  try {
    // The payload is parsed JSON; the library's JSONValue type is what JSON.parse returns.
    return search(expression, payload as Parameters<typeof search>[1]);
  } catch (error) {
    const where = name ? ` for param "${name}"` : '';
    throw new ValidationError(
      'MappingFailed',
      `The mapping expression "${expression}"${where} failed on this payload: ${(error as Error).message}`,
      { details: { param: name || undefined, expression, reason: (error as Error).message } },
    );
  }
}

function withoutNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null && v !== undefined));
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
