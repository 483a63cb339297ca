/**
 * The Python client generator (`entdb generate --python OUT`) and the Python runtime's
 * embedded API descriptors.
 */

export { API_DESCRIPTOR_PATH, apiDescriptorModule } from "./api-descriptor.ts";
export { generatePython, type PythonFile } from "./generate-python.ts";
export { checkPythonNames, pythonPackageName } from "./python-names.ts";
