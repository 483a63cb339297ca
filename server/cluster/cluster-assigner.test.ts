import { AssignerProtocol } from "kafkajs";
import { describe, expect, it } from "vitest";
import {
  assignedPartitions,
  CLUSTER_ASSIGNER,
  createClusterAssigner,
  memberUrl,
} from "./cluster-assigner.ts";

/** A member as the group leader sees it: its id and the metadata its assigner sent. */
function joined(memberId: string, url: string) {
  const { metadata } = createClusterAssigner(url, 4).protocol({ topics: ["wal"] });
  return { memberId, memberMetadata: metadata };
}

describe("the cluster's partition assigner", () => {
  it("carries the advertised URL in the member metadata", () => {
    const state = createClusterAssigner("http://10.0.0.5:50051", 4).protocol({ topics: ["wal"] });
    expect(state.name).toBe(CLUSTER_ASSIGNER);
    expect(memberUrl(state.metadata)).toBe("http://10.0.0.5:50051");
    expect(AssignerProtocol.MemberMetadata.decode(state.metadata)?.topics).toEqual(["wal"]);
  });

  it("gives partition i to the i-th member by URL, whatever the member ids", async () => {
    const assigner = createClusterAssigner("http://b:1", 5);
    const members = [
      joined("m-1", "http://c:1"),
      joined("m-2", "http://a:1"),
      joined("m-3", "http://b:1"),
    ];
    const result = await assigner.assign({ members, topics: ["wal"] });
    const byMember = Object.fromEntries(
      result.map((r) => [r.memberId, assignedPartitions(r.memberAssignment, "wal")]),
    );
    expect(byMember).toEqual({ "m-2": [0, 3], "m-3": [1, 4], "m-1": [2] });
    // The same URLs under new member ids (a restart): the same partitions.
    const again = await assigner.assign({
      members: [joined("x", "http://b:1"), joined("y", "http://c:1"), joined("z", "http://a:1")],
      topics: ["wal"],
    });
    expect(again.map((r) => [r.memberId, assignedPartitions(r.memberAssignment, "wal")])).toEqual([
      ["z", [0, 3]],
      ["x", [1, 4]],
      ["y", [2]],
    ]);
  });

  it("gives a member beyond the partition count nothing", async () => {
    const members = [joined("m-1", "http://a:1"), joined("m-2", "http://b:1")];
    const result = await createClusterAssigner("http://a:1", 1).assign({
      members,
      topics: ["wal"],
    });
    expect(result.map((r) => assignedPartitions(r.memberAssignment, "wal"))).toEqual([[0], []]);
  });
});
