/**
 * Principals: who a request acts as, and who a grant or membership names. One grammar,
 * one parser; every other module takes a parsed {@link Principal} or its canonical text.
 *
 * ```
 * principal = "user:" id | "service:" id | "group:" id | "role:" role | "tenant:*"
 * id        = 1..200 of [A-Za-z0-9._~@+|=:-], starting with a letter or digit
 * role      = "owner" | "admin" | "member" | "viewer"
 * ```
 *
 * `user` and `service` are authenticated callers; `group` names a set of principals
 * kept in the tenant; `role:NAME` stands for every member holding that tenant role;
 * `tenant:*` for every member of the tenant. Only `user` and `service` can authenticate.
 */

/** The tenant roles, weakest first. */
export const TENANT_ROLES = ["viewer", "member", "admin", "owner"] as const;

/** A tenant role. */
export type TenantRole = (typeof TENANT_ROLES)[number];

/** A parsed principal. `text` is its canonical form ("user:alice"). */
export type Principal =
  | { readonly kind: "user" | "service" | "group"; readonly id: string; readonly text: string }
  | { readonly kind: "role"; readonly role: TenantRole; readonly text: string }
  | { readonly kind: "tenant"; readonly text: "tenant:*" };

/** A string that is not a principal; the message says what the grammar allows. */
export class PrincipalError extends Error {
  override readonly name = "PrincipalError";
  readonly code = "invalid-principal";
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._~@+|=:-]{0,199}$/;

/** Parses `text`; throws {@link PrincipalError} naming what is wrong. */
export function parsePrincipal(text: string): Principal {
  const colon = text.indexOf(":");
  if (colon < 0) throw principalError(text, "it has no kind prefix");
  const kind = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (kind) {
    case "user":
    case "service":
    case "group":
      if (!ID.test(rest))
        throw principalError(
          text,
          "the id must be 1 to 200 characters of letters, digits and . _ ~ @ + | = : -, starting with a letter or digit",
        );
      return { kind, id: rest, text };
    case "role":
      if (!isTenantRole(rest))
        throw principalError(text, `the role must be one of ${TENANT_ROLES.join(", ")}`);
      return { kind, role: rest, text };
    case "tenant":
      if (rest !== "*") throw principalError(text, 'the only tenant principal is "tenant:*"');
      return { kind, text: "tenant:*" };
    default:
      throw principalError(text, `"${kind}" is not a principal kind`);
  }
}

/** Whether `text` is a principal that can authenticate (`user:…` or `service:…`). */
export function parseCallerPrincipal(text: string): Principal {
  const p = parsePrincipal(text);
  if (p.kind !== "user" && p.kind !== "service")
    throw principalError(text, "only user:ID and service:ID principals can authenticate");
  return p;
}

/** Whether `name` is a tenant role. */
export function isTenantRole(name: string): name is TenantRole {
  return (TENANT_ROLES as readonly string[]).includes(name);
}

function principalError(text: string, why: string): PrincipalError {
  return new PrincipalError(
    `${JSON.stringify(text)} is not a principal: ${why}. Principals are user:ID, service:ID, group:ID, role:${TENANT_ROLES.join("|")} or tenant:*.`,
  );
}
