/**
 * Archives in an S3-compatible bucket (AWS S3, MinIO, Supabase Storage's S3
 * endpoint, …) through the AWS SDK. Uploads carry their SHA-256, which the
 * server checks on receipt. Where the bucket has Object Lock, objects are
 * written in compliance mode with a retention date matching the tenant's policy.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as s3 from '@aws-sdk/client-s3';
import type { Env } from '@/server/env.ts';
import type { ArchiveStorage, PutOptions } from './storage.ts';

// Each client warns that the SDK's releases from 2027 on need Node 22; oms-audit pins a release that supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export class S3Storage implements ArchiveStorage {
  private readonly client: InstanceType<typeof s3.S3Client>;
  private readonly bucket: string;
  private readonly prefix: string;
  private lock: Promise<boolean> | undefined;

  constructor(
    readonly url: string,
    private readonly env: Env,
  ) {
    const parsed = new URL(url);
    this.bucket = parsed.hostname;
    this.prefix = parsed.pathname.replace(/^\/+|\/+$/g, '');
    this.client = new s3.S3Client({
      region: env.ARCHIVE_S3_REGION,
      endpoint: env.ARCHIVE_S3_ENDPOINT,
      forcePathStyle: env.ARCHIVE_S3_FORCE_PATH_STYLE,
      credentials:
        env.ARCHIVE_S3_ACCESS_KEY_ID && env.ARCHIVE_S3_SECRET_ACCESS_KEY
          ? { accessKeyId: env.ARCHIVE_S3_ACCESS_KEY_ID, secretAccessKey: env.ARCHIVE_S3_SECRET_ACCESS_KEY }
          : undefined,
      // Checksums only where S3 requires them (we send our own SHA-256): S3-compatible servers
      // often do not understand the SDK's default streaming checksum trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 5,
    });
  }

  private keyOf(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  objectLock(): Promise<boolean> {
    this.lock ??= (async () => {
      if (this.env.ARCHIVE_S3_OBJECT_LOCK === 'off') return false;
      try {
        const res = await this.client.send(new s3.GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
        const enabled = res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
        if (!enabled && this.env.ARCHIVE_S3_OBJECT_LOCK === 'on') throw new Error(`bucket ${this.bucket} does not have Object Lock enabled (ARCHIVE_S3_OBJECT_LOCK=on)`);
        return enabled;
      } catch (err) {
        if (this.env.ARCHIVE_S3_OBJECT_LOCK === 'on') throw err;
        return false;
      }
    })();
    return this.lock;
  }

  private async lockParams(options: PutOptions) {
    if (!options.retainUntil || !(await this.objectLock())) return {};
    return { ObjectLockMode: 'COMPLIANCE' as const, ObjectLockRetainUntilDate: options.retainUntil };
  }

  async putFile(key: string, file: string, options: PutOptions): Promise<void> {
    const { size } = await stat(file);
    await this.client.send(
      new s3.PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(key),
        Body: createReadStream(file),
        ContentLength: size,
        ContentType: options.contentType,
        ChecksumSHA256: Buffer.from(options.sha256, 'hex').toString('base64'),
        ...(await this.lockParams(options)),
      }),
    );
  }

  async putBytes(key: string, bytes: Uint8Array, options: PutOptions, condition: { IfNoneMatch?: string } = {}): Promise<void> {
    await this.client.send(
      new s3.PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(key),
        Body: bytes,
        ContentType: options.contentType,
        ChecksumSHA256: Buffer.from(options.sha256, 'hex').toString('base64'),
        ...condition,
        ...(await this.lockParams(options)),
      }),
    );
  }

  async getBytes(key: string): Promise<Buffer> {
    const res = await this.client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  async download(key: string, file: string): Promise<void> {
    const res = await this.client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
    await pipeline(res.Body as Readable, createWriteStream(file));
  }

  localPath(): null {
    return null;
  }

  async size(key: string): Promise<number | null> {
    try {
      const res = await this.client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return res.ContentLength ?? 0;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return null;
      throw err;
    }
  }

  async putBytesOnce(key: string, bytes: Uint8Array, options: PutOptions): Promise<boolean> {
    if ((await this.size(key)) !== null) return false;
    try {
      // S3 refuses to replace an existing object (412); under Object Lock a replaced version would survive anyway.
      await this.putBytes(key, bytes, options, { IfNoneMatch: '*' });
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw err;
    }
  }

  async getBytesIfExists(key: string): Promise<Buffer | null> {
    try {
      return await this.getBytes(key);
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      const res = await this.client.send(new s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key.slice(base.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const full = this.keyOf(key);
    if (await this.objectLock()) {
      // A versioned (Object Lock) bucket keeps every version: remove each one, not just add a delete marker.
      const res = await this.client.send(new s3.ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: full }));
      const versions = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])].filter((v) => v.Key === full);
      for (const v of versions) await this.client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: full, VersionId: v.VersionId }));
      return;
    }
    await this.client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: full }));
  }
}
