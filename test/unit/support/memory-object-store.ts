import type { ObjectInfo, ObjectStore } from '../../../src/ports/object-store.js';

/** The ObjectStore port in memory, counting calls, for fast service and worker tests. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { body: Uint8Array; contentType?: string; lastModified: Date }>();
  readonly calls: Record<'put' | 'getText' | 'head' | 'list' | 'read' | 'upload', number> = {
    put: 0,
    getText: 0,
    head: 0,
    list: 0,
    read: 0,
    upload: 0,
  };
  /** Bytes per yielded piece of `read` (small pieces exercise boundary handling). */
  readPieceBytes = 64 * 1024;

  constructor(readonly bucket = 'offpeak-test') {}

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, body: string | Uint8Array, contentType?: string): Promise<void> {
    this.calls.put++;
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
    this.objects.set(key, { body: bytes, ...(contentType ? { contentType } : {}), lastModified: new Date() });
  }

  async getText(key: string): Promise<string | undefined> {
    this.calls.getText++;
    const object = this.objects.get(key);
    return object ? new TextDecoder().decode(object.body) : undefined;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.calls.head++;
    const object = this.objects.get(key);
    return object ? { key, size: object.body.length, etag: `"${object.body.length}"` } : undefined;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.calls.list++;
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, o]) => ({ key, size: o.body.length }));
  }

  async read(
    key: string,
    range?: { readonly start: number; readonly end?: number },
  ): Promise<AsyncIterable<Uint8Array> | undefined> {
    this.calls.read++;
    const object = this.objects.get(key);
    if (!object) return undefined;
    const body = object.body.subarray(range?.start ?? 0, range?.end ?? object.body.length);
    const piece = this.readPieceBytes;
    return (async function* () {
      for (let i = 0; i < body.length; i += piece) yield body.subarray(i, i + piece);
    })();
  }

  async upload(key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<number> {
    this.calls.upload++;
    const parts: Uint8Array[] = [];
    for await (const part of body) parts.push(new Uint8Array(part));
    const bytes = Buffer.concat(parts);
    this.objects.set(key, { body: bytes, ...(contentType ? { contentType } : {}), lastModified: new Date() });
    return bytes.length;
  }

  text(key: string): string | undefined {
    const object = this.objects.get(key);
    return object ? new TextDecoder().decode(object.body) : undefined;
  }
}
