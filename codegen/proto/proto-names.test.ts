import { describe, expect, it } from "vitest";
import {
  enumValueName,
  enumZeroValueName,
  protoFilePath,
  protoJsonName,
  protoTypeFilePath,
  screamingSnake,
} from "./proto-names.ts";

describe("proto names", () => {
  it("puts the shared file at the package path", () => {
    expect(protoFilePath("acme.tracker")).toBe("acme/tracker/schema.proto");
    expect(protoFilePath("solo")).toBe("solo/schema.proto");
  });

  it("puts each type's file beside it, named in snake case", () => {
    expect(protoTypeFilePath("acme.tracker", "Task")).toBe("acme/tracker/task.proto");
    expect(protoTypeFilePath("acme.tracker", "AssignedTo")).toBe("acme/tracker/assigned_to.proto");
    expect(protoTypeFilePath("solo", "HTTPCode")).toBe("solo/http_code.proto");
  });

  it("turns type names into SCREAMING_SNAKE enum prefixes, acronyms included", () => {
    expect(
      ["TaskStatus", "Priority", "HTTPCode", "OAuth2Scope", "V2Flag"].map(screamingSnake),
    ).toEqual(["TASK_STATUS", "PRIORITY", "HTTP_CODE", "O_AUTH2_SCOPE", "V2_FLAG"]);
  });

  it("prefixes enum values and names the zero value", () => {
    expect(enumValueName("TaskStatus", "in_progress")).toBe("TASK_STATUS_IN_PROGRESS");
    expect(enumValueName("TaskStatus", "wontDo")).toBe("TASK_STATUS_WONTDO");
    expect(enumZeroValueName("TaskStatus")).toBe("TASK_STATUS_UNSPECIFIED");
  });

  it("derives JSON names the way protoc does", () => {
    expect(["display_name", "a_b_c", "already", "x_1"].map(protoJsonName)).toEqual([
      "displayName",
      "aBC",
      "already",
      "x1",
    ]);
  });
});
