import { describe, expect, it } from "vitest";
import { isRawNumber, parseLossless, parsePayload, stringifyJson } from "./lossless-json.ts";

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
