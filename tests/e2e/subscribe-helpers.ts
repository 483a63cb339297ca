/**
 * What the subscription tests share: reading a `Subscribe` stream until a condition
 * holds, with a deadline, and the plans they write.
 */

import type { SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import { str, TRACKER } from "./e2e-helpers.ts";

/** A position as `partition:offset`, for comparing and printing. */
export function positionText(r: SubscribeResponse): string {
  return `${r.position?.partition}:${r.position?.offset}`;
}

/**
 * Reads `stream` into `into` until `done(into)` holds; rejects after `timeoutMs`, or with
 * the stream's error. The stream is left open (the caller aborts it).
 */
export async function readUntil<R = SubscribeResponse>(
  stream: AsyncIterable<R>,
  into: R[],
  done: (responses: readonly R[]) => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  if (done(into)) return;
  const iterator = stream[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (!done(into)) {
    const left = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stream did not reach the condition within ${timeoutMs} ms`)),
        Math.max(0, left),
      );
    });
    try {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error("stream ended before the condition held");
      into.push(next.value);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The node ids of every NODE_CREATED change in `responses`, in order. */
export function createdIds(responses: readonly SubscribeResponse[]): string[] {
  return responses.flatMap((r) => r.changes.filter((c) => c.kind === 1).map((c) => c.nodeId));
}

/** An operation creating a Team with the given slug (name = slug). */
export function teamCreate(slug: string) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.team,
        alias: "t",
        fields: { [TRACKER.teamName]: str(slug), [TRACKER.teamSlug]: str(slug) },
      },
    },
  };
}
