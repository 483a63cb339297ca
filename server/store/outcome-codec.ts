/**
 * The stored form of a plan's outcome (`outcomes.outcome`): deterministic JSON with
 * fixed key order, so a replay writes the same bytes. Versions are JSON integers
 * written from bigints (never through a float).
 *
 *   {"results":[{"id":"…","created":true,"version":1}],"planDigest":"…","actor":"user:alice"}
 *   {"results":[],"failure":{"code":"already_exists","reason":"UNIQUE_VIOLATION",
 *    "message":"…","operationIndex":0,"typeId":1,"fieldId":1},"actor":"user:alice"}
 *
 * `actor` is the principal that logged the plan (the event's actor): only it is answered
 * the outcome (api/outcome-access.ts). Outcomes recorded before it was kept lack it.
 */

import { create } from "@bufbuild/protobuf";
import { type WriteFailure, WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { type OperationResult, OperationResultSchema } from "../../generated/entdb/v1/plan_pb.js";
import type { PlanOutcome } from "../engine.ts";
import { isRawNumber, parseLossless } from "./lossless-json.ts";
import { StoreError } from "./store-error.ts";

/** The stored text of an outcome's results and failure (position and version are columns). */
export function encodeOutcome(
  results: readonly OperationResult[],
  failure: WriteFailure | undefined,
  planDigest?: string,
  actor?: string,
): string {
  let rs = "";
  for (const r of results) {
    if (rs !== "") rs += ",";
    rs += `{"id":${JSON.stringify(r.id)},"created":${r.created},"version":${r.version.toString()}}`;
  }
  const f =
    failure === undefined
      ? ""
      : `,"failure":{"code":${JSON.stringify(failure.code)},"reason":${JSON.stringify(failure.reason)},"message":${JSON.stringify(failure.message)},"operationIndex":${failure.operationIndex},"typeId":${failure.typeId},"fieldId":${failure.fieldId}}`;
  const d = planDigest === undefined ? "" : `,"planDigest":${JSON.stringify(planDigest)}`;
  const a = actor === undefined ? "" : `,"actor":${JSON.stringify(actor)}`;
  return `{"results":[${rs}]${f}${d}${a}}`;
}

/** A stored outcome row back as a {@link PlanOutcome}. */
export function decodeOutcome(row: {
  readonly log_partition: bigint | number;
  readonly log_offset: bigint | number;
  readonly schema_version: bigint | number;
  readonly outcome: string;
}): PlanOutcome {
  const json = parseLossless(row.outcome);
  if (typeof json !== "object" || json === null || Array.isArray(json) || isRawNumber(json)) {
    throw new StoreError("corrupt", "A stored outcome is not a JSON object.");
  }
  const obj = json as Record<string, unknown>;
  const results = (
    Array.isArray(obj["results"]) ? (obj["results"] as Record<string, unknown>[]) : []
  ).map((r) =>
    create(OperationResultSchema, {
      id: String(r["id"]),
      created: r["created"] === true,
      version: BigInt(rawText(r["version"])),
    }),
  );
  const position = { partition: Number(row.log_partition), offset: Number(row.log_offset) };
  const digest = obj["planDigest"];
  const actor = obj["actor"];
  const base = {
    position,
    schemaVersion: Number(row.schema_version),
    results,
    ...(typeof digest === "string" ? { planDigest: digest } : {}),
    ...(typeof actor === "string" ? { actor } : {}),
  };
  const f = obj["failure"] as Record<string, unknown> | undefined;
  if (f === undefined) return base;
  const failure = create(WriteFailureSchema, {
    code: String(f["code"]),
    reason: String(f["reason"]),
    message: String(f["message"]),
    operationIndex: Number(rawText(f["operationIndex"])),
    typeId: Number(rawText(f["typeId"])),
    fieldId: Number(rawText(f["fieldId"])),
  });
  return { ...base, failure };
}

function rawText(v: unknown): string {
  if (typeof v === "object" && v !== null && "rawJSON" in v && typeof v.rawJSON === "string")
    return v.rawJSON;
  throw new StoreError("corrupt", "A stored outcome has a non-numeric version or index.");
}
