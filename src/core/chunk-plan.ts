import { z } from 'zod';
import {
  type ChunkingSpec,
  type ChunkSizing,
  type CsvSpec,
  CsvSpecSchema,
  DEFAULT_CHUNK_BYTES,
  MAX_ARRAY_SIZE,
  MAX_CHUNKS,
} from './chunking-spec.js';
import { ValidationError } from './errors.js';

/**
 * A byte range of one object. The chunk owns the records that *start* inside `[start, end)` (design §3, the Hadoop
 * TextInputFormat rule): a reader seeks to `start - 1`, skips to the next newline, and reads past `end` to finish
 * its last record. A whole object is `[0, size)`.
 */
export const ChunkSegmentSchema = z.object({
  key: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
});
export type ChunkSegment = z.infer<typeof ChunkSegmentSchema>;

export const ManifestChunkSchema = z.object({
  index: z.number().int().min(0),
  segments: z.array(ChunkSegmentSchema),
});
export type ManifestChunk = z.infer<typeof ManifestChunkSchema>;

/**
 * Where each chunk's bytes are. `uniform`: one object cut into `count` equal ranges of `chunkBytes` (computed, so
 * the manifest stays tiny at any size); `listed`: explicit segments (prefix inputs, whole objects).
 */
export const ChunkLayoutSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('uniform'),
    key: z.string(),
    size: z.number().int().min(0),
    chunkBytes: z.number().int().min(1),
    count: z.number().int().min(1),
  }),
  z.object({ kind: z.literal('listed'), chunks: z.array(ManifestChunkSchema) }),
]);
export type ChunkLayout = z.infer<typeof ChunkLayoutSchema>;

/** How the chunk size was chosen, for the plan's reader (and the dry run). */
export const ChunkSizingDecisionSchema = z.object({
  /** What the size came from. */
  basis: z.enum(['bytes', 'records', 'duration', 'default']),
  /** The size asked for, in the basis' unit (bytes, records or seconds). */
  requested: z.number().optional(),
  /** Average record size of the sample, when sizing by records. */
  estimatedRecordBytes: z.number().optional(),
  /** Bytes per chunk after the max-chunks rule. */
  chunkBytes: z.number().int().min(1),
  /** True when chunks were made larger to stay within `maxChunks`. */
  grownToFit: z.boolean(),
  maxChunks: z.number().int().min(1),
});
export type ChunkSizingDecision = z.infer<typeof ChunkSizingDecisionSchema>;

/** The plan of one run of a chunked job, stored at `manifests/<jobId>/run-<n>.json`; the array index selects the chunk. */
export const ChunkManifestSchema = z.object({
  version: z.literal(1),
  jobId: z.string(),
  /** 1 for the first run; a retry of failed chunks is a new run over `select`. */
  run: z.number().int().min(1),
  createdAt: z.string(),
  input: z.object({
    kind: z.enum(['object', 'prefix']),
    uri: z.string(),
    objects: z.number().int().min(0),
    bytes: z.number().int().min(0),
    etag: z.string().optional(),
    /** Objects under the prefix left out: empty ones and folder markers. */
    skippedObjects: z.number().int().min(0).optional(),
  }),
  format: z.enum(['lines', 'jsonl', 'csv']),
  /** `byte-range`: objects are cut by the ownership rule; `whole-object`: each object is read whole by one chunk. */
  splitting: z.enum(['byte-range', 'whole-object']),
  csv: CsvSpecSchema.extend({ headerLine: z.string().optional() }).optional(),
  mode: z.enum(['streaming', 'environment']),
  commitEveryBytes: z.number().int().min(1).optional(),
  heartbeatSeconds: z.number().positive(),
  /** Key prefix of the output parts: `outputs/<jobId>/`. */
  outputPrefix: z.string(),
  /** The bucket the keys are in, as `s3://bucket/` (workers resolve keys against it). */
  bucketUri: z.string(),
  sizing: ChunkSizingDecisionSchema,
  /** Chunks of the whole plan (every run of the job shares the first run's chunks). */
  chunkCount: z.number().int().min(1),
  layout: ChunkLayoutSchema,
  /** Chunk indexes this run executes, in array order; absent: every chunk, index = array position. */
  select: z.array(z.number().int().min(0)).optional(),
  /** This run's array jobs: array `k` runs positions `offset..offset+size-1`. */
  arrays: z.array(z.object({ offset: z.number().int().min(0), size: z.number().int().min(1) })),
});
export type ChunkManifest = z.infer<typeof ChunkManifestSchema>;

