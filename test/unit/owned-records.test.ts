import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkSegments, planChunkLayout } from '../../src/core/chunk-plan.js';
import { ChunkingSpecSchema } from '../../src/core/chunking-spec.js';
import { BinaryInputError, ownedRecords, readStartFor } from '../../src/worker/owned-records.js';

/** Yields `bytes[from..]` in pieces of the given sizes (cycled), as an S3 body would. */
async function* pieces(bytes: Buffer, from: number, sizes: readonly number[]): AsyncIterable<Uint8Array> {
  let at = from;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function chunkOutput(
  file: Buffer,
  start: number,
  end: number,
  sizes: readonly number[],
  skipFirstRecord = false,
) {
  const parts: Buffer[] = [];
  const gen = ownedRecords(pieces(file, readStartFor(start), sizes), {
    readFrom: readStartFor(start),
    start,
    end,
    skipFirstRecord: skipFirstRecord && start === 0,
    requireText: true,
  });
  let result = await gen.next();
  while (!result.done) {
    parts.push(Buffer.from(result.value));
    result = await gen.next();
  }
  return { bytes: Buffer.concat(parts), stats: result.value };
}

/** The file's records: lines split on \n, a trailing newline ends the last record (no empty record after it). */
function records(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

const line = fc
  .array(
    fc.oneof(
      fc.constantFrom('a', 'b', ',', ' ', '"', '{', '}', 'é', '€', '😀', '\u4e2d', '\r'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 3 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join('').replaceAll('\n', ''));

const file = fc
  .record({
    lines: fc.array(line, { minLength: 0, maxLength: 60 }),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map(({ lines, crlf, finalNewline }) => {
    const eol = crlf ? '\r\n' : '\n';
    const body = lines.join(eol);
    return lines.length === 0 ? '' : finalNewline ? body + eol : body;
  });

describe('ownedRecords (design §3 ownership rule)', () => {
  it('property: every record of the file is in exactly one chunk, whatever the chunk size and read pieces', async () => {
    await fc.assert(
      fc.asyncProperty(
        file,
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 5 }),
        async (text, chunkSizeBytes, sizes) => {
          const bytes = Buffer.from(text, 'utf8');
          const spec = ChunkingSpecSchema.parse({ chunkSizeBytes, maxChunks: 100_000 });
          const plan = planChunkLayout(
            { kind: 'object', uri: 's3://b/in', object: { key: 'in', size: bytes.length } },
            spec,
          );
          const outputs: string[] = [];
          let counted = 0;
          for (let i = 0; i < plan.chunkCount; i++) {
            const [segment] = chunkSegments(plan.layout, i);
            const { bytes: out, stats } = await chunkOutput(bytes, segment!.start, segment!.end, sizes);
            outputs.push(out.toString('utf8'));
            counted += stats.records;
            // Each chunk yields whole records only: a chunk not ending in a newline holds the file's last record.
            if (out.length > 0 && out.at(-1) !== 0x0a) expect(text.endsWith(out.toString('utf8'))).toBe(true);
          }
          expect(outputs.join('')).toBe(text);
          expect(outputs.flatMap(records)).toEqual(records(text));
          expect(counted).toBe(records(text).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: with a CSV header skipped, the chunks hold every record but the first', async () => {
    await fc.assert(
      fc.asyncProperty(file, fc.integer({ min: 1, max: 64 }), async (text, size) => {
        const bytes = Buffer.from(text, 'utf8');
        const count = Math.max(1, Math.ceil(bytes.length / size));
        let joined = '';
        for (let i = 0; i < count; i++) {
          const start = i * size;
          const end = i === count - 1 ? bytes.length : start + size;
          joined += (await chunkOutput(bytes, start, end, [5], true)).bytes.toString('utf8');
        }
        expect(records(joined)).toEqual(records(text).slice(1));
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    // [file, start, end, expected]
    ['a\nb\nc\n', 0, 2, 'a\n'],
    ['a\nb\nc\n', 2, 4, 'b\n'],
    ['a\nb\nc\n', 1, 2, ''], // b starts at 2, which is not inside [1, 2)
    ['a\nb\nc\n', 1, 3, 'b\n'],
    ['aaaa\nb\n', 1, 3, ''], // the record in progress belongs to the previous chunk; none starts in [1,3)
    ['aaaa\nb\n', 0, 1, 'aaaa\n'], // reads past end to finish its only record
    ['x\r\ny\r\n', 3, 6, 'y\r\n'],
    ['last', 0, 4, 'last'],
    ['', 0, 0, ''],
  ])('owns the records that start in its range: %j [%i, %i)', async (text, start, end, expected) => {
    const bytes = Buffer.from(text);
    const { bytes: out } = await chunkOutput(bytes, start, end, [1, 2, 3]);
    expect(out.toString()).toBe(expected);
  });

  it('stops reading once its last record is complete (the caller can stop the transfer)', async () => {
    const bytes = Buffer.from('a\nb\nc\nd\n');
    let pulled = 0;
    async function* counting() {
      for (let i = 0; i < bytes.length; i++) {
        pulled++;
        yield bytes.subarray(i, i + 1);
      }
    }
    for await (const _ of ownedRecords(counting(), { readFrom: 0, start: 0, end: 3 })) {
      // drain
    }
    expect(pulled).toBe(4); // "a\nb\n": b starts at 2 < 3, ends at 3
  });

  it('fails binary data in a text input with the offset', async () => {
    await expect(chunkOutput(Buffer.from('ok\nbad\u0000x\n'), 0, 100, [4])).rejects.toThrow(BinaryInputError);
    await expect(chunkOutput(Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0x0a]), 0, 100, [1])).rejects.toThrow(
      /not text near byte 2: invalid UTF-8/,
    );
  });

  it('reports the committed offset of the last complete record', async () => {
    const { stats } = await chunkOutput(Buffer.from('aa\nbb\ncc'), 0, 8, [3]);
    expect(stats).toMatchObject({ records: 3, bytes: 8, committedOffset: 8, done: true });
  });
});
