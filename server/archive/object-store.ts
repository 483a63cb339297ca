/**
 * The object store an archive is written to, as the archive needs it: immutable objects
 * put only if absent, read whole, listed by prefix. {@link S3ObjectStore} is the
 * implementation over `@aws-sdk/client-s3`; `DirObjectStore` (`dir-object-store.ts`) the
 * one over a local directory. `tests/archive/object-store-contract.test.ts` runs the same
 * contract against both.
 *
 * Guarantees the archive relies on:
 * - `putIfAbsent` never overwrites: a second put of a key answers "exists" and leaves the
 *   first object as it was (S3's conditional put, `If-None-Match: *`).
 * - `list` returns every key under the prefix, in lexical order.
 * - `putFileIfAbsent` and `getStream` move a large object (a snapshot) with memory bounded
 *   by one part, never the whole object.
 * Failures of the store itself are `ArchiveError` "unavailable"; the caller retries.
 */

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ArchiveError } from "./archive-error.ts";
import {
  type ArchiveLocation,
  checkS3Endpoint,
  type S3ArchiveLocation,
} from "./archive-location.ts";
import { type PutHeaders, S3SignedPut } from "./s3-signed-put.ts";

/** An object read back: its bytes and its user metadata (lower-case keys). */
export interface StoredObject {
  readonly body: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
}

/** An object being read: its body as a stream, its user metadata and its size. */
export interface StreamedObject {
  readonly body: Readable;
  readonly metadata: Readonly<Record<string, string>>;
  readonly size: number;
}

/**
 * Part size of a multipart upload. S3 allows at most 10,000 parts, so a file up to
 * 80 GiB; parts under 5 MiB (but the last) are refused.
 */
export const MULTIPART_PART_BYTES = 8 * 1024 * 1024;

/** A key found by {@link ObjectStore.list}. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  /** Last-modified time, ms since the epoch. */
  readonly modified: number;
}

/** What the archive needs of an object store. Keys are full keys within the bucket. */
export interface ObjectStore {
  /**
   * Writes `body` under `key` unless the key exists; says which happened. With
   * `retainUntil`, the object is locked in compliance mode until then (the bucket must
   * have object lock enabled): not even the account's root can delete that version.
   */
  putIfAbsent(
    key: string,
    body: Uint8Array,
    metadata: Readonly<Record<string, string>>,
    options?: { readonly retainUntil?: Date },
  ): Promise<"created" | "exists">;
  /**
   * As {@link putIfAbsent}, for the file at `path`, read a part at a time: a large file
   * goes up as a multipart upload whose completion is the conditional put, so memory
   * holds one part ({@link MULTIPART_PART_BYTES}), not the file.
   */
  putFileIfAbsent(
    path: string,
    key: string,
    metadata: Readonly<Record<string, string>>,
  ): Promise<"created" | "exists">;
  /** The object at `key`; `ArchiveError` "not-found" if there is none. */
  get(key: string): Promise<StoredObject>;
  /**
   * The object at `key` as a stream of its bytes, with its metadata and size; errors as
   * {@link get}. A failure while the body streams surfaces as the stream's error.
   */
  getStream(key: string): Promise<StreamedObject>;
  /** Every key under `prefix`, in lexical order, with its size and last-modified time (ms). */
  list(prefix: string): Promise<ListedObject[]>;
  /** Deletes `key` (no error if it is gone). */
  delete(key: string): Promise<void>;
  /** Releases connections. */
  close(): void;
}

/** Options for {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** An `s3://` location; a directory's is refused ("invalid"). */
  readonly location: ArchiveLocation;
  /**
   * The S3 endpoint (`--s3-endpoint`); otherwise `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`,
   * otherwise AWS itself. Addressing is path-style (bucket in the path), which every
   * S3-compatible server understands.
   */
  readonly endpoint?: string | undefined;
  /** Per-request timeout; a request that takes longer fails as "unavailable". */
  readonly requestTimeoutMs?: number;
  /** Environment to read endpoint and region from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** The endpoint an S3 client uses: the flag, then the standard AWS variables. */
