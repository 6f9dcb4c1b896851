/** Metadata of a stored object. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly lastModified?: Date;
}

/** The Offpeak bucket (inputs, manifests, outputs, checkpoints, large payloads). Keys are relative to it. */
export interface ObjectStore {
  /** `s3://bucket/key` of a key in this store. */
  uri(key: string): string;
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /** @returns undefined when the object does not exist. */
  getText(key: string): Promise<string | undefined>;
  /** @returns undefined when the object does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Streams an object's bytes from `start` (inclusive) to `end` (exclusive; absent: to the end). Stop iterating
   * to stop the transfer.
   * @returns undefined when the object does not exist.
   */
  read(
    key: string,
    range?: { readonly start: number; readonly end?: number },
  ): Promise<AsyncIterable<Uint8Array> | undefined>;
  /**
   * Writes a stream of unknown length in constant memory (a multipart upload of bounded parts): the object
   * appears only when the whole stream was written, and not at all when the stream fails.
   * @returns the bytes written.
   */
  upload(key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<number>;
}
