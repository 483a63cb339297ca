/**
 * `entdb serve --serve-threads N`: threads that serve reads beside the main thread, on
 * the same port, and hand everything else to it (docs/architecture.md, "Serving threads").
 */

export { type ServeThreads, type ServeThreadsOptions, startServeThreads } from "./serve-threads.ts";
export { TENANT_SLOTS, ThreadState } from "./thread-state.ts";
