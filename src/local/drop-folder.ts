import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type FSWatcher, watch } from 'chokidar';
import type { Catalog } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import { type EventEnvelope, UPLOADS_PREFIX } from '../core/triggers/trigger-messages.js';
import { LocalAws } from './lambda-context.js';

export interface DropFolderOptions {
  /** The watched folder; `<dir>/<path>` becomes the object `inputs/<path>`. */
  readonly dir: string;
  readonly bucketName: string;
  readonly s3: S3Client;
  readonly catalog: Catalog;
  /** Delivers the S3 "Object Created" event (to the local event router, as S3 → EventBridge does). */
  readonly deliver: (event: EventEnvelope) => Promise<unknown>;
  /** Remembers which file versions were delivered, across restarts. */
  readonly ledgerFile: string;
  /** A file counts as written once its size has not changed for this long. @default 300 */
  readonly settleMs?: number;
  readonly clock?: Clock;
  readonly log?: Log;
}

/**
 * A folder that behaves like uploads to the Offpeak bucket: a file written under `<dir>/<path>` (once it has
 * settled) is put into the local S3 bucket as `inputs/<path>` and an S3 "Object Created" event (EventBridge's shape)
 * is delivered for it, so upload triggers run the same way as on AWS. A file counts as a new version when its
 * modification time or size changes (the version id is `local-<mtime>-<size>`, like a versioned bucket); versions
 * already delivered are remembered in a ledger, so a restart re-uploads the files (the local S3 is in memory) without
 * running their jobs again.
 */
export class DropFolder {
  readonly #options: DropFolderOptions;
  readonly #log: Log;
  readonly #clock: Clock;
  #watcher: FSWatcher | undefined;
  #ledger: Record<string, string> = {};
  /** Files are handled one at a time: the ledger is written whole after each. */
  #chain: Promise<void> = Promise.resolve();

  constructor(options: DropFolderOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLog;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Creates the folder (and one per upload prefix), then watches it; files already there are handled first (in the
   * background: `idle()` waits for them).
   */
  async start(): Promise<void> {
    const { dir } = this.#options;
    await mkdir(dir, { recursive: true });
    for (const trigger of this.#options.catalog.triggers().uploads) {
      await mkdir(join(dir, ...trigger.prefix.split('/')), { recursive: true });
    }
    this.#ledger = await readLedger(this.#options.ledgerFile);
    const watcher = watch(dir, {
      ignoreInitial: false,
      // Dotfiles and editor temporaries are not uploads.
      ignored: (path) => /(^|[/\\])\.|~$|\.swp$|\.tmp$/.test(relative(dir, path)),
      awaitWriteFinish: { stabilityThreshold: this.#options.settleMs ?? 300, pollInterval: 50 },
    });
    this.#watcher = watcher;
    const onFile = (path: string) => {
      this.#chain = this.#chain.then(() =>
        this.#upload(path).catch((error: unknown) =>
          this.#log.error('Dropped file could not be uploaded', { path, error: String(error) }),
        ),
      );
    };
    watcher.on('add', onFile).on('change', onFile);
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', resolve);
      watcher.once('error', reject);
    });
    watcher.on('error', (error) => this.#log.error('Drop folder watch failed', { error: String(error) }));
  }

  /** Resolves when every file noticed so far has been handled. */
  async idle(): Promise<void> {
    await this.#chain;
  }

  /** Stops watching once the uploads in progress are done. */
  async stop(): Promise<void> {
    await this.#watcher?.close();
    await this.#chain;
  }

  async #upload(path: string): Promise<void> {
    const rel = relative(this.#options.dir, path).split(sep).join('/');
    const info = await stat(path);
    if (!info.isFile()) return;
    const key = `${UPLOADS_PREFIX}${rel}`;
    const body = await readFile(path);
    const etag = createHash('md5').update(body).digest('hex');
    await this.#options.s3.send(
      new PutObjectCommand({
        Bucket: this.#options.bucketName,
        Key: key,
        Body: body,
      }),
    );
    const version = `local-${Math.floor(info.mtimeMs)}-${info.size}`;
    if (this.#ledger[rel] === version) return;
    await this.#options.deliver(
      objectCreatedEvent({
        bucket: this.#options.bucketName,
        key,
        size: info.size,
        etag,
        versionId: version,
        time: this.#clock.now(),
      }),
    );
    this.#ledger[rel] = version;
    await writeLedger(this.#options.ledgerFile, this.#ledger);
    this.#log.info('Dropped file uploaded', { key, size: info.size });
  }
}

/** An S3 "Object Created" event as S3 sends it to EventBridge. */
export function objectCreatedEvent(object: {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly versionId?: string;
  readonly time: Date;
}): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: LocalAws.accountId,
    time: object.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LocalAws.region,
    resources: [`arn:aws:s3:::${object.bucket}`],
    detail: {
      version: '0',
      bucket: { name: object.bucket },
      object: {
        key: object.key,
        size: object.size,
        etag: object.etag,
        ...(object.versionId ? { 'version-id': object.versionId } : {}),
        sequencer: object.time.getTime().toString(16).toUpperCase().padStart(16, '0'),
      },
      'request-id': randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase(),
      requester: LocalAws.accountId,
      'source-ip-address': '127.0.0.1',
      reason: 'PutObject',
    },
  };
}

async function readLedger(file: string): Promise<Record<string, string>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Whole-file replace (write, then rename), so a crash never leaves half a ledger. */
async function writeLedger(file: string, ledger: Record<string, string>): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(ledger, null, 2)}\n`, 'utf8');
  await rename(temporary, file);
}
