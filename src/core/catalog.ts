import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import {
  type JobTypeDefinition,
  type JobTypeSpec,
  JobTypeSpecSchema,
  jobTypeVersion,
  toJobTypeSpec,
} from './job-type.js';
import { defaultQueues, type QueueSpec, type QueueSpecInput, QueueSpecSchema } from './queue-spec.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the callable arrives as `.default`.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ??
  (addFormatsModule as unknown as AddFormats);

/** The serializable catalog: every job type and queue. Bundled into the Lambdas; loaded by the local service. */
export const CatalogDataSchema = z
  .object({
    jobTypes: z.array(JobTypeSpecSchema),
    queues: z.array(QueueSpecSchema),
  })
  .strict();
export type CatalogData = z.infer<typeof CatalogDataSchema>;

/** A job type with its content version. */
export interface CatalogJobType extends JobTypeSpec {
  readonly version: string;
}

/** Issue found when validating a catalog, named by path. */
export interface CatalogIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Builds catalog data from authored definitions, reporting every problem at once (duplicate names, unknown
 * queues, duplicate Batch priorities, invalid specs).
 */
export function buildCatalogData(input: {
  readonly jobTypes: readonly JobTypeDefinition[];
  readonly queues?: readonly QueueSpecInput[];
}): CatalogData {
  const issues: CatalogIssue[] = [];
  const jobTypes: JobTypeSpec[] = [];
  input.jobTypes.forEach((definition, index) => {
    try {
      jobTypes.push(toJobTypeSpec(definition));
    } catch (error) {
      const message = error instanceof z.ZodError ? z.prettifyError(error) : String(error);
      issues.push({ path: `jobTypes[${index}] (${definition.name})`, message });
    }
  });
  const queues: QueueSpec[] = [];
  (input.queues ?? defaultQueues).forEach((queue, index) => {
    const parsed = QueueSpecSchema.safeParse(queue);
    if (parsed.success) queues.push(parsed.data);
    else issues.push({ path: `queues[${index}]`, message: z.prettifyError(parsed.error) });
  });
  issues.push(...catalogIssues({ jobTypes, queues }));
  if (issues.length > 0) {
    throw new ValidationError(
      'InvalidCatalog',
      `Invalid Offpeak configuration:\n${issues.map((i) => `- ${i.path}: ${i.message}`).join('\n')}`,
      { details: issues },
    );
  }
  return { jobTypes, queues };
}

function catalogIssues(data: CatalogData): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const seen = new Set<string>();
  for (const type of data.jobTypes) {
    if (seen.has(type.name))
      issues.push({ path: `jobTypes.${type.name}`, message: 'duplicate job type name' });
    seen.add(type.name);
  }
  const queueNames = new Set<string>();
  const priorities = new Map<number, string>();
  for (const queue of data.queues) {
    if (queueNames.has(queue.name))
      issues.push({ path: `queues.${queue.name}`, message: 'duplicate queue name' });
    queueNames.add(queue.name);
    const other = priorities.get(queue.batchPriority);
    if (other !== undefined) {
      issues.push({
        path: `queues.${queue.name}`,
        message: `batchPriority ${queue.batchPriority} also used by ${other}`,
      });
    }
    priorities.set(queue.batchPriority, queue.name);
  }
  for (const type of data.jobTypes) {
    if (!queueNames.has(type.queue)) {
      issues.push({ path: `jobTypes.${type.name}.queue`, message: `unknown queue "${type.queue}"` });
    }
  }
  issues.push(...reduceIssues(data.jobTypes));
  return issues;
}

/** A reduce step must name another, plain job type. */
function reduceIssues(jobTypes: readonly JobTypeSpec[]): CatalogIssue[] {
  const byName = new Map(jobTypes.map((t) => [t.name, t]));
  return jobTypes.flatMap((type) => {
    if (!type.reduce) return [];
    const target = byName.get(type.reduce.jobType);
    const path = `jobTypes.${type.name}.reduce.jobType`;
    if (!target) return [{ path, message: `unknown job type "${type.reduce.jobType}"` }];
    if (target.chunking || target.packing || target.name === type.name) {
      return [{ path, message: `"${target.name}" must be a plain job type (not chunked, packed or itself)` }];
    }
    return [];
  });
}

/** Read access to job types and queues, with compiled params validators. */
export class Catalog {
  readonly #types = new Map<string, CatalogJobType>();
  readonly #queues = new Map<string, QueueSpec>();
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));

  constructor(data: CatalogData) {
    const parsed = CatalogDataSchema.parse(data);
    const issues = catalogIssues(parsed);
    if (issues.length > 0) {
      throw new ValidationError('InvalidCatalog', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
        details: issues,
      });
    }
    for (const type of parsed.jobTypes)
      this.#types.set(type.name, { ...type, version: jobTypeVersion(type) });
    for (const queue of parsed.queues) this.#queues.set(queue.name, queue);
  }

  jobTypes(): CatalogJobType[] {
    return [...this.#types.values()];
  }

  queues(): QueueSpec[] {
    return [...this.#queues.values()];
  }

  /** @throws ValidationError `UnknownJobType` */
  jobType(name: string): CatalogJobType {
    const type = this.#types.get(name);
    if (!type) {
      throw new ValidationError('UnknownJobType', `Unknown job type "${name}"`, {
        details: { known: [...this.#types.keys()] },
      });
    }
    return type;
  }

  /** @throws ValidationError `UnknownQueue` */
  queue(name: string): QueueSpec {
    const queue = this.#queues.get(name);
    if (!queue) throw new ValidationError('UnknownQueue', `Unknown queue "${name}"`);
    return queue;
  }

  /** Validates params against the type's JSON Schema. @throws ValidationError `InvalidParams` with each issue. */
  validateParams(typeName: string, params: unknown): void {
    const type = this.jobType(typeName);
    const validate = this.#validators.get(typeName) ?? this.#ajv.compile(type.paramsSchema);
    this.#validators.set(typeName, validate);
    if (!validate(params)) {
      throw new ValidationError('InvalidParams', `params do not match the schema of job type "${typeName}"`, {
        details: (validate.errors ?? []).map(describeAjvError),
      });
    }
  }
}

function describeAjvError(error: ErrorObject): { path: string; message: string } {
  return { path: error.instancePath || '/', message: error.message ?? 'invalid' };
}
