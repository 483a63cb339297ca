/**
 * Checks a log position a caller names (`after_position`, `WaitForPosition`) before
 * anything waits for it. A position that cannot exist (a partition the log does not
 * have or the tenant does not write to, a negative offset, an offset past the log's
 * end) is the caller's mistake and answered at once with INVALID_ARGUMENT, instead of
 * after the read's wait runs out with a misleading "retry".
 */

import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import type { Wal, WalPosition } from "../wal/wal.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";

/**
 * The WAL position `position` names, if tenant `tenant` can have an event there;
 * otherwise an INVALID_ARGUMENT error naming `field`. Synchronous: it does not ask the
 * log for its end (see {@link checkPositionLogged}).
 */
export function checkPosition(
  wal: Wal,
  tenant: string,
  position: LogPosition,
  field: string,
): WalPosition {
  const { partition, offset } = position;
  const own = wal.partitionFor(tenant);
  if (partition >= wal.partitions) {
    throw invalidArgument(
      `\`${field}\` names partition ${partition}, but the log has ${wal.partitions} partition${wal.partitions === 1 ? "" : "s"} (0 to ${wal.partitions - 1}); pass the position of a receipt of tenant '${tenant}'.`,
    );
  }
  if (partition !== own) {
    throw invalidArgument(
      `\`${field}\` names partition ${partition}, but tenant '${tenant}' is logged in partition ${own}; pass the position of a receipt of this tenant.`,
    );
  }
  if (offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(
      `\`${field}\` names offset ${offset}, which no log has; pass the position of a receipt.`,
    );
  }
  return { partition, offset: Number(offset) };
}

/**
 * Throws INVALID_ARGUMENT naming `field` if `position` lies at or past the end of its
 * partition: no receipt can carry it yet. Asks the log for its end, so callers only
 * do so when the position is not applied already.
 */
export async function checkPositionLogged(
  wal: Wal,
  position: WalPosition,
  field: string,
): Promise<void> {
  const end = await wal.endOffset(position.partition);
  if (position.offset >= end) {
    throw invalidArgument(
      `\`${field}\` names offset ${position.offset} of partition ${position.partition}, but the log ends at offset ${end}; pass the position of a receipt.`,
    );
  }
}
