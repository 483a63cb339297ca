/**
 * A real `entdb serve` of tests/runtime/test-schema.entdb, through the client generated
 * from it, against the service contract the runtime tests' FakeEntDb must also keep
 * (tests/runtime/service-contract.ts).
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../../runtime/node.ts";
import { serviceContract } from "../runtime/service-contract.ts";
import type { TestClient } from "../runtime/test-client.ts";
import { testSchema } from "../runtime/test-schema.ts";
import { serverPerFile } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";
import { type GeneratedClient, loadGeneratedClient } from "./tracker-client.ts";

const SCHEMA = "tests/runtime/test-schema.entdb";
const server = serverPerFile({ schema: join(REPO_ROOT, SCHEMA) });
let generated: GeneratedClient<TestClient>;
let tenants = 0;

beforeAll(async () => {
  generated = await loadGeneratedClient<TestClient>(SCHEMA);
});

afterAll(() => {
  generated?.dispose();
});

describe("entdb serve keeps the service contract", () => {
  it("generates from test-schema.entdb the schema constant test-schema.ts writes by hand", () => {
    const { fingerprint, ...meta } = generated.schema;
    expect(fingerprint).toMatch(/\S/);
    expect(meta).toEqual(testSchema);
  });

  serviceContract(() =>
    generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url }),
      tenant: `contract-${++tenants}`,
    }),
  );
});
