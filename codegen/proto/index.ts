/**
 * The proto generator alone (model → descriptor, names), for callers that must not
 * load the TypeScript client generator and its compiler: the server builds the
 * descriptors of the schema it serves from here.
 */

export { buildFileDescriptors } from "./build-descriptor.ts";
export { edgeTypeNames, nodeTypeNames, protoFilePath } from "./proto-names.ts";
