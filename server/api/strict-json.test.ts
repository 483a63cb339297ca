import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeUtf8Strict, firstInvalidUtf8 } from "./strict-json.ts";

/** Bytes biased towards the interesting parts of UTF-8: lead bytes, continuations, surrogates. */
const utf8ish = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0xed, 0xa0, 0xc0, 0xc2, 0xf4, 0x90),
    ),
    { maxLength: 16 },
  )
  .map((bytes) => Uint8Array.from(bytes));

describe("strict JSON decoding", () => {
  it("finds the first invalid byte exactly where a fatal TextDecoder fails", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true });
    fc.assert(
      fc.property(utf8ish, (bytes) => {
        const at = firstInvalidUtf8(bytes);
        let valid = true;
        try {
          fatal.decode(bytes);
        } catch {
          valid = false;
        }
        expect(at === bytes.length).toBe(valid);
        // Everything before the reported byte decodes; the byte itself starts no valid sequence.
        expect(() => fatal.decode(bytes.subarray(0, at))).not.toThrow();
      }),
      { numRuns: 5_000 },
    );
  });

  it("refuses invalid UTF-8 with INVALID_ARGUMENT naming the byte and the JSON key", () => {
    const body = Buffer.concat([
      Buffer.from('{"tenant": "t", "name": "ab'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    let error: unknown;
    try {
      decodeUtf8Strict(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toBe(
      'The JSON request body is not valid UTF-8: byte 27 (in the value of "name") starts no valid UTF-8 sequence; send the body encoded as UTF-8.',
    );
    expect(decodeUtf8Strict(Buffer.from('{"name": "é"}'))).toBe('{"name": "é"}');
  });
});
