/**
 * A call's context values (authentication's result), as the Connect library's
 * `createContextValues` makes them, but an instance of a class: the library's is an
 * object literal with three methods, three new functions on every call.
 *
 * The same behaviour: a value is kept under its key's symbol, `get` answers the key's
 * default for a key not set, `set` and `delete` return the values. Interceptors and
 * handlers see the same `ContextValues` interface.
 */

import type { ContextKey, ContextValues } from "@connectrpc/connect";

type Slots = Record<symbol, unknown>;

/** One call's context values. */
export class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? ((this as unknown as Slots)[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Slots)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Slots)[key.id];
    return this;
  }
}