export function s3Endpoint(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = flag || env["AWS_ENDPOINT_URL_S3"] || env["AWS_ENDPOINT_URL"];
  if (value === undefined || value === "") return undefined;
  return checkS3Endpoint(value);
}

/**
 * An archive's bucket on S3 or an S3-compatible server. Credentials come from the
 * standard AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, instance
 * roles); the region from `AWS_REGION` (default us-east-1).
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: S3ArchiveLocation;
  readonly #client: S3Client;
  /** `putIfAbsent`'s request (`s3-signed-put.ts`); the client for everything else. */
  readonly #put: S3SignedPut;

  constructor(options: S3ObjectStoreOptions) {
    const env = options.env ?? process.env;
    if (options.location.kind !== "s3")
      throw new ArchiveError(
        "invalid",
        `${options.location.url} is a directory, not an s3:// location; open it with DirObjectStore.`,
      );
    this.location = options.location;
    const endpoint = s3Endpoint(options.endpoint, env);
    const connectionTimeoutMs = 2000;
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#client = new S3Client({
      region: env["AWS_REGION"] || env["AWS_DEFAULT_REGION"] || "us-east-1",
      forcePathStyle: true,
      ...(endpoint === undefined ? {} : { endpoint }),
      // The archiver retries with its own back-off; one SDK retry covers a dropped connection.
      maxAttempts: 2,
      // Every object carries the sha256 of its bytes in its metadata, checked before any
      // use, so the SDK's own CRC of each body (computed in JavaScript, both ways) adds
      // CPU and no protection. A locked put sends the Content-MD5 S3 requires instead.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs },
    });
    this.#put = new S3SignedPut({
      client: this.#client,
      bucket: this.location.bucket,
      endpoint,
      connectionTimeoutMs,
      requestTimeoutMs,
    });
  }

  async putIfAbsent(
    key: string,
    body: Uint8Array,
    metadata: Readonly<Record<string, string>>,
    options: { readonly retainUntil?: Date } = {},
  ): Promise<"created" | "exists"> {
    const { retainUntil } = options;
    // S3 takes an object-lock put only with a checksum of the body.
    const md5 =
      retainUntil === undefined ? undefined : createHash("md5").update(body).digest("base64");
    const headers: Record<string, string> = { "if-none-match": "*" };
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
    if (retainUntil !== undefined && md5 !== undefined)
      Object.assign(headers, {
        "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": retainUntil.toISOString(),
        "content-md5": md5,
      });
    let status: number;
    try {
      status = await this.#put.put(key, body, headers satisfies PutHeaders);
    } catch (error) {
      throw this.#failure(`put ${key}`, error);
    }
    // 412: the key exists. 409: a concurrent conditional put of the same key is in flight.
    if (status === 200) return "created";
    if (status === 412 || status === 409) return "exists";
    // S3 refused it: the SDK sends it again, reads S3's error and corrects a clock skew.
    return this.#sdkPutIfAbsent(key, body, metadata, retainUntil, md5);
  }

  /** {@link putIfAbsent} through the SDK client. */
  async #sdkPutIfAbsent(
    key: string,
    body: Uint8Array,
    metadata: Readonly<Record<string, string>>,
    retainUntil: Date | undefined,
    md5: string | undefined,
  ): Promise<"created" | "exists"> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          Metadata: { ...metadata },
          IfNoneMatch: "*",
          ...(retainUntil === undefined
            ? {}
            : {
                ObjectLockMode: "COMPLIANCE",
                ObjectLockRetainUntilDate: retainUntil,
                ...(md5 === undefined ? {} : { ContentMD5: md5 }),
              }),
        }),
      );
      return "created";
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409) return "exists";
      throw this.#failure(`put ${key}`, error);
    }
  }

  async putFileIfAbsent(
    path: string,
    key: string,
    metadata: Readonly<Record<string, string>>,
  ): Promise<"created" | "exists"> {
    const file = await open(path, "r");
    try {
      const size = (await file.stat()).size;
      if (size <= MULTIPART_PART_BYTES) {
        const body = Buffer.alloc(size);
        await file.read(body, 0, size, 0);
        return await this.putIfAbsent(key, body, metadata);
      }
      return await this.#putMultipart(file, size, key, metadata);
    } finally {
      await file.close();
    }
  }

  /** A multipart upload of `size` bytes of `file`; completing it is the conditional put. */
  async #putMultipart(
    file: Awaited<ReturnType<typeof open>>,
    size: number,
    key: string,
    metadata: Readonly<Record<string, string>>,
  ): Promise<"created" | "exists"> {
    const Bucket = this.location.bucket;
    let uploadId: string | undefined;
    try {
      const created = await this.#client.send(
        new CreateMultipartUploadCommand({ Bucket, Key: key, Metadata: { ...metadata } }),
      );
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new Error("CreateMultipartUpload returned no UploadId");
      const parts: { ETag: string; PartNumber: number }[] = [];
      const buffer = Buffer.alloc(MULTIPART_PART_BYTES);
      for (let offset = 0, part = 1; offset < size; offset += MULTIPART_PART_BYTES, part++) {
        const length = Math.min(MULTIPART_PART_BYTES, size - offset);
        await file.read(buffer, 0, length, offset);
        const out = await this.#client.send(
          new UploadPartCommand({
            Bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: part,
            Body: buffer.subarray(0, length),
            ContentLength: length,
          }),
        );
        if (out.ETag === undefined) throw new Error(`UploadPart ${part} returned no ETag`);
        parts.push({ ETag: out.ETag, PartNumber: part });
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: "*",
        }),
      );
      return "created";
    } catch (error) {
      if (uploadId !== undefined)
        await this.#client
          .send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }))
          .catch(() => {});
      const status = statusOf(error);
      if (status === 412 || status === 409) return "exists";
      throw this.#failure(`multipart put ${key}`, error);
    }
  }

  async getStream(key: string): Promise<StreamedObject> {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: key }),
      );
      // In Node the SDK's body is an http.IncomingMessage, a Readable.
      const body = out.Body;
      if (!(body instanceof Readable)) throw new Error(`GetObject ${key} returned no stream`);
      return { body, metadata: out.Metadata ?? {}, size: out.ContentLength ?? 0 };
    } catch (error) {
      if (statusOf(error) === 404 && nameOf(error) !== "NoSuchBucket")
        throw new ArchiveError("not-found", `s3://${this.location.bucket}/${key} does not exist.`, {
          cause: error,
        });
      throw this.#failure(`get ${key}`, error);
    }
  }

  async get(key: string): Promise<StoredObject> {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: key }),
      );
      const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      return { body, metadata: out.Metadata ?? {} };
    } catch (error) {
      if (statusOf(error) === 404 && nameOf(error) !== "NoSuchBucket")
        throw new ArchiveError("not-found", `s3://${this.location.bucket}/${key} does not exist.`, {
          cause: error,
        });
      throw this.#failure(`get ${key}`, error);
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    const keys: ListedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
        for (const o of out.Contents ?? [])
          if (o.Key !== undefined)
            keys.push({ key: o.Key, size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 });
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw this.#failure(`list ${prefix}`, error);
    }
    return keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key }));
    } catch (error) {
      throw this.#failure(`delete ${key}`, error);
    }
  }

  close(): void {
    this.#put.close();
    this.#client.destroy();
  }

  /** A missing bucket is "not-found" (an operator's fix); anything else "unavailable". */
  #failure(what: string, error: unknown): ArchiveError {
    if (nameOf(error) === "NoSuchBucket")
      return new ArchiveError(
        "not-found",
        `The bucket '${this.location.bucket}' does not exist; create it first.`,
        { cause: error },
      );
    const detail =
      error instanceof S3ServiceException
        ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? "?"}): ${error.message}`
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    return new ArchiveError(
      "unavailable",
      `S3 request failed (${what} in bucket ${this.location.bucket}): ${detail}`,
      { cause: error },
    );
  }
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
