import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{schema,codegen,runtime,server,tests}/**/*.test.ts"],
    exclude: ["**/node_modules/**", "tests/bench/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
