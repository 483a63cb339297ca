/**
 * Whom a read is for: the caller's principal and every principal it stands for in the
 * tenant (its groups, its role, `tenant:*`). The store turns a scope into a SQL term
 * (`store/visibility-sql.ts`) so a node the caller may not read is filtered inside the
 * query, never after it: pages stay full, cursors and counts stay right, and a hidden
 * node reads exactly like a missing one.
 *
 * A caller that is not a member of the tenant (only reads of a schema with `public`
 * types let one through, see api/tenant-guard.ts) gets a `publicOnly` scope: it reads
 * the nodes of `public` types and nothing else, whatever it owns or was granted there.
 */

import type { TenantAccess } from "../store/access-tables.ts";
import { type AccessSubject, roleOf } from "./tenant-roles.ts";

/** A read's scope. `unrestricted` (dev mode) sees every node. */
export type ReadScope =
  | { readonly unrestricted: true }
  | {
      readonly unrestricted: false;
      /** The caller's own principal: it owns the nodes it created. */
      readonly actor: string;
      /** Every principal the caller stands for, its own first; sorted after it, no repeats. */
      readonly principals: readonly string[];
      /** The read's time (microseconds since the epoch): grants expired by then do not count. */
      readonly atMicros: bigint;
      /** The caller is not a member: only nodes of `public` types can be visible to it. */
      readonly publicOnly?: true;
    };

/** The scope that sees everything (dev mode, and the server's own reads). */
export const UNRESTRICTED: ReadScope = { unrestricted: true };

/** The scope of `subject` in a tenant with membership `access`. */
export function readScopeOf(
  subject: AccessSubject,
  access: TenantAccess | undefined,
  atMicros: bigint,
): ReadScope {
  const { principals, member } =
    access === undefined ? standsFor(subject, undefined) : memoStandsFor(subject, access);
  return {
    unrestricted: false,
    actor: subject.id,
    principals,
    atMicros,
    ...(member ? {} : { publicOnly: true as const }),
  };
}

/** What a subject stands for in a tenant: its principals and whether it is a member. */
interface StandsFor {
  readonly principals: readonly string[];
  readonly member: boolean;
}

/**
 * {@link standsFor} kept per membership snapshot: a `TenantAccess` is never changed
 * (the access cache replaces it when a change commits), so what a subject stands for in
 * it cannot go stale, and a read does not walk every group of the tenant again.
 */
const standsForCache = new WeakMap<TenantAccess, Map<string, StandsFor>>();
/** Subjects kept per membership snapshot; past it the snapshot's entries start over. */
const SUBJECTS_PER_SNAPSHOT = 1024;

function memoStandsFor(subject: AccessSubject, access: TenantAccess): StandsFor {
  let bySubject = standsForCache.get(access);
  if (bySubject === undefined) {
    bySubject = new Map();
    standsForCache.set(access, bySubject);
  }
  // Principals have no line breaks (acl/principal.ts), so the key is unambiguous.
  const key =
    subject.groups.length === 0 ? subject.id : `${subject.id}\n${subject.groups.join("\n")}`;
  let found = bySubject.get(key);
  if (found === undefined) {
    if (bySubject.size >= SUBJECTS_PER_SNAPSHOT) bySubject.clear();
    found = standsFor(subject, access);
    bySubject.set(key, found);
  }
  return found;
}

function standsFor(subject: AccessSubject, access: TenantAccess | undefined): StandsFor {
  const others = new Set<string>(subject.groups);
  let member = false;
  if (access !== undefined) {
    for (const [group, members] of access.groups) if (members.has(subject.id)) others.add(group);
    const role = roleOf(access, subject);
    if (role !== undefined) {
      member = access.created;
      others.add(`role:${role}`);
      others.add("tenant:*");
    }
  }
  others.delete(subject.id);
  return { principals: Object.freeze([subject.id, ...[...others].sort()]), member };
}
