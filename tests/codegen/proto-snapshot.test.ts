import { describe, it } from "vitest";
import { printProto } from "../../codegen/proto/print-proto.ts";
import { expectMatchesFile } from "./expect-file.ts";
import { kitchenSinkSchema, minimalSchema } from "./fixture-schemas.ts";
import { compileText, trackerSchema } from "./tracker-schema.ts";

describe("printed .proto", () => {
  it("matches the expected text for the minimal schema", () => {
    expectMatchesFile("minimal.proto", printProto(minimalSchema()));
  });

  it("matches the expected text for the kitchen-sink schema", () => {
    expectMatchesFile("kitchen-sink.proto", printProto(kitchenSinkSchema()));
  });

  it("matches the expected text for the tracker example", () => {
    expectMatchesFile("tracker.proto", printProto(trackerSchema()));
  });

  it("keeps doc comment lines, blank and indented ones included, from the DSL", () => {
    const schema = compileText(
      "docs.entdb",
      [
        "package demo.docs;",
        "/// First line.",
        "///",
        "///   indented line",
        "node Page = 1 {",
        "  /// The title.",
        "  title: string = 1;",
        "}",
        "",
      ].join("\n"),
    );
    expectMatchesFile("docs.proto", printProto(schema));
  });
});