/** An object as listed or headed. */
export interface InputObject {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

/** What the planner needs to know about the input: sizes only, plus a small sample for records sizing. */
export type PlanInput =
  | { readonly kind: 'object'; readonly uri: string; readonly object: InputObject }
  | { readonly kind: 'prefix'; readonly uri: string; readonly objects: readonly InputObject[] };

/** Size of the sample read from the start of the input (for records sizing and the CSV header). */
export const SAMPLE_BYTES = 64 * 1024;

/** The chunk layout of an input under a chunking spec: pure, from sizes (and an optional sample) alone. */
export interface ChunkLayoutPlan {
  readonly layout: ChunkLayout;
  readonly chunkCount: number;
  readonly sizing: ChunkSizingDecision;
  readonly splitting: 'byte-range' | 'whole-object';
  readonly bytes: number;
  readonly objects: number;
  readonly skippedObjects: number;
}

/**
 * Chooses the chunk size: the request's sizing over the job type's; bytes, else records (with the sample's average
 * record size), else a duration target (with the throughput estimate), else 64 MiB; then grown so that there are
 * at most `maxChunks` chunks.
 *
 * @throws ValidationError `InvalidChunkSize` for a size below one byte.
 */
export function chooseChunkBytes(
  spec: ChunkingSpec,
  overrides: ChunkSizing | undefined,
  totalBytes: number,
  sample?: Uint8Array,
): ChunkSizingDecision {
  const maxChunks = Math.min(MAX_CHUNKS, overrides?.maxChunks ?? spec.maxChunks ?? MAX_ARRAY_SIZE);
  const fromRequest =
    overrides && (overrides.chunkSizeBytes ?? overrides.chunkSizeRecords ?? overrides.targetChunkSeconds);
  const source = fromRequest !== undefined ? overrides! : spec;
  let decision: Omit<ChunkSizingDecision, 'grownToFit' | 'maxChunks'>;
  if (source.chunkSizeBytes !== undefined) {
    decision = { basis: 'bytes', requested: source.chunkSizeBytes, chunkBytes: source.chunkSizeBytes };
  } else if (source.chunkSizeRecords !== undefined) {
    const recordBytes = estimateRecordBytes(sample ?? new Uint8Array(), totalBytes);
    decision = {
      basis: 'records',
      requested: source.chunkSizeRecords,
      estimatedRecordBytes: recordBytes,
      chunkBytes: Math.ceil(source.chunkSizeRecords * recordBytes),
    };
  } else if (source.targetChunkSeconds !== undefined) {
    decision = {
      basis: 'duration',
      requested: source.targetChunkSeconds,
      chunkBytes: Math.ceil(source.targetChunkSeconds * spec.throughputBytesPerSecond),
    };
  } else {
    decision = { basis: 'default', chunkBytes: DEFAULT_CHUNK_BYTES };
  }
  if (!Number.isFinite(decision.chunkBytes) || decision.chunkBytes < 1) {
    throw new ValidationError(
      'InvalidChunkSize',
      `chunk size must be at least one byte, got ${decision.chunkBytes}`,
    );
  }
  const needed = Math.ceil(totalBytes / decision.chunkBytes);
  if (needed <= maxChunks) return { ...decision, grownToFit: false, maxChunks };
  return { ...decision, chunkBytes: Math.ceil(totalBytes / maxChunks), grownToFit: true, maxChunks };
}

/**
 * Average bytes per record in a sample from the start of the input (newline-terminated records). A sample with
 * no newline means records are at least as long as the sample (or the whole input, if that is shorter).
 */
export function estimateRecordBytes(sample: Uint8Array, totalBytes: number): number {
  let newlines = 0;
  let lastNewline = -1;
  for (let i = 0; i < sample.length; i++) {
    if (sample[i] === 0x0a) {
      newlines++;
      lastNewline = i;
    }
  }
  if (newlines === 0) return Math.max(1, Math.min(totalBytes, Math.max(sample.length, 1)));
  return Math.max(1, (lastNewline + 1) / newlines);
}

/**
 * Plans the chunks of an input from sizes alone.
 *
 * - One object, splittable: `ceil(size / chunkBytes)` byte ranges (an empty object is one empty chunk).
 * - One object, not splittable: one chunk.
 * - A prefix: objects larger than a chunk are cut into ranges (when splittable), the rest are grouped so that
 *   groups are balanced by size (largest first into the lightest group); empty objects and folder markers are
 *   left out. Chunks are ordered by key, so the plan of the same listing is always the same.
 *
 * @throws ValidationError `EmptyInput` (a prefix with no objects), `InvalidChunkSize`
 */
export function planChunkLayout(
  input: PlanInput,
  spec: ChunkingSpec,
  overrides?: ChunkSizing,
  sample?: Uint8Array,
): ChunkLayoutPlan {
  const splittable = spec.splittable;
  const splitting = splittable ? 'byte-range' : 'whole-object';
  if (input.kind === 'object') {
    const { object } = input;
    const sizing = chooseChunkBytes(spec, overrides, object.size, sample);
    const count = splittable ? Math.max(1, Math.ceil(object.size / sizing.chunkBytes)) : 1;
    const chunkBytes = splittable ? sizing.chunkBytes : Math.max(1, object.size);
    return {
      layout: { kind: 'uniform', key: object.key, size: object.size, chunkBytes, count },
      chunkCount: count,
      sizing,
      splitting,
      bytes: object.size,
      objects: 1,
      skippedObjects: 0,
    };
  }
  const objects = input.objects.filter((o) => o.size > 0 && !o.key.endsWith('/'));
  const skippedObjects = input.objects.length - objects.length;
  if (objects.length === 0) {
    throw new ValidationError('EmptyInput', `No non-empty objects under ${input.uri}`, {
      details: { listed: input.objects.length },
    });
  }
  const bytes = objects.reduce((sum, o) => sum + o.size, 0);
  const sizing = chooseChunkBytes(spec, overrides, bytes, sample);
  let chunkBytes = sizing.chunkBytes;
  for (;;) {
    const chunks = groupObjects(objects, chunkBytes, splittable);
    if (chunks.length <= sizing.maxChunks) {
      return {
        layout: { kind: 'listed', chunks },
        chunkCount: chunks.length,
        sizing: { ...sizing, chunkBytes, grownToFit: sizing.grownToFit || chunkBytes !== sizing.chunkBytes },
        splitting,
        bytes,
        objects: objects.length,
        skippedObjects,
      };
    }
    // More whole objects than chunks allowed at this size (or rounding of split objects): larger chunks.
    chunkBytes *= 2;
  }
}

function groupObjects(
  objects: readonly InputObject[],
  chunkBytes: number,
  splittable: boolean,
): ManifestChunk[] {
  const ranges: ChunkSegment[][] = [];
  const small: InputObject[] = [];
  for (const object of objects) {
    if (object.size > chunkBytes) {
      if (splittable) {
        for (let start = 0; start < object.size; start += chunkBytes) {
          ranges.push([{ key: object.key, start, end: Math.min(object.size, start + chunkBytes) }]);
        }
      } else {
        ranges.push([{ key: object.key, start: 0, end: object.size }]);
      }
    } else {
      small.push(object);
    }
  }
  const smallBytes = small.reduce((sum, o) => sum + o.size, 0);
  const groups = Math.min(small.length, Math.ceil(smallBytes / chunkBytes));
  const bins = balance(small, groups);
  const all = [...ranges, ...bins.map((bin) => bin.map((o) => ({ key: o.key, start: 0, end: o.size })))];
  for (const segments of all) segments.sort(compareSegments);
  all.sort((a, b) => compareSegments(a[0]!, b[0]!));
  return all.map((segments, index) => ({ index, segments }));
}

/** Largest first into the lightest bin (LPT): each bin within `max object` of the ideal. */
function balance(objects: readonly InputObject[], bins: number): InputObject[][] {
  if (bins <= 0) return [];
  const heap = new MinHeap<{ bytes: number; id: number; items: InputObject[] }>((a, b) =>
    a.bytes === b.bytes ? a.id - b.id : a.bytes - b.bytes,
  );
  for (let id = 0; id < bins; id++) heap.push({ bytes: 0, id, items: [] });
  const sorted = [...objects].sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : 1));
  for (const object of sorted) {
    const bin = heap.pop()!;
    bin.items.push(object);
    bin.bytes += object.size;
    heap.push(bin);
  }
  return heap.drain().map((bin) => bin.items);
}

