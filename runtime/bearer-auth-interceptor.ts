/**
 * Sends `Authorization: Bearer <token>` with every call. The server derives the
 * caller's identity from this header alone, never from a request field.
 */

import type { Interceptor } from "@connectrpc/connect";

/**
 * A token, or a function returning the current one (called per request, so a
 * refreshed token is picked up without recreating the client).
 */
export type TokenSource = string | (() => string | Promise<string>);

/** An interceptor that sets the Authorization header from `token`. */
export function createBearerAuthInterceptor(token: TokenSource): Interceptor {
  return (next) => async (req) => {
    const value = typeof token === "string" ? token : await token();
    req.header.set("Authorization", `Bearer ${value}`);
    return next(req);
  };
}
