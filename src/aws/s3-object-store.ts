import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';

export interface S3ObjectStoreOptions {
  /** Build it with `createAwsClients` (checksums WHEN_REQUIRED, path-style under an endpoint override). */
  readonly client: S3Client;
  readonly bucket: string;
}

/**
 * The ObjectStore port on one S3 bucket.
 *
 * @example
 * const objects = new S3ObjectStore({ client: clients.s3, bucket: env.OFFPEAK_BUCKET });
 * await objects.put('manifests/01J…/plan.json', JSON.stringify(plan), 'application/json');
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  uri(key: string): string {
    return `s3://${this.#bucket}/${key}`;
  }

  async put(key: string, body: string | Uint8Array, contentType?: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ...(contentType !== undefined ? { ContentType: contentType } : {}),
      }),
    );
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return (await result.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return {
        key,
        size: result.ContentLength ?? 0,
        ...(result.ETag !== undefined ? { etag: result.ETag } : {}),
        ...(result.LastModified !== undefined ? { lastModified: result.LastModified } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const result = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of result.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key,
          size: object.Size ?? 0,
          ...(object.ETag !== undefined ? { etag: object.ETag } : {}),
          ...(object.LastModified !== undefined ? { lastModified: object.LastModified } : {}),
        });
      }
      token = result.IsTruncated ? result.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }
}

/** GetObject says NoSuchKey; HeadObject has no body, so only its 404 status tells (a missing bucket is an error). */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === 'NoSuchBucket') return false;
  if (error.name === 'NoSuchKey' || error.name === 'NotFound') return true;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}
