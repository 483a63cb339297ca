/**
 * The file descriptor a `_pb.js` embeds (`fileDesc("…")`), in the runtime's form: the
 * binary `FileDescriptorProto` in base64 without padding, without what the runtime
 * rebuilds or does not need: the imports (passed to `fileDesc` as the imported files'
 * own descriptors), the SourceCodeInfo, and each field's `json_name` where it is the
 * default one (the runtime derives that).
 */

import { toBinary } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import { base64Encode } from "@bufbuild/protobuf/wire";
import type {
  DescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** The base64 text of `file` as `fileDesc` takes it. */
export function embeddedDescriptor(file: FileDescriptorProto): string {
  // Shallow copies: the descriptor the caller holds is not changed.
  const stripped: FileDescriptorProto = {
    ...file,
    dependency: [],
    sourceCodeInfo: undefined,
    messageType: file.messageType.map(withoutDefaultJsonNames),
  };
  return base64Encode(toBinary(FileDescriptorProtoSchema, stripped), "std_raw");
}

function withoutDefaultJsonNames(message: DescriptorProto): DescriptorProto {
  return {
    ...message,
    field: message.field.map((f) =>
      f.jsonName === protoCamelCase(f.name) ? withoutJsonName(f) : f,
    ),
    nestedType: message.nestedType.map(withoutDefaultJsonNames),
  };
}

/**
 * `field` without its `json_name`: a proto2 optional is unset when it is not an own
 * property, which is all `toBinary` asks (a copy without the property, not a `delete`,
 * which would make every field object slow to read).
 */
function withoutJsonName(field: FieldDescriptorProto): FieldDescriptorProto {
  const { jsonName: _, ...rest } = field;
  return rest as FieldDescriptorProto;
}
