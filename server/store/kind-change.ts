/**
 * Tells a stored value that fits an earlier schema version's kind of its field from a
 * damaged one. A version pushed with `--allow FIELD_KIND_CHANGED` changes a field's kind
 * and leaves the values stored under the old kind as they are; reading one is then the
 * operator's allowed change meeting old data, which the operator can repair
 * (`failed-precondition`, naming the type, field and holder), not a fault of the server.
 * A value that fits no version's kind stays `corrupt`.
 */

import { describeType, edgeById, nodeById, type Schema } from "../../schema/index.ts";
import { type StoredMismatch, StoreError } from "./store-error.ts";
import { decodeValue } from "./stored-value-codec.ts";

/** The schema models a reader knows: `model(v)` for every registered version from 1 up. */
export interface SchemaVersions {
  model(version: number): Schema | undefined;
}

/**
 * `err` as the reader throws it: a `failed-precondition` saying which version changed
 * the field's kind and what to do, when `err` is a `corrupt` stored field value that an
 * earlier version's kind of the field decodes; otherwise `err` itself.
 */
export function explainStoredMismatch(
  err: unknown,
  current: Schema | undefined,
  versions: SchemaVersions,
): unknown {
  if (!(err instanceof StoreError) || err.code !== "corrupt" || !err.mismatch || !current)
    return err;
  const mismatch = err.mismatch;
  const now = fieldOf(current, mismatch)?.field;
  if (!now) return err;
  // The versions in order, newest last; a registry numbers them 1, 2, 3, … with no gap.
  const models: Schema[] = [];
  for (let v = 1; ; v++) {
    const model = versions.model(v);
    if (!model) break;
    models.push(model);
  }
  const nowText = describeType(now.type, current);
  for (let i = models.length - 1; i >= 0; i--) {
    const earlier = fieldOf(models[i] as Schema, mismatch)?.field;
    if (!earlier || describeType(earlier.type, models[i] as Schema) === nowText) continue;
    try {
      decodeValue(earlier.type, mismatch.json, { owner: "", fieldId: mismatch.fieldId });
    } catch {
      continue;
    }
    // The first later version that gave the field the kind it has now changed it.
    let changedIn = models.length;
    for (let j = i + 1; j < models.length; j++) {
      const f = fieldOf(models[j] as Schema, mismatch)?.field;
      if (f && describeType(f.type, models[j] as Schema) === nowText) {
        changedIn = j + 1;
        break;
      }
    }
    return kindChanged(mismatch, current, {
      from: describeType(earlier.type, models[i] as Schema),
      to: nowText,
      changedIn,
      cause: err,
    });
  }
  return err;
}

function fieldOf(schema: Schema, m: StoredMismatch) {
  const type = m.holder.kind === "node" ? nodeById(schema, m.typeId) : edgeById(schema, m.typeId);
  const field = type?.fields.find((f) => f.id === m.fieldId);
  return type && field ? { type, field } : undefined;
}

function kindChanged(
  m: StoredMismatch,
  current: Schema,
  change: { from: string; to: string; changedIn: number; cause: unknown },
): StoreError {
  const found = fieldOf(current, m);
  const typeName = found?.type.name ?? `#${m.typeId}`;
  const fieldName = `${typeName}.${found?.field.name ?? m.fieldId}`;
  const holder =
    m.holder.kind === "node"
      ? `node '${m.holder.id}' of type '${typeName}'`
      : `edge '${typeName}' from '${m.holder.fromId}' to '${m.holder.toId}'`;
  const rewrite =
    m.holder.kind === "node"
      ? "write the node's field anew (an update that sets it to a value of the new kind, or clears it)"
      : "write the edge anew with a value of the new kind";
  return new StoreError(
    "failed-precondition",
    `The ${holder} cannot be read: its field '${fieldName}' (id ${m.fieldId}) holds a ${change.from} value, and schema version ${change.changedIn} changed the field's kind from ${change.from} to ${change.to} (a breaking change pushed with --allow FIELD_KIND_CHANGED). Push a schema that gives the field back its kind ${change.from} (entdb schema push --allow FIELD_KIND_CHANGED), or ${rewrite}.`,
    { fieldId: m.fieldId, cause: change.cause },
  );
}
