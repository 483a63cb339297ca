import { describe, expect, it } from "vitest";
import { StoreError } from "./store-error.ts";
import {
  MAX_TENANT_ID_LENGTH,
  tenantFileName,
  tenantIdFromFileName,
  validateTenantId,
} from "./tenant-id.ts";

function rejection(id: string): string {
  try {
    validateTenantId(id);
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("invalid-tenant");
    return (err as StoreError).message;
  }
  throw new Error(`accepted ${JSON.stringify(id)}`);
}

describe("validateTenantId", () => {
  it("accepts ASCII letters, digits, '.', '_' and '-' after a letter or digit", () => {
    for (const id of [
      "acme",
      "Acme",
      "a",
      "0",
      "acme-corp_2.eu",
      "x".repeat(MAX_TENANT_ID_LENGTH),
    ]) {
      expect(validateTenantId(id)).toBe(id);
    }
  });

  it("rejects an empty id", () => {
    expect(rejection("")).toBe("The tenant id is empty; set a tenant.");
  });

  it("rejects ids over the length limit, without normalizing huge inputs", () => {
    expect(rejection("x".repeat(MAX_TENANT_ID_LENGTH + 1))).toBe(
      "The tenant id is 129 characters long; the limit is 128.",
    );
    expect(rejection("x".repeat(10_000))).toBe(
      "The tenant id is 10000 characters long; the limit is 128.",
    );
  });

  it("rejects path tricks", () => {
    expect(rejection("../x")).toBe(
      `The tenant id "../x" contains a path separator '/'; use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("a\\b")).toBe(
      `The tenant id "a\\\\b" contains a path separator '\\'; use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("..")).toBe(`The tenant id ".." must start with an ASCII letter or digit.`);
    expect(rejection(".hidden")).toBe(
      `The tenant id ".hidden" must start with an ASCII letter or digit.`,
    );
    expect(rejection("a..b")).toBe(`The tenant id "a..b" contains '..'.`);
    expect(rejection("acme.")).toBe(`The tenant id "acme." ends with '.'.`);
  });

  it("rejects control characters and whitespace", () => {
    expect(rejection("tenant\u0000")).toBe(
      `The tenant id "tenant\\u0000" contains a control character (U+0000); use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("a b")).toBe(
      `The tenant id "a b" contains whitespace (U+0020); use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("a\tb")).toBe(
      `The tenant id "a\\tb" contains whitespace (U+0009); use ASCII letters, digits, '.', '_' and '-'.`,
    );
  });

  it("rejects compatibility lookalikes such as fullwidth letters", () => {
    expect(rejection("ｔｅｎａｎｔ")).toBe(
      `The tenant id "ｔｅｎａｎｔ" contains compatibility characters (such as fullwidth letters) that look like other characters; use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("ﬁrm")).toContain("compatibility characters");
  });

  it("rejects Cyrillic and other non-ASCII lookalikes", () => {
    // "асme" with Cyrillic а (U+0430) and с (U+0441).
    expect(rejection("\u0430\u0441me")).toBe(
      `The tenant id "асme" contains 'а' (U+0430); use ASCII letters, digits, '.', '_' and '-'.`,
    );
    expect(rejection("café")).toBe(
      `The tenant id "café" contains 'é' (U+00E9); use ASCII letters, digits, '.', '_' and '-'.`,
    );
    // Decomposed é normalizes (NFC) to the same composed character first.
    expect(rejection("cafe\u0301")).toBe(
      `The tenant id "café" contains 'é' (U+00E9); use ASCII letters, digits, '.', '_' and '-'.`,
    );
  });
});

describe("tenantFileName", () => {
  it("encodes case so ids differing only by case never share a file on a case-insensitive file system", () => {
    const names = ["acme", "Acme", "ACME", "a_cme", "a__cme", "acme_"].map(tenantFileName);
    expect(names).toEqual([
      "t-acme.sqlite",
      "t-_acme.sqlite",
      "t-_a_c_m_e.sqlite",
      "t-a__cme.sqlite",
      "t-a____cme.sqlite",
      "t-acme__.sqlite",
    ]);
    const folded = new Set(
      ["acme", "Acme", "ACME", "aCme", "a_cme", "A_cme"].map((id) =>
        tenantFileName(id).toLowerCase(),
      ),
    );
    expect(folded.size).toBe(6);
  });

  it("keeps Windows device names out of the way", () => {
    expect(tenantFileName("con")).toBe("t-con.sqlite");
    expect(tenantFileName("NUL")).toBe("t-_n_u_l.sqlite");
  });

  it("maps back to the tenant id, and refuses names it did not make", () => {
    for (const id of ["acme", "Acme_Corp-2.eu", "x_Y__z"])
      expect(tenantIdFromFileName(tenantFileName(id))).toBe(id);
    for (const name of [
      "acme.sqlite",
      "t-.sqlite",
      "t-_.sqlite",
      "t-_1.sqlite",
      "t-a..b.sqlite",
      "t-ACME.sqlite",
      "meta.sqlite",
    ]) {
      expect(tenantIdFromFileName(name)).toBeUndefined();
    }
  });
});
