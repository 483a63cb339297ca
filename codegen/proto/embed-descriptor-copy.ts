/**
 * The descriptor protoc-gen-es embeds in `*_pb.js`, copied the cheap way. codegenv2's
 * `embedFileDesc(file).proto()` deep-clones the whole FileDescriptorProto (with reflection,
 * SourceCodeInfo included), then clears `dependency` and `sourceCodeInfo` and the
 * `json_name` of every field whose JSON name is the default one, and serializes the
 * rest. For a 500-type schema the clone and that pass were a sixth of the plugin's time.
 * The copy made here shares everything it does not change with the original and builds
 * new objects only along the way to what it clears, which is enough because the copy is
 * only serialized, never changed. Same fields set, same values: the same bytes.
 */

import type { Message } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/**
 * What `embedFileDesc(file).proto()` returns for `file`: without dependencies, without
 * SourceCodeInfo, and without the `json_name` that `protoCamelCase(name)` gives anyway.
 * Shares unchanged parts with `file`; the caller must not change the result.
 */
export function embeddedDescriptorCopy(file: FileDescriptorProto): FileDescriptorProto {
  const withoutDefaultJsonNames = (message: DescriptorProto): DescriptorProto => {
    const copy = copyWithout(message, ["field", "nestedType"]);
    copy.field = message.field.map((f) =>
      // Upstream compares with the JSON name whether or not one is set; so do we.
      f.jsonName === protoCamelCase(f.name) ? copyWithout(f, ["jsonName"]) : f,
    );
    copy.nestedType = message.nestedType.map(withoutDefaultJsonNames);
    return copy;
  };
  const copy = copyWithout(file, ["sourceCodeInfo", "messageType"]);
  copy.dependency = [];
  copy.messageType = file.messageType.map(withoutDefaultJsonNames);
  return copy;
}

/**
 * A shallow copy of `message` with the same prototype (which carries the defaults, so
 * a field that is not an own property reads as unset, as after `clearField`), without
 * the own properties `omit` names.
 */
function copyWithout<T extends Message>(message: T, omit: readonly (keyof T & string)[]): T {
  const copy = Object.create(Object.getPrototypeOf(message) as object) as Record<string, unknown>;
  const from = message as unknown as Record<string, unknown>;
  for (const key of Object.keys(from)) {
    if (!(omit as readonly string[]).includes(key)) copy[key] = from[key];
  }
  return copy as unknown as T;
}
