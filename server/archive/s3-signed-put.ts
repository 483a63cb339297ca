/**
 * The archiver's put: one S3 `PutObject` of a body held in memory, signed by the SDK's own
 * SigV4 signer (`@smithy/signature-v4`) and sent with `node:http(s)` over a keep-alive
 * agent, without the SDK client's middleware stack. A segment put is the archiver's
 * steady cost inside the server (one per active partition and flush round), so it runs
 * only what such a put needs: sign, send, read the status (docs/archive.md has the
 * numbers).
 *
 * What it takes from the SDK client it sits beside, so both address and sign alike: the
 * endpoint (the client's endpoint rules, path-style, with the client's region, FIPS and
 * dual-stack settings), the signing region and name, the credentials provider (the
 * standard chain, cached and refreshed by the client) and the client's clock offset.
 *
 * What it does not do: interpret an error. It answers the HTTP status, and the caller
 * sends any request S3 did not accept again through the SDK client, which parses S3's
 * error, corrects a clock skew and words the failure. A request that got no answer (the
 * connection failed or timed out) is retried once at once only if it went out on a
 * reused keep-alive connection, which the server may have closed meanwhile; otherwise its
 * error is thrown.
 */

import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";

/** Options for {@link S3SignedPut}. */
export interface S3SignedPutOptions {
  /** The SDK client whose configuration the put follows (endpoint, credentials, region). */
  readonly client: S3Client;
  readonly bucket: string;
  /** The endpoint the client was given (`--s3-endpoint`), if any. */
  readonly endpoint: string | undefined;
  /** Longest a connection may take to open. */
  readonly connectionTimeoutMs: number;
  /** Longest a request may take, start to answer. */
  readonly requestTimeoutMs: number;
}

/** Headers of a put beyond the body's: metadata, conditions, object lock. */
export type PutHeaders = Readonly<Record<string, string>>;

interface Target {
  readonly url: URL;
  readonly signer: SignatureV4;
}

/** Signed `PutObject` requests to one bucket; see the module comment. */
export class S3SignedPut {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #endpoint: string | undefined;
  readonly #connectionTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  #target: Promise<Target> | undefined;
  #agent: HttpAgent | undefined;

  constructor(options: S3SignedPutOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#endpoint = options.endpoint;
    this.#connectionTimeoutMs = options.connectionTimeoutMs;
    this.#requestTimeoutMs = options.requestTimeoutMs;
  }

  /**
   * Puts `body` under `key` with `headers` (lower-case names: `x-amz-meta-*`,
   * `if-none-match`, …) and answers S3's HTTP status. Throws only when no answer came.
   */
  async put(key: string, body: Uint8Array, headers: PutHeaders): Promise<number> {
    const { url, signer } = await this.#resolve();
    const path = `${url.pathname.replace(/\/$/, "")}/${key.split("/").map(uriEncode).join("/")}`;
    const config = this.#client.config;
    const signed = await signer.sign(
      {
        method: "PUT",
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === "" ? {} : { port: Number(url.port) }),
        path,
        query: {},
        headers: {
          ...headers,
          host: url.host,
          "content-length": String(body.byteLength),
          "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"),
        },
      },
      { signingDate: new Date(Date.now() + config.systemClockOffset) },
    );
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#send(url, path, signed.headers, body);
      } catch (error) {
        if (attempt > 0 || !(error instanceof StaleConnectionError)) throw unwrap(error);
      }
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent?.destroy();
  }

  /** The bucket's URL and a signer for it, from the client's configuration, once. */
  #resolve(): Promise<Target> {
    this.#target ??= (async () => {
      const config = this.#client.config;
      const region = await config.region();
      const endpoint = config.endpointProvider({
        Bucket: this.#bucket,
        Region: region,
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        ForcePathStyle: config.forcePathStyle ?? false,
        ...(this.#endpoint === undefined ? {} : { Endpoint: this.#endpoint }),
      });
      const scheme = endpoint.properties?.["authSchemes"] as
        | readonly { readonly signingName?: string; readonly signingRegion?: string }[]
        | undefined;
      const signer = new SignatureV4({
        service: scheme?.[0]?.signingName ?? "s3",
        region: scheme?.[0]?.signingRegion ?? region,
        credentials: config.credentials,
        sha256: NodeSha256,
        // S3 signs the path as sent, without encoding it a second time.
        uriEscapePath: false,
      });
      const url = new URL(endpoint.url.href);
      this.#agent =
        url.protocol === "https:"
          ? new HttpsAgent({ keepAlive: true, maxSockets: 50 })
          : new HttpAgent({ keepAlive: true, maxSockets: 50 });
      return { url, signer };
    })();
    // A failure (the endpoint rules refused the configuration) is tried again next put.
    this.#target.catch(() => {
      this.#target = undefined;
    });
    return this.#target;
  }

  #send(
    url: URL,
    path: string,
    headers: Record<string, string>,
    body: Uint8Array,
  ): Promise<number> {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<number>((resolve, reject) => {
      const req = send(
        {
          agent: this.#agent,
          method: "PUT",
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          path,
          headers,
        },
        (res: IncomingMessage) => {
          // The body (an error document, if any) is the SDK's to read on the resend.
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${this.#requestTimeoutMs} ms`)),
        this.#requestTimeoutMs,
      );
      req.on("close", () => clearTimeout(timer));
      req.on("socket", (socket) => {
        if (!socket.connecting) return;
        const refuse = () =>
          req.destroy(new Error(`no connection within ${this.#connectionTimeoutMs} ms`));
        socket.setTimeout(this.#connectionTimeoutMs);
        socket.once("timeout", refuse);
        socket.once("connect", () => {
          socket.setTimeout(0);
          socket.off("timeout", refuse);
        });
      });
      req.on("error", (error) =>
        reject(req.reusedSocket ? new StaleConnectionError(error) : error),
      );
      req.end(body);
    });
  }
}

/** A request on a reused keep-alive connection failed before an answer: worth one resend. */
class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

/** RFC 3986 encoding, as SigV4 and S3 expect of a path segment (`!'()*` too). */
function uriEncode(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function unwrap(error: unknown): unknown {
  return error instanceof StaleConnectionError ? error.cause : error;
}

/** SHA-256 and HMAC-SHA-256 from `node:crypto`, in the shape the signer takes. */
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash("sha256")
        : createHmac(
            "sha256",
            typeof secret === "string"
              ? secret
              : ArrayBuffer.isView(secret)
                ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
                : new Uint8Array(secret),
          );
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(
      typeof data === "string"
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data),
    );
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}
