import { Partitioners } from "kafkajs";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForTenant } from "./partition.ts";

const encoder = new TextEncoder();

describe("murmur2", () => {
  it("matches the values of Kafka's own murmur2 test", () => {
    // From org.apache.kafka.common.utils.UtilsTest#testMurmur2.
    const cases: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    expect(cases.map(([key]) => murmur2(encoder.encode(key)))).toEqual(
      cases.map(([, hash]) => hash),
    );
  });

  it("hashes the UTF-8 bytes of non-ASCII keys", () => {
    expect(murmur2(encoder.encode("日本"))).toBe(-700811021);
    expect(murmur2(new Uint8Array(0))).toBe(275646681);
  });
});

describe("partitionForTenant", () => {
  it("keeps the partitions of known tenants (changing them would reorder existing logs)", () => {
    expect(
      ["acme", "globex", "tenant-42", "日本", "é"].map((t) => partitionForTenant(t, 8)),
    ).toEqual([4, 7, 6, 3, 7]);
    expect(partitionForTenant("globex", 16)).toBe(15);
  });

  it("agrees with KafkaJS's default partitioner for keyed messages", () => {
    for (const partitions of [1, 3, 8, 16]) {
      const partitioner = Partitioners.DefaultPartitioner();
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 300; i++) {
        const tenant = i % 3 === 0 ? `tenant-${i}` : i % 3 === 1 ? `租户-${i}` : `t${i}-ü`;
        const kafka = partitioner({
          topic: "wal",
          partitionMetadata,
          message: { key: tenant, value: null },
        });
        expect(partitionForTenant(tenant, partitions), `${tenant} over ${partitions}`).toBe(kafka);
      }
    }
  });

  it("rejects a partition count that is not a positive integer", () => {
    expect(() => partitionForTenant("acme", 0)).toThrow(
      "Partition count must be a positive integer, got 0.",
    );
    expect(() => partitionForTenant("acme", 2.5)).toThrow(RangeError);
  });
});
