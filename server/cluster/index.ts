/**
 * Several `entdb serve` processes over one Kafka log: each owns the tenants of the
 * partitions the cluster's consumer group assigns it and redirects the others
 * (docs/kafka.md "Several servers").
 */

export { CLUSTER_ASSIGNER, createClusterAssigner, memberUrl } from "./cluster-assigner.ts";
export {
  type ClusterLog,
  ClusterMembership,
  type ClusterOptions,
  DEFAULT_CLUSTER_SESSION_TIMEOUT_MS,
} from "./cluster-membership.ts";
export { ownedByNoOne, ownedElsewhere, TENANT_OWNER_HEADER } from "./tenant-owner-error.ts";
