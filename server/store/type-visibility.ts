/**
 * Whether a read scope sees every node of a type, without looking at any node: the
 * question a deletion asks, since the deleted node's row (its owner, its grants' effect)
 * is gone. True only when the visibility rule (visibility-sql.ts) needs no term at all
 * for the type: a type that is not private and inherits nothing, in a tenant without a
 * deny, for a member (or any scope in dev mode).
 */

import type { ReadScope } from "../acl/read-scope.ts";
import { hasDenies } from "./access-tables.ts";
import type { Store } from "./store.ts";
import { hiddenNodeTerm } from "./visibility-sql.ts";

/** True if `scope` reads every node of `typeId` in `tenant` (false when it has no database). */
export function readsEveryNodeOf(
  store: Store,
  tenant: string,
  typeId: number,
  scope: ReadScope,
): boolean {
  if (scope.unrestricted) return true;
  const db = store.readTenant(tenant);
  if (!db) return false;
  const model = store.readModel(db);
  if (model === undefined) return false;
  return hiddenNodeTerm(model, scope, "n", { denies: hasDenies(db) }, typeId) === undefined;
}
