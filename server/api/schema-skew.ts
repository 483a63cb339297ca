/**
 * Client/server schema skew (docs/schema-evolution.md). Generated clients send the
 * fingerprint of the schema they were built from (`entdb-schema-fingerprint`).
 *
 * - A fingerprint of a version this server registered (the served one or an older one)
 *   is an up-to-date or older client: served as usual. Fields it does not know are never
 *   sent by it, so its updates leave them as they are.
 * - Any other fingerprint is a client built from a schema the server does not serve yet.
 *   Its calls are served too, as long as they only use what the server knows; a call that
 *   fails because it names a type or field the served schema lacks gets
 *   FAILED_PRECONDITION naming them (the server is behind the client: push the schema
 *   first), instead of the INVALID_ARGUMENT a malformed request gets.
 *
 * The interceptor decides from the refusal's `WriteFailure` detail (type and field ids),
 * so there is no second validation of the request here.
 *
 * The typed services (binary protobuf) are the exception: a field number their message
 * does not define is kept by the protobuf decoder as an unknown field and would be
 * dropped without a word. A request to a typed service carrying one is refused before
 * the handler runs: FAILED_PRECONDITION as above for a newer client, INVALID_ARGUMENT
 * (nothing was logged) for any other caller.
 */

import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
} from "@connectrpc/connect";
import { edgeTypeNames, nodeTypeNames } from "../../codegen/index.ts";
import { type WriteFailure, WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { edgeById, nodeById, type Schema } from "../../schema/index.ts";
import type { ServedSchema } from "../engine.ts";
import { UNKNOWN_ENUM_NUMBER } from "./ingress/check-value.ts";
import { SCHEMA_FINGERPRINT_HEADER } from "./request-headers.ts";
import { requestHeaderValue, withNowForm } from "./unary-call.ts";

/** What the interceptor reads of the registered versions. */
export interface SchemaSkewView {
  served(): ServedSchema;
  versions(): ReadonlyMap<number, ServedSchema>;
}

/** The interceptor that turns a newer client's unknown ids into FAILED_PRECONDITION. */
export function createSchemaSkewInterceptor(view: SchemaSkewView): Interceptor {
  let known: { readonly of: ReadonlyMap<number, ServedSchema>; readonly set: Set<string> } = {
    of: new Map(),
    set: new Set(),
  };
  const isKnown = (fingerprint: string): boolean => {
    const versions = view.versions();
    if (known.of !== versions) {
      known = { of: versions, set: new Set([...versions.values()].map((v) => v.fingerprint)) };
    }
    return known.set.has(fingerprint);
  };
  /** Whether a service is one of the served schema's typed services, by service and model. */
  let typed = { model: undefined as Schema | undefined, of: new WeakMap<DescService, boolean>() };
  const isTyped = (service: DescService, model: Schema): boolean => {
    if (typed.model !== model) typed = { model, of: new WeakMap() };
    let is = typed.of.get(service);
    if (is === undefined) {
      is = service.typeName.startsWith(`${model.package}.`);
      typed.of.set(service, is);
    }
    return is;
  };
  /**
   * What a call is checked for before it runs: the fingerprint of a client newer than
   * the served schema (undefined for any other), after a typed service's unknown fields
   * are refused.
   */
  const checked = (
    req: UnaryRequest | StreamRequest,
  ): { fingerprint: string; served: ServedSchema } | undefined => {
    const fingerprint = requestHeaderValue(req, SCHEMA_FINGERPRINT_HEADER);
    const newer = fingerprint !== null && fingerprint !== "" && !isKnown(fingerprint);
    const served = view.served();
    if (isTyped(req.service, served.model)) {
      const unknown: UnknownField[] = [];
      collectUnknown(req.message, unknown, 0);
      if (unknown.length > 0) {
        const named = unknown.map((u) => describeUnknown(u, served.model)).join(", ");
        if (newer) throw skewError(fingerprint, served, named, []);
        throw new ConnectError(
          `The request sets ${named}, which schema version ${served.version} that the server serves does not define; the value would be lost. Use a client generated from the server's schema (GetSchema), or push the newer schema first (entdb schema push).`,
          Code.InvalidArgument,
        );
      }
    }
    return newer ? { fingerprint, served } : undefined;
  };
  /** A newer client's call that failed with `err`: FAILED_PRECONDITION if it names what the served schema lacks. */
  const skewed = (
    err: unknown,
    { fingerprint, served }: { fingerprint: string; served: ServedSchema },
  ): never => {
    const e = ConnectError.from(err);
    if (e.code !== Code.InvalidArgument) throw err;
    const failure = e.findDetails(WriteFailureSchema)[0];
    const unknown = failure && unknownIds(failure, e.rawMessage, served.model);
    if (unknown === undefined) throw err;
    throw skewError(fingerprint, served, unknown, failure ? [failure] : [], e);
  };
  return withNowForm(
    (next) => async (req) => {
      const newer = checked(req);
      if (newer === undefined) return next(req);
      try {
        return await next(req);
      } catch (err) {
        return skewed(err, newer);
      }
    },
    // The same for the fast paths: a call from a client that is not newer goes on as it is.
    (next) => (req) => {
      const newer = checked(req);
      if (newer === undefined) return next(req);
      let res: ReturnType<typeof next>;
      try {
        res = next(req);
      } catch (err) {
        return skewed(err, newer);
      }
      return res instanceof Promise
        ? res.then(undefined, (err: unknown) => skewed(err, newer))
        : res;
    },
  );
}

/** The FAILED_PRECONDITION of a client newer than the served schema. */
function skewError(
  fingerprint: string,
  served: ServedSchema,
  unknown: string,
  failures: readonly WriteFailure[],
  cause?: unknown,
): ConnectError {
  return new ConnectError(
    `This client was built from schema ${fingerprint.slice(0, 80)}, which this server does not serve yet (it serves version ${served.version}, ${served.fingerprint}), and the call uses ${unknown}, which the server's schema does not have. Push the client's schema to the server first (entdb schema push), then deploy the client.`,
    Code.FailedPrecondition,
    undefined,
    failures.map((value) => ({ desc: WriteFailureSchema, value })),
    cause,
  );
}

/** A field number a decoded message did not define. */
interface UnknownField {
  readonly typeName: string;
  readonly no: number;
}

/** Finds the unknown fields of `value` and the messages in it (a typed request is shallow). */
function collectUnknown(value: unknown, out: UnknownField[], depth: number): void {
  if (depth > 8 || typeof value !== "object" || value === null || value instanceof Uint8Array)
    return;
  if (Array.isArray(value)) {
    for (const item of value) collectUnknown(item, out, depth + 1);
    return;
  }
  const message = value as { $typeName?: unknown; $unknown?: readonly { no: number }[] };
  if (typeof message.$typeName === "string" && message.$unknown) {
    for (const u of message.$unknown) out.push({ typeName: message.$typeName, no: u.no });
  }
  for (const [key, inner] of Object.entries(value)) {
    if (key !== "$unknown") collectUnknown(inner, out, depth + 1);
  }
}

/** "field id 4 of 'Item'" when the message holds a type's fields, else its field number. */
function describeUnknown(u: UnknownField, schema: Schema): string {
  const local = u.typeName.slice(schema.package.length + 1);
  const type =
    schema.nodes.find((n) => nodeTypeNames(n.name).fields === local) ??
    schema.edges.find((e) => edgeTypeNames(e.name).props === local);
  return type
    ? `field id ${u.no} of '${type.name}' (type id ${type.id})`
    : `field number ${u.no} of ${u.typeName}`;
}

/**
 * What the refusal says the served `schema` lacks: "type id 20", "field id 4 of 'Team'
 * (type id 2)", or an enum number; undefined for any other refusal.
 */
function unknownIds(failure: WriteFailure, message: string, schema: Schema): string | undefined {
  if (failure.typeId === 0) return undefined;
  const type = nodeById(schema, failure.typeId) ?? edgeById(schema, failure.typeId);
  if (!type) return `type id ${failure.typeId}`;
  const field = type.fields.find((f) => f.id === failure.fieldId);
  if (failure.fieldId !== 0 && !field) {
    return `field id ${failure.fieldId} of '${type.name}' (type id ${type.id})`;
  }
  if (field && failure.reason === UNKNOWN_ENUM_NUMBER) {
    return `an enum number unknown to field '${type.name}.${field.name}' (${message})`;
  }
  return undefined;
}
