/**
 * An S3-compatible server that checks every request's credentials and SigV4 signature:
 * a moto server of its own (started through tests/infra/moto.sh on a free loopback port,
 * state in a temporary dir), unlike the shared one of tests/infra/s3.sh, which takes any
 * credentials.
 *
 * moto checks only when `INITIAL_NO_AUTH_ACTION_COUNT` is set: it lets that many requests
 * through unchecked, then, for every later one, looks up the access key among its IAM
 * users, recomputes the signature with botocore's `S3SigV4Auth` over the path as it arrived
 * and the headers the request says it signed, and checks the user's policies
 * (moto/core/authorization.py, moto/iam/access_control.py). The unchecked requests here
 * are the IAM setup: a user with an access key and a policy allowing `s3:*`, and a role
 * with the same policy, assumed once for temporary credentials (with a session token, as
 * an instance role or a web identity gives them). Everything after, the bucket's creation
 * included, is checked.
 *
 * What moto does not check, so these tests do not prove it: that the body matches
 * `x-amz-content-sha256` (the header is taken as the payload's hash), and the clock skew
 * of `x-amz-date`.
 */

import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { SignatureV4 } from "@smithy/signature-v4";

const SCRIPT = fileURLToPath(new URL("./moto.sh", import.meta.url));

/** A cold start installs moto from PyPI first. */
const START_TIMEOUT_MS = 600_000;

/** The IAM and STS requests {@link startAuthS3} makes before moto starts checking. */
const SETUP_REQUESTS = 6;

const REGION = "us-east-1";

/** An access key, and the session token of temporary credentials. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** A request as moto's log records it. */
export interface LoggedRequest {
  readonly method: string;
  /**
   * The path, percent-decoded: `/bucket/key`. (werkzeug logs it half-decoded, `!` as is
   * and a space as `%20`, so the log does not show the bytes as sent.)
   */
  readonly path: string;
  /** The query string, without the `?`. */
  readonly query: string;
  readonly status: number;
}

/** A running server that checks signatures. */
export interface AuthS3 {
  /** `http://127.0.0.1:port`. */
  readonly endpoint: string;
  readonly region: string;
  /** The access key of the IAM user allowed `s3:*`. */
  readonly credentials: Credentials;
  /** Temporary credentials of a role allowed `s3:*`. */
  readonly roleCredentials: Required<Credentials>;
  /** Every S3 request the server has answered so far, in order. */
  requests(): LoggedRequest[];
  /** Stops the server (by its PID) and removes its state. */
  stop(): Promise<void>;
}

/** Starts a server of its own and makes its IAM user; see the module comment. */
export async function startAuthS3(): Promise<AuthS3> {
  const port = await freePort();
  const stateRoot = mkdtempSync(join(tmpdir(), "entdb-moto-auth-"));
  const name = "s3-auth";
  const state = join(stateRoot, `moto-${name}`);
  const endpoint = await new Promise<string>((resolve, reject) => {
    execFile(
      SCRIPT,
      ["start", "--name", name, "--port", String(port)],
      {
        timeout: START_TIMEOUT_MS,
        env: {
          ...process.env,
          ENTDB_MOTO_DIR: stateRoot,
          INITIAL_NO_AUTH_ACTION_COUNT: String(SETUP_REQUESTS),
        },
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`tests/infra/moto.sh start failed: ${stderr || error.message}`));
        else resolve(stdout.trim().split("\n").at(-1) ?? "");
      },
    );
  });
  const pid = Number(readFileSync(join(state, "pid"), "utf8").trim());
  const stop = async () => {
    await stopPid(pid);
    rmSync(stateRoot, { recursive: true, force: true });
  };
  try {
    if (endpoint !== `http://127.0.0.1:${port}`)
      throw new Error(`tests/infra/moto.sh start printed '${endpoint}', not the endpoint URL`);
    const credentials = await createIamUser(endpoint);
    const roleCredentials = await assumeRole(endpoint);
    return {
      endpoint,
      region: REGION,
      credentials,
      roleCredentials,
      requests: () => parseLog(readFileSync(join(state, "server.log"), "utf8")),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const S3_ALL = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }],
});

