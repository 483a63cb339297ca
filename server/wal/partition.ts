/**
 * Tenant → partition hashing, shared by every WAL backend so that a tenant lands in
 * the same partition whichever log holds it (and a log can move between backends).
 *
 * The function is Kafka's default partitioner for keyed records: `murmur2` over the
 * UTF-8 bytes of the key (the tenant id), made positive by masking the sign bit, modulo
 * the partition count. The Java client, librdkafka's `murmur2_random` partitioner and
 * KafkaJS's `DefaultPartitioner` compute the same value, so a topic written by any of
 * them with the tenant id as key agrees with {@link partitionForTenant}.
 *
 * The mapping is only stable for a fixed partition count: changing the count moves
 * tenants between partitions, which reorders a tenant's history. Logs therefore record
 * their partition count and refuse to open with another one.
 */

const encoder = new TextEncoder();

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's 32-bit murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), returning a
 * signed 32-bit integer exactly as Java does (e.g. `murmur2("foobar")` is -790332482).
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The Java original mixes the 1–3 tail bytes with a falling-through switch.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest >= 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition of a tenant: `(murmur2(utf8(tenant)) & 0x7fffffff) % partitions`, the
 * value Kafka's default partitioner gives for the tenant id as record key.
 * Must be called with a positive integer `partitions`.
 */
export function partitionForTenant(tenant: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(`Partition count must be a positive integer, got ${partitions}.`);
  }
  return (murmur2(encoder.encode(tenant)) & 0x7fffffff) % partitions;
}