function compareSegments(a: ChunkSegment, b: ChunkSegment): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start;
}

/** The segments of chunk `index` of a plan. @throws RangeError outside the plan */
export function chunkSegments(layout: ChunkLayout, index: number): ChunkSegment[] {
  if (layout.kind === 'uniform') {
    if (!Number.isInteger(index) || index < 0 || index >= layout.count) {
      throw new RangeError(`chunk ${index} is outside the plan (0..${layout.count - 1})`);
    }
    const start = index * layout.chunkBytes;
    const end = index === layout.count - 1 ? layout.size : Math.min(layout.size, start + layout.chunkBytes);
    return [{ key: layout.key, start, end }];
  }
  const chunk = layout.chunks[index];
  if (!chunk) throw new RangeError(`chunk ${index} is outside the plan (0..${layout.chunks.length - 1})`);
  return chunk.segments;
}

/** Bytes a chunk owns (the sum of its ranges). */
export function chunkBytesOf(layout: ChunkLayout, index: number): number {
  return chunkSegments(layout, index).reduce((sum, s) => sum + (s.end - s.start), 0);
}

/** The chunk index that array child `position` (across the run's arrays) runs. */
export function chunkIndexAt(
  manifest: Pick<ChunkManifest, 'select' | 'chunkCount'>,
  position: number,
): number {
  const index = manifest.select ? manifest.select[position] : position;
  if (index === undefined || index < 0 || index >= manifest.chunkCount) {
    throw new RangeError(`array position ${position} is outside the run`);
  }
  return index;
}

