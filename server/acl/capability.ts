/**
 * Capabilities on one node, weakest first: each implies the ones before it. The owner
 * of a node (its creator) holds them all; others hold what grants give them, and
 * `read` on a node whose type is not `private` just by being a member.
 *
 * | capability | lets a principal                       |
 * | ---------- | -------------------------------------- |
 * | `read`     | read the node                          |
 * | `comment`  | (reserved for applications: as `read`) |
 * | `edit`     | update it, and link edges from it      |
 * | `delete`   | delete it                              |
 * | `admin`    | share it and revoke its grants         |
 */

/** The capabilities, weakest first. */
export const CAPABILITIES = ["read", "comment", "edit", "delete", "admin"] as const;

/** A capability. */
export type Capability = (typeof CAPABILITIES)[number];

/** Whether `name` is a capability. */
export function isCapability(name: string): name is Capability {
  return (CAPABILITIES as readonly string[]).includes(name);
}

/** A capability's level as stored (read = 1 … admin = 5); 0 means none. */
export function capabilityLevel(capability: Capability): number {
  return CAPABILITIES.indexOf(capability) + 1;
}

/** The capability of a stored level, or undefined for 0 (none). */
export function capabilityAt(level: number): Capability | undefined {
  return CAPABILITIES[level - 1];
}