/** The user: user, access key, policy (three of the {@link SETUP_REQUESTS}). */
async function createIamUser(endpoint: string): Promise<Credentials> {
  const user = "entdb-archiver";
  await iam(endpoint, { Action: "CreateUser", UserName: user });
  const created = await iam(endpoint, { Action: "CreateAccessKey", UserName: user });
  await iam(endpoint, {
    Action: "PutUserPolicy",
    UserName: user,
    PolicyName: "s3-all",
    PolicyDocument: S3_ALL,
  });
  const accessKeyId = tag(created, "AccessKeyId");
  const secretAccessKey = tag(created, "SecretAccessKey");
  if (accessKeyId === undefined || secretAccessKey === undefined)
    throw new Error(`CreateAccessKey answered no key: ${created}`);
  return { accessKeyId, secretAccessKey };
}

/** The role: role, policy, assumed (the other three of the {@link SETUP_REQUESTS}). */
async function assumeRole(endpoint: string): Promise<Required<Credentials>> {
  const role = "entdb-archiver-role";
  const created = await iam(endpoint, {
    Action: "CreateRole",
    RoleName: role,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }],
    }),
  });
  await iam(endpoint, {
    Action: "PutRolePolicy",
    RoleName: role,
    PolicyName: "s3-all",
    PolicyDocument: S3_ALL,
  });
  const arn = tag(created, "Arn");
  if (arn === undefined) throw new Error(`CreateRole answered no ARN: ${created}`);
  const assumed = await query(endpoint, "sts", "2011-06-15", {
    Action: "AssumeRole",
    RoleArn: arn,
    RoleSessionName: "archiver",
  });
  const accessKeyId = tag(assumed, "AccessKeyId");
  const secretAccessKey = tag(assumed, "SecretAccessKey");
  const sessionToken = tag(assumed, "SessionToken");
  if (accessKeyId === undefined || secretAccessKey === undefined || sessionToken === undefined)
    throw new Error(`AssumeRole answered no credentials: ${assumed}`);
  return { accessKeyId, secretAccessKey, sessionToken };
}

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
}

function iam(endpoint: string, params: Record<string, string>): Promise<string> {
  return query(endpoint, "iam", "2010-05-08", params);
}

/**
 * One query-API request (IAM, STS). moto lets it through unchecked (it is one of the
 * first requests) but routes it by the service in its signature's scope, so it is signed.
 */
async function query(
  endpoint: string,
  service: string,
  version: string,
  params: Record<string, string>,
): Promise<string> {
  const body = new URLSearchParams({ ...params, Version: version }).toString();
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    service,
    region: REGION,
    credentials: { accessKeyId: "setup", secretAccessKey: "setup" },
    sha256: HmacSha256,
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: {},
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  const response = await fetch(`${endpoint}/`, { method: "POST", headers: signed.headers, body });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${service} ${params["Action"]} answered ${response.status}: ${text}`);
  return text;
}

/**
 * werkzeug's request lines: `127.0.0.1 - - [date] "PUT /b/k HTTP/1.1" 200 -`, with the
 * request in ANSI colours when the status is an error (a refusal must not go unseen).
 */
function parseLog(log: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  const plain = stripVTControlCharacters(log);
  for (const line of plain.split("\n")) {
    if (!line.includes(" HTTP/1.")) continue;
    const match = /"([A-Z]+) (\S+) HTTP\/1\.[01]" (\d{3})\b/.exec(line);
    if (match === null) throw new Error(`moto logged a request line this cannot read: ${line}`);
    const [path = "", query = ""] = match[2]!.split("?", 2);
    if (path.startsWith("/moto-api/")) continue;
    out.push({
      method: match[1]!,
      path: decodeURIComponent(path),
      query,
      status: Number(match[3]),
    });
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL if the process is still there after 10 s. */
async function stopPid(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; alive(); waited += 100) {
    if (waited >= 10_000) {
      process.kill(pid, "SIGKILL");
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SHA-256 and HMAC-SHA-256 from `node:crypto`, in the shape the signer takes. */
class HmacSha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}
