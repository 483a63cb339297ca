/**
 * The partition assigner of a cluster's consumer group. Each member's protocol metadata
 * carries the URL it advertises (`--advertise`), so every member can learn who owns which
 * partition from the group itself (`admin.describeGroups`), with no other service.
 *
 * Assignment: the members sorted by advertised URL (then member id), partition i to
 * member i mod n. Sorting by URL, not by the member id Kafka hands out at each join,
 * gives a server that restarts under the same URL the same partitions back, so it
 * catches up from its own checkpoints instead of rebuilding other tenants.
 */

import { type Assigner, AssignerProtocol } from "kafkajs";

/** The assigner's protocol name: every server of a cluster must use the same one. */
export const CLUSTER_ASSIGNER = "EntDbClusterAssigner";

const VERSION = 1;

/** The assigner a member advertising `url` joins with; `partitions` is the topic's count. */
export function createClusterAssigner(url: string, partitions: number): Assigner {
  return {
    name: CLUSTER_ASSIGNER,
    version: VERSION,
    async assign({ members, topics }) {
      const sorted = members
        .map((m) => ({ memberId: m.memberId, url: memberUrl(m.memberMetadata) }))
        .sort((a, b) =>
          a.url === b.url ? a.memberId.localeCompare(b.memberId) : a.url < b.url ? -1 : 1,
        );
      const owned = new Map<string, number[]>(sorted.map((m) => [m.memberId, []]));
      for (let p = 0; p < partitions; p++) {
        const member = sorted[p % sorted.length];
        if (member) owned.get(member.memberId)?.push(p);
      }
      return sorted.map((m) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: VERSION,
          assignment: Object.fromEntries(topics.map((t) => [t, owned.get(m.memberId) ?? []])),
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: CLUSTER_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: Buffer.from(url, "utf8"),
        }),
      };
    },
  };
}

/** The URL a member advertises, from its protocol metadata ("" when it carries none). */
export function memberUrl(metadata: Buffer): string {
  const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
  return decoded?.userData?.toString("utf8") ?? "";
}

/** The partitions of `topic` a member's assignment holds. */
export function assignedPartitions(assignment: Buffer, topic: string): readonly number[] {
  if (assignment.length === 0) return [];
  return AssignerProtocol.MemberAssignment.decode(assignment)?.assignment[topic] ?? [];
}
