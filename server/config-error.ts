/**
 * The error of a configuration the server refuses to start with. Its own module so that
 * the parts of the configuration that live beside the code they configure (tokens,
 * JWT keys in `api/`) can throw it without importing the whole configuration.
 */

/** A configuration problem; the message says what to change. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
