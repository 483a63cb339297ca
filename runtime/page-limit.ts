/**
 * The `limit` of a page request, checked before it is sent: the wire field is a uint32,
 * so a negative, fractional or too large number failed in the protobuf encoder with an
 * `internal` error that named no option of the client.
 */

/** `limit` as sent: 0 (the server's default page size) when left out. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 0;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0 || limit > 0xffff_ffff) {
    throw new RangeError(
      `limit must be a whole number of 0 or more (0, or left out, asks for the server's default page size; more than the server's most gives its most); got ${typeof limit === "number" ? limit : typeof limit}.`,
    );
  }
  return limit;
}
