import { defineConfig } from "vitest/config";

/** Test files that use a real Kafka broker. */
const kafkaFiles = ["tests/kafka/**/*.test.ts", "server/wal/kafka-wal.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["{schema,codegen,runtime,server,tests}/**/*.test.ts"],
          exclude: ["**/node_modules/**", "tests/bench/**", ...kafkaFiles],
        },
      },
      {
        // One file at a time: they share the single-node broker that
        // tests/infra/kafka-cluster.ts starts and stops, and brokers are heavy on 2 cores.
        extends: true,
        test: { name: "kafka", include: kafkaFiles, fileParallelism: false },
      },
    ],
  },
});
