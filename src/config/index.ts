export { ConfigError, formatConfigIssue } from "./config-error.js";
export type { ConfigErrorOptions, ConfigIssue } from "./config-error.js";
export { ConfigStore, createConfigStore } from "./config-store.js";
export type { ApplyConfigOptions, ConfigChange, ConfigListener, ConfigStoreOptions } from "./config-store.js";
export { configFileEnvVar, envPrefix } from "./env-overrides.js";
export { defaultConfigFileName, loadConfig, locateConfigFile, safeLoadConfig } from "./load.js";
export type {
  ConfigFileLocation,
  ConfigFileOrigin,
  ConfigResult,
  LoadConfigOptions,
  LoadedConfig,
} from "./load.js";
export { formatConfigIssues, formatConfigYaml } from "./print.js";
export type { FormatConfigYamlOptions } from "./print.js";
export {
  autoRamBudgetShare,
  createConfigSchema,
  defaultModelAlias,
  isPathLikeSource,
  logLevels,
  modelRoles,
  proactiveActionNames,
  loopEventName,
} from "./schema.js";
export type {
  Config,
  ConfigEnv,
  ConfigPatch,
  ConfigSchema,
  ConfigSchemaContext,
  DeepPartial,
  DeepReadonly,
  ModelRole,
  ProactiveActionName,
  ResolvedConfig,
  ResolvedModelRole,
} from "./schema.js";
