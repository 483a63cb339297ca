/**
 * The in-memory FakeEntDb against the service contract the real server passes
 * (service-contract.ts; tests/e2e/service-contract.test.ts runs it against `entdb serve`).
 */

import { describe } from "vitest";
import { createTypedClient } from "../../runtime/v1.ts";
import { FakeEntDb } from "./fake-entdb-service.ts";
import { serviceContract } from "./service-contract.ts";
import type { TestClient } from "./test-client.ts";
import { testSchema } from "./test-schema.ts";

describe("FakeEntDb keeps the service contract", () => {
  serviceContract(() =>
    createTypedClient<TestClient>(testSchema, {
      transport: new FakeEntDb({ uniques: [{ typeId: 1, fieldId: 1 }] }).transport,
      tenant: "acme",
      retry: { initialDelayMs: 0 },
    }),
  );
});
