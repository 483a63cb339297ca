/**
 * `CallValues` behaves as the Connect library's `createContextValues`.
 */

import { createContextKey, createContextValues } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CallValues } from "./call-values.ts";

describe("CallValues", () => {
  it("gets, sets and deletes as the library's context values do", () => {
    const a = createContextKey<string | undefined>("fallback", { description: "a" });
    const b = createContextKey<number | undefined>(undefined);
    for (const values of [new CallValues(), createContextValues()]) {
      expect(values.get(a)).toBe("fallback");
      expect(values.set(a, "x")).toBe(values);
      expect(values.get(a)).toBe("x");
      expect(values.get(b)).toBeUndefined();
      values.set(b, 0);
      expect(values.get(b)).toBe(0);
      // A value set to undefined is set: the key's default no longer answers.
      values.set(a, undefined);
      expect(values.get(a)).toBeUndefined();
      expect(values.delete(a)).toBe(values);
      expect(values.get(a)).toBe("fallback");
      expect(values.get(b)).toBe(0);
    }
  });
});
