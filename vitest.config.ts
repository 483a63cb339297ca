import { defineConfig } from "vitest/config";

/** Test files that use a real Kafka broker. */
const kafkaFiles = ["tests/kafka/**/*.test.ts", "server/wal/kafka-wal.test.ts"];

/** Test files that use a Kinesis-compatible server (moto, `tests/infra/kinesis.sh`). */
const kinesisFiles = ["tests/kinesis/**/*.test.ts", "server/wal/kinesis-wal.test.ts"];

/**
 * Tests that need no service and no server child: the inner loop (`npm run test:unit`).
 * Everything else that is not Kafka (server children, crash tests, disk and network
 * faults) is the "e2e" project, which also takes any new test folder by default.
 */
const unitFiles = [
  "{schema,codegen,runtime,server}/**/*.test.ts",
  "tests/{schema,codegen,client,runtime,store,apply,docs}/**/*.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: unitFiles,
          exclude: ["**/node_modules/**", "tests/bench/**", ...kafkaFiles, ...kinesisFiles],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["{schema,codegen,runtime,server,tests}/**/*.test.ts"],
          exclude: [
            "**/node_modules/**",
            "tests/bench/**",
            ...kafkaFiles,
            ...kinesisFiles,
            ...unitFiles,
          ],
        },
      },
      {
        // One file at a time: they share the single-node broker that
        // tests/infra/kafka-cluster.ts starts and stops, and brokers are heavy on 2 cores.
        extends: true,
        test: { name: "kafka", include: kafkaFiles, fileParallelism: false },
      },
      {
        // One file at a time: they share the one moto server tests/infra/kinesis.sh runs.
        extends: true,
        test: { name: "kinesis", include: kinesisFiles, fileParallelism: false },
      },
    ],
  },
});
