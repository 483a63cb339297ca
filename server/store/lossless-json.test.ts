import { describe, expect, it } from "vitest";
import { prng } from "../../tests/prng.ts";
import {
  appendPayloadField,
  isRawNumber,
  type JsonValue,
  parseLossless,
  parsePayload,
  serializePayload,
  stringifyJson,
} from "./lossless-json.ts";

describe("parseLossless", () => {
  it("gives canonical text back byte for byte, numbers as raw numbers", () => {
    const text =
      '{"1":"a.b@example.com","2":"User 1e2","6":1704164646000000,"7":true,"8":[1,2.5,-3],"9":null,"10":{"a":[{"b":0}]}}';
    expect(stringifyJson(parseLossless(text))).toBe(text);
    const payload = parsePayload(text);
    expect(isRawNumber(payload.get(6))).toBe(true);
    expect((payload.get(6) as { rawJSON: string }).rawJSON).toBe("1704164646000000");
    expect(payload.get(1)).toBe("a.b@example.com");
    expect(payload.get(7)).toBe(true);
  });

  it("keeps number text a plain parse would change", () => {
    for (const text of [
      '{"1":9223372036854775807}',
      '{"1":-9223372036854775808}',
      '{"1":1.0}',
      '{"1":1e2}',
      '{"1":-0}',
      '{"1":0.10}',
      '{"1":[100000000000000000000]}',
      '{"1":{"x":1E+2}}',
    ]) {
      expect(stringifyJson(parseLossless(text))).toBe(text);
    }
    expect((parsePayload('{"2":1.0}').get(2) as { rawJSON: string }).rawJSON).toBe("1.0");
  });

  it("keeps numbers exact in text that is not canonical", () => {
    expect(stringifyJson(parseLossless('{ "1" : 9007199254740993 , "2": 1.50 }'))).toBe(
      '{"1":9007199254740993,"2":1.50}',
    );
    // Integer-like keys come first in any JS object, whichever way it is parsed.
    expect(stringifyJson(parseLossless('{"b":1.0,"2":3}'))).toBe('{"2":3,"b":1.0}');
  });

  it("throws a SyntaxError on invalid text", () => {
    expect(() => parseLossless('{"1":')).toThrow(SyntaxError);
  });
});

describe("serializePayload", () => {
  /** The text as payloads were written before: each value's text joined in key order. */
  function joined(payload: ReadonlyMap<number, JsonValue>): string {
    const keys = [...payload.keys()].sort((a, b) => a - b);
    return `{${keys.map((k) => `"${k}":${JSON.stringify(payload.get(k))}`).join(",")}}`;
  }

  it("writes the bytes payloads have always had, keys ascending whatever their order", () => {
    const random = prng(12);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const texts = ["", "a", "Ünï", "\ud83d\ude00", "\ud800 lone", 'q"\\\n\t', "1"];
    const value = (depth: number): JsonValue => {
      switch (Math.floor(random() * (depth > 1 ? 5 : 7))) {
        case 0:
          return pick(texts);
        case 1:
          return random() < 0.5;
        case 2:
          return null;
        case 3:
          return parseLossless(pick(["9223372036854775807", "-0", "1.5e300", "0", "-12"]));
        case 4:
          return pick([1, 2, 3]) === 1 ? [] : [value(depth + 1), value(depth + 1)];
        default: {
          const o: Record<string, JsonValue> = {};
          for (const k of ["b", "a", "10", "2", "-1", "1.5"])
            if (random() < 0.5) o[k] = value(depth + 1);
          return o;
        }
      }
    };
    for (let i = 0; i < 500; i++) {
      const payload = new Map<number, JsonValue>();
      const ids = [1, 2, 3, 7, 10, 64, 100, 1000, 2 ** 31 - 1].filter(() => random() < 0.5);
      if (random() < 0.5) ids.reverse();
      for (const id of ids) payload.set(id, value(0));
      expect(serializePayload(payload)).toBe(joined(payload));
      // A create writes its text field by field, in ascending order (node-ops.ts).
      let text = "";
      for (const id of [...ids].sort((a, b) => a - b))
        text = appendPayloadField(text, id, payload.get(id)!);
      expect(`{${text}}`).toBe(serializePayload(payload));
    }
  });

  it("orders keys that are no array indices by number too", () => {
    const payload = new Map<number, JsonValue>([
      [2 ** 32, "big"],
      [3, "three"],
      [-1, "negative"],
    ]);
    expect(serializePayload(payload)).toBe('{"-1":"negative","3":"three","4294967296":"big"}');
  });
});
