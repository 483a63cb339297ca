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

/** One call's context values. */
export class CallValues implements ContextValues {
  /** Each value under its key's symbol, on the instance itself (no second object a call). */
  [slot: symbol]: unknown;

  get<T>(key: ContextKey<T>): T {
    // A key's value is the T it was set with: set() is the only writer of a slot.
    return key.id in this ? (this[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete this[key.id];
    return this;
  }
}