/**
 * Cuts `count` runnable units into Batch array jobs of at most 10,000 children. One unit is a plain job (an
 * array of size 1 is submitted without array properties).
 */
export function arrayJobsFor(
  count: number,
  maxSize: number = MAX_ARRAY_SIZE,
): { offset: number; size: number }[] {
  const arrays: { offset: number; size: number }[] = [];
  for (let offset = 0; offset < count; offset += maxSize) {
    arrays.push({ offset, size: Math.min(maxSize, count - offset) });
  }
  return arrays;
}

/** `[0,1,2,5,7,8]` → `0-2,5,7-8` (sorted, deduplicated). */
export function encodeIndexRanges(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Inverse of {@link encodeIndexRanges}. */
export function decodeIndexRanges(text: string): number[] {
  if (text === '') return [];
  return text.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) throw new RangeError(`bad index range "${part}"`);
    const last = to ?? from;
    return Array.from({ length: last - from + 1 }, (_, i) => from + i);
  });
}

/** `outputs/<jobId>/part-<chunk>`: deterministic, so a rerun overwrites instead of duplicating. */
export function chunkPartKey(jobId: string, index: number): string {
  return `outputs/${jobId}/part-${String(index).padStart(5, '0')}`;
}

/** The chunk index of a part key, or undefined. */
export function chunkIndexOfPartKey(jobId: string, key: string): number | undefined {
  const prefix = `outputs/${jobId}/part-`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/** `checkpoints/<jobId>/chunk-<chunk>.json`: the worker's progress, checkpoint and outcome of one chunk. */
export function chunkCheckpointKey(jobId: string, index: number): string {
  return `checkpoints/${jobId}/chunk-${String(index).padStart(5, '0')}.json`;
}

/** `manifests/<jobId>/run-<n>.json`. */
export function runManifestKey(jobId: string, run: number): string {
  return `manifests/${jobId}/run-${run}.json`;
}

/** `outputs/<jobId>/_manifest.json`: the result manifest (parts, failed chunks). */
export function resultManifestKey(jobId: string): string {
  return `outputs/${jobId}/_manifest.json`;
}

/**
 * Parses a CSV header line (RFC 4180 quoting). A header that does not parse fails planning with a clear error
 * instead of feeding every chunk a broken header.
 *
 * @throws ValidationError `InvalidCsvHeader`
 */
export function parseCsvHeader(line: string, csv: Pick<CsvSpec, 'delimiter'>): string[] {
  const fail = (why: string): never => {
    throw new ValidationError('InvalidCsvHeader', `CSV header does not parse: ${why}`, {
      details: { header: line.slice(0, 200) },
    });
  };
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') fail('the first line is empty');
  if ([...text].some(isControl)) fail('it contains control characters or invalid UTF-8');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('a quoted field is not closed');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i];
        i++;
      }
      if (i < text.length && text[i] !== csv.delimiter)
        fail(`unexpected character after a quoted field at ${i}`);
    } else {
      while (i < text.length && text[i] !== csv.delimiter) {
        if (text[i] === '"') fail(`a quote inside an unquoted field at ${i}`);
        field += text[i];
        i++;
      }
    }
    if (field.trim() === '') fail(`column ${fields.length + 1} has no name`);
    fields.push(field);
    if (i >= text.length) break;
    i++; // delimiter
  }
  return fields;
}

/** C0 controls other than tab, and the replacement character that invalid UTF-8 decodes to. */
function isControl(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return (code < 0x20 && code !== 0x09) || code === 0x7f || code === 0xfffd;
}

/** The first line of a sample (without its newline), or undefined when the sample holds no complete line. */
export function firstLine(sample: Uint8Array, wholeObject: boolean): string | undefined {
  const newline = sample.indexOf(0x0a);
  if (newline < 0) return wholeObject ? new TextDecoder().decode(sample) : undefined;
  return new TextDecoder().decode(sample.subarray(0, newline));
}

class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(readonly compare: (a: T, b: T) => number) {}

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.compare(items[l]!, items[m]!) < 0) m = l;
        if (r < items.length && this.compare(items[r]!, items[m]!) < 0) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  drain(): T[] {
    return [...this.#items];
  }
}
