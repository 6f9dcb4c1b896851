import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { findCycle } from './dag.js';
import { ValidationError } from './errors.js';
import {
  type JobTypeDefinition,
  type JobTypeSpec,
  JobTypeSpecSchema,
  jobTypeVersion,
  toJobTypeSpec,
} from './job-type.js';
import { defaultQueues, type QueueSpec, type QueueSpecInput, QueueSpecSchema } from './queue-spec.js';
import { type ResourceSpec, type ResourceSpecInput, ResourceSpecSchema } from './resource-spec.js';
import {
  noTriggers,
  type TriggersConfig,
  TriggersConfigSchema,
  type TriggersInput,
  triggerIssues,
} from './triggers/trigger-config.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the callable arrives as `.default`.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ??
  (addFormatsModule as unknown as AddFormats);

/**
 * The serializable catalog: every job type, queue and shared resource. Bundled into the Lambdas; loaded by the local
 * service.
 */
export const CatalogDataSchema = z
  .object({
    jobTypes: z.array(JobTypeSpecSchema),
    queues: z.array(QueueSpecSchema),
    /** Absent in catalogs written before resources existed: none. */
    resources: z.array(ResourceSpecSchema).optional(),
    /** Schedules, uploads, webhooks, queues and events that submit jobs (docs/triggers.md). @default none */
    triggers: TriggersConfigSchema.optional(),
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
  /** Shared resources job types hold units of. @default [] */
  readonly resources?: readonly ResourceSpecInput[];
  readonly triggers?: TriggersInput;
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
  const resources: ResourceSpec[] = [];
  (input.resources ?? []).forEach((resource, index) => {
    const parsed = ResourceSpecSchema.safeParse(resource);
    if (parsed.success) resources.push(parsed.data);
    else issues.push({ path: `resources[${index}]`, message: z.prettifyError(parsed.error) });
  });
  let triggers: TriggersConfig | undefined;
  if (input.triggers !== undefined) {
    const parsed = TriggersConfigSchema.safeParse(input.triggers);
    if (parsed.success) triggers = parsed.data;
    else issues.push({ path: 'triggers', message: z.prettifyError(parsed.error) });
  }
  const data: CatalogData = { jobTypes, queues, resources, ...(triggers ? { triggers } : {}) };
  issues.push(...catalogIssues(data));
  if (issues.length === 0) {
    // Follow-up params are checked against their type's schema, which needs the compiled catalog.
    try {
      new Catalog(data);
    } catch (error) {
      if (error instanceof ValidationError && Array.isArray(error.details))
        issues.push(...(error.details as CatalogIssue[]));
      else throw error;
    }
  }
  if (issues.length === 0 && triggers) issues.push(...scheduleParamIssues(data));
  if (issues.length > 0) {
    throw new ValidationError(
      'InvalidCatalog',
      `Invalid Offpeak configuration:\n${issues.map((i) => `- ${i.path}: ${i.message}`).join('\n')}`,
      { details: issues },
    );
  }
  return data;
}

/** Declared schedules carry complete params: check them against their job type's schema now, not at 2 a.m. */
function scheduleParamIssues(data: CatalogData): CatalogIssue[] {
  const catalog = new Catalog(data);
  return (data.triggers?.schedules ?? []).flatMap((schedule, index) => {
    try {
      catalog.validateParams(schedule.jobType, schedule.params);
      return [];
    } catch (error) {
      const details = (error as ValidationError).details as { path: string; message: string }[] | undefined;
      return [
        {
          path: `triggers.schedules[${index}] (${schedule.id}).params`,
          message: (details ?? []).map((d) => `${d.path} ${d.message}`).join('; ') || String(error),
        },
      ];
    }
  });
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
  const resources = new Map<string, ResourceSpec>();
  for (const resource of data.resources ?? []) {
    if (resources.has(resource.name))
      issues.push({ path: `resources.${resource.name}`, message: 'duplicate resource name' });
    resources.set(resource.name, resource);
  }
  const typeNames = new Set(data.jobTypes.map((t) => t.name));
  for (const type of data.jobTypes) {
    if (!queueNames.has(type.queue)) {
      issues.push({ path: `jobTypes.${type.name}.queue`, message: `unknown queue "${type.queue}"` });
    }
    for (const [name, units] of Object.entries(type.resources ?? {})) {
      const resource = resources.get(name);
      if (!resource) {
        issues.push({
          path: `jobTypes.${type.name}.resources.${name}`,
          message: `unknown resource "${name}"`,
        });
      } else if (resource.limit > 0 && units > resource.limit) {
        issues.push({
          path: `jobTypes.${type.name}.resources.${name}`,
          message: `needs ${units} units but the resource's limit is ${resource.limit}: it could never run`,
        });
      }
    }
    for (const [kind, followUps] of [
      ['onSuccess', type.onSuccess ?? []],
      ['onFailure', type.onFailure ?? []],
    ] as const) {
      followUps.forEach((followUp, index) => {
        if (!typeNames.has(followUp.type)) {
          issues.push({
            path: `jobTypes.${type.name}.${kind}[${index}]`,
            message: `unknown job type "${followUp.type}"`,
          });
        }
      });
    }
  }
  const followUpsOf = (name: string) => {
    const type = data.jobTypes.find((t) => t.name === name);
    return [...(type?.onSuccess ?? []), ...(type?.onFailure ?? [])].map((f) => f.type);
  };
  const cycle = findCycle([...typeNames], followUpsOf);
  if (cycle) {
    issues.push({
      path: `jobTypes.${cycle[0]}`,
      message: `follow-up jobs form a cycle (${cycle.join(' → ')}): one job would start the next forever`,
    });
  }
  if (data.triggers)
    issues.push(
      ...triggerIssues(
        data.triggers,
        data.jobTypes.map((t) => t.name),
      ),
    );
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

/** Read access to job types, queues and resources, with compiled params validators. */
export class Catalog {
  readonly #types = new Map<string, CatalogJobType>();
  readonly #queues = new Map<string, QueueSpec>();
  readonly #resources = new Map<string, ResourceSpec>();
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));
  readonly #triggers: TriggersConfig;

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
    for (const resource of parsed.resources ?? []) this.#resources.set(resource.name, resource);
    const followUpIssues = this.#followUpIssues();
    if (followUpIssues.length > 0) {
      throw new ValidationError(
        'InvalidCatalog',
        followUpIssues.map((i) => `${i.path}: ${i.message}`).join('; '),
        { details: followUpIssues },
      );
    }
    this.#triggers = parsed.triggers ?? noTriggers;
  }

  /** The triggers declared in code (none when the catalog has none). */
  triggers(): TriggersConfig {
    return this.#triggers;
  }

  jobTypes(): CatalogJobType[] {
    return [...this.#types.values()];
  }

  queues(): QueueSpec[] {
    return [...this.#queues.values()];
  }

  resources(): ResourceSpec[] {
    return [...this.#resources.values()];
  }

  /** The queue named `name`, or undefined. */
  findQueue(name: string): QueueSpec | undefined {
    return this.#queues.get(name);
  }

  /** The resource named `name`, or undefined. */
  findResource(name: string): ResourceSpec | undefined {
    return this.#resources.get(name);
  }

  /** @throws ValidationError `UnknownResource` */
  resource(name: string): ResourceSpec {
    const resource = this.#resources.get(name);
    if (!resource) {
      throw new ValidationError('UnknownResource', `Unknown resource "${name}"`, {
        details: { known: [...this.#resources.keys()] },
      });
    }
    return resource;
  }

  /** Job types that hold units of `resource`. */
  jobTypesUsing(resource: string): CatalogJobType[] {
    return this.jobTypes().filter((t) => t.resources?.[resource] !== undefined);
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

  #followUpIssues(): CatalogIssue[] {
    const issues: CatalogIssue[] = [];
    for (const type of this.#types.values()) {
      for (const [kind, followUps] of [
        ['onSuccess', type.onSuccess ?? []],
        ['onFailure', type.onFailure ?? []],
      ] as const) {
        followUps.forEach((followUp, index) => {
          try {
            this.validateParams(followUp.type, followUp.params);
          } catch (error) {
            issues.push({
              path: `jobTypes.${type.name}.${kind}[${index}].params`,
              message: error instanceof Error ? error.message : String(error),
            });
          }
        });
      }
    }
    return issues;
  }
}

function describeAjvError(error: ErrorObject): { path: string; message: string } {
  return { path: error.instancePath || '/', message: error.message ?? 'invalid' };
}
