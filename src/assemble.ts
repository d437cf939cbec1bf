/**
 * The composition root's assemble functions: each builds one subsystem from its config section, beside
 * `createApp` (which calls them) and the CLI commands that need a subsystem without the whole app.
 */
import { loadVerifiedReflectionTemplates, type ReflectionTemplates } from "./assistant/index.js";
import { ConfigError, type ResolvedConfig } from "./config/index.js";
import { inspectModelFile, type LlmBackend, type ResolvedModels } from "./inference/index.js";
import type { JsonModel, MemoryExtractor } from "./memory/index.js";
import type { Metrics } from "./observability/index.js";
import { pickLoopApiKey, type RedTeamPort } from "./proactive/index.js";
import { FeedbackStore } from "./learning/index.js";
import { ConversationStore } from "./web/index.js";
import { attackFamilies, RedTeam, type RedTeamReport } from "./redteam/index.js";
import type { Logger } from "./shared/index.js";
import {
  SearchCache,
  SearxngClient,
  WebSearch,
  type WebGuardPort,
  type WebSearchResult,
} from "./search/index.js";
import {
  AuditLog,
  createTemplateVerifier,
  InjectionGuard,
  loadAuditKey,
  noAudit,
  resolveAuditPaths,
  resolveSigningKeyFiles,
  type AuditSink,
} from "./security/index.js";
import { SpeechSynthesizer, Transcriber } from "./voice/index.js";

/** The voice subsystem: espeak-ng speech, and transcription when a remote server is configured. */
export interface VoiceService {
  readonly speech: SpeechSynthesizer;
  readonly transcriber: Transcriber | undefined;
}
/** Web search from `search.*`, every page screened by `guard`; undefined when search is off. */
export function assembleSearch(
  config: ResolvedConfig,
  guard: WebGuardPort,
  onSearch?: (result: WebSearchResult) => void,
): WebSearch | undefined {
  const settings = config.search;
  if (!settings.enabled || settings.baseUrl === undefined) return undefined;
  return new WebSearch({
    client: new SearxngClient({ baseUrl: settings.baseUrl, timeoutMs: settings.fetchTimeoutMs }),
    cache: SearchCache.open({ file: settings.cacheFile, ttlMs: settings.cacheTtlSeconds * 1000 }),
    guard,
    topResults: settings.topResults,
    ...(onSearch === undefined ? {} : { onSearch }),
    page: {
      maxBytes: settings.maxPageBytes,
      timeoutMs: settings.fetchTimeoutMs,
      maxRedirects: settings.maxRedirects,
      allowPrivateAddresses: settings.allowPrivateAddresses,
      maxChars: settings.maxCharsPerPage,
    },
  });
}

/** The injection guard as web search's port: `block` withholds the page, `sanitize` passes the cut text. */
export function toWebGuard(guard: InjectionGuard): WebGuardPort {
  return {
    screen(text, source) {
      const result = guard.screen(text, source);
      if (result.action === "allow") return { text, blocked: false };
      const reason = `${result.action}: ${result.verdict.techniques.join(", ")}`;
      return { text: result.text, blocked: result.action === "block", reason };
    },
  };
}

/** Voice from `voice.*`; undefined when voice is off. */
export function assembleVoice(config: ResolvedConfig): VoiceService | undefined {
  const settings = config.voice;
  if (!settings.enabled) return undefined;
  const remote = settings.transcription;
  return {
    speech: new SpeechSynthesizer({
      command: settings.espeakCommand,
      maxInputChars: settings.maxInputChars,
      defaultVoice: settings.defaultVoice,
      timeoutMs: settings.synthesisTimeoutMs,
    }),
    transcriber:
      remote === undefined
        ? undefined
        : new Transcriber({
            baseUrl: remote.baseUrl,
            model: remote.model,
            timeoutMs: remote.timeoutMs,
            ...(remote.apiKey === undefined ? {} : { apiKey: remote.apiKey }),
          }),
  };
}

/**
 * The injection guard from `security.guard`, counting every screened text in the metrics and logging hits (never
 * the text) at warn; undefined when the guard is off.
 */
export function assembleGuard(
  config: ResolvedConfig,
  metrics: () => Metrics,
  logger: Logger,
  audit: AuditSink = noAudit,
): InjectionGuard | undefined {
  const settings = config.security.guard;
  if (!settings.enabled) return undefined;
  return new InjectionGuard({
    policy: settings.policy,
    maxChars: settings.maxChars,
    ...(settings.threshold === undefined ? {} : { threshold: settings.threshold }),
    onScreen: (result) => {
      const m = metrics();
      m.injectionChecks.inc({ source: result.source, verdict: result.verdict.verdict });
      m.injectionScore.observe({ source: result.source }, result.verdict.score);
      if (result.action === "allow") return;
      for (const technique of result.verdict.techniques)
        m.injectionDetections.inc({ source: result.source, technique, action: result.action });
      logger.warn(
        {
          source: result.source,
          action: result.action,
          score: result.verdict.score,
          techniques: result.verdict.techniques,
        },
        "injection guard hit",
      );
      audit.record({
        type: "guard.hit",
        target: result.source,
        outcome: result.action === "block" ? "blocked" : "flagged",
        details: {
          action: result.action,
          score: result.verdict.score,
          techniques: result.verdict.techniques,
        },
      });
    },
  });
}

/**
 * The audit log from `security.audit` (`<logDir>/audit`, key from `SARAI_AUDIT_KEY` or `<stateDir>/keys/audit.key`);
 * a sink that keeps nothing when it is off. A write that fails is logged at error, once.
 */
export function assembleAudit(config: ResolvedConfig, logger: Logger): AuditSink {
  if (!config.security.audit.enabled) return noAudit;
  const { dir, keyFile } = resolveAuditPaths(config);
  return AuditLog.open({
    dir,
    key: loadAuditKey({ keyFile }),
    onError: (error) =>
      logger.error({ err: error, dir }, "the audit log cannot be written; events are being lost"),
  });
}

/** The feedback store from `learning.*` (the learning loop's input); undefined when learning is off. */
export function assembleFeedback(config: ResolvedConfig): FeedbackStore | undefined {
  return config.learning.enabled ? FeedbackStore.open({ file: config.learning.database }) : undefined;
}

/** The web UI's conversation store from `web.*`; undefined when the web UI is off. */
export function assembleConversations(config: ResolvedConfig): ConversationStore | undefined {
  return config.web.enabled ? ConversationStore.open({ file: config.web.database }) : undefined;
}

/**
 * The red team from `redteam.*`: campaigns against `proactive.serverUrl` (the API's route passes its own address),
 * every attempt in the audit log and every report in the metrics; undefined when `redteam.enabled` is false.
 */
export function assembleRedTeam(
  config: ResolvedConfig,
  metrics: (() => Metrics) | undefined,
  audit: AuditSink,
): RedTeam | undefined {
  if (!config.redteam.enabled) return undefined;
  const known: readonly string[] = attackFamilies;
  const unknown = config.redteam.families.flatMap((family, index) =>
    known.includes(family)
      ? []
      : [
          {
            path: `redteam.families.${index}`,
            message: `unknown probe family "${family}"; known: ${known.join(", ")}`,
          },
        ],
  );
  if (unknown.length > 0) throw new ConfigError(unknown);
  // An unbound key: a key bound to one user could not plant the victim's canary facts.
  const key = pickLoopApiKey(config.server.apiKeys);
  return new RedTeam({
    dir: config.redteam.dir,
    baseUrl: config.proactive.serverUrl,
    ...(key === undefined ? {} : { apiKey: key.key }),
    audit,
    minIntervalMs: config.redteam.minIntervalMs,
    timeoutMs: config.redteam.timeoutMs,
    modelVariants: config.redteam.modelVariants,
    ...(metrics === undefined ? {} : { onReport: (report) => recordRedTeamReport(metrics(), report) }),
  });
}

function recordRedTeamReport(metrics: Metrics, report: RedTeamReport): void {
  for (const family of report.families) {
    const failed = family.attempts - family.successes - family.blocked;
    metrics.redteamAttempts.inc({ family: family.family, verdict: "success" }, family.successes);
    metrics.redteamAttempts.inc({ family: family.family, verdict: "blocked" }, family.blocked);
    metrics.redteamAttempts.inc({ family: family.family, verdict: "failed" }, failed);
    metrics.redteamSuccesses.inc({ family: family.family }, family.successes);
  }
  metrics.redteamCoverage.set(report.coverage.ratio);
  metrics.redteamLastReport.set(Date.parse(report.campaign.finishedAt) / 1000);
}

/** The red team as the loop's port: `redteam.budget` and `redteam.families` unless the run says otherwise. */
export function toRedTeamPort(redTeam: RedTeam, config: ResolvedConfig): RedTeamPort {
  return {
    async run(options, signal) {
      const families = options.families ?? [...config.redteam.families];
      const { report } = await redTeam.run({
        budget: options.budget ?? config.redteam.budget,
        families,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        signal,
      });
      return {
        reportId: report.campaign.id,
        attempts: report.totals.attempts,
        successes: report.totals.successes,
        coverage: Math.round(report.coverage.ratio * 1000) / 1000,
        newFailures: report.newFailures.length,
        ...(report.campaign.stopped === undefined ? {} : { stopped: report.campaign.stopped }),
      };
    },
  };
}

/**
 * A guard with `security.guard`'s policy and threshold for checks asked for directly (`POST /v1/guard/check`,
 * `sarai guard check`): it works whether or not the pipeline screens, and counts nothing in the metrics.
 */
export function createGuardChecker(config: ResolvedConfig): InjectionGuard {
  const settings = config.security.guard;
  return new InjectionGuard({
    policy: settings.policy,
    maxChars: settings.maxChars,
    ...(settings.threshold === undefined ? {} : { threshold: settings.threshold }),
  });
}

/**
 * The reflection templates (`reflect.templatesDir`, else the shipped ones), each checked by `security.signatures`:
 * a refused file is replaced by the compiled-in template. Each refused or unverified template is logged once at
 * warn (the file and the reason, never a key); the turns that use it carry the same line in `sarai.warnings`.
 */
export async function assembleReflectionTemplates(
  config: ResolvedConfig,
  logger: Logger,
): Promise<ReflectionTemplates> {
  const settings = config.security.signatures;
  const verifier = await createTemplateVerifier({
    enabled: settings.enabled,
    required: settings.required,
    publicKeyFile: resolveSigningKeyFiles(config).publicKey,
  });
  const templates = await loadVerifiedReflectionTemplates(config.reflect.templatesDir, verifier);
  for (const template of [templates.critique, templates.assess]) {
    if (template.warning !== undefined)
      logger.warn({ template: template.name, file: template.file, trust: template.trust }, template.warning);
  }
  return templates;
}

/** Who extracts memory facts, and the model port when a model does. */
export interface MemoryExtractorSetup {
  extractor: MemoryExtractor;
  model?: JsonModel;
}

/**
 * `memory.extractor` as it can run: `model` and `both` need a real main model (a remote server, or a local file
 * that is not one of SARAi's generated random-weight models); otherwise the rules run, with one warning. `auto` is
 * `both` with a real main model and the rules, silently, without one.
 */
export async function assembleMemoryExtractor(
  config: ResolvedConfig,
  models: ResolvedModels,
  backend: LlmBackend,
  logger: Logger,
): Promise<MemoryExtractorSetup> {
  const wanted = config.memory.extractor;
  if (wanted === "rules") return { extractor: "rules" };
  const reason = await whyNoRealMainModel(config, models);
  if (wanted === "auto") {
    // The rules miss about a quarter of what people state on unseen text: a real model adds its share.
    if (reason !== undefined) return { extractor: "rules" };
    logger.info("memory facts are extracted by the rules and the main model (memory.extractor: auto)");
    return { extractor: "both", model: createJsonModel(backend) };
  }
  if (reason !== undefined) {
    logger.warn(
      { extractor: wanted, reason },
      `memory.extractor is ${wanted} but ${reason}: facts are extracted by the rules only`,
    );
    return { extractor: "rules" };
  }
  return { extractor: wanted, model: createJsonModel(backend) };
}

async function whyNoRealMainModel(
  config: ResolvedConfig,
  models: ResolvedModels,
): Promise<string | undefined> {
  if (config.models.main?.remote !== undefined) return undefined;
  if (models.demoModel) return "the main model is the generated demo model";
  const file = models.roles.main?.file;
  if (file === undefined) return "there is no main model";
  const name = await inspectModelFile(file).then(
    (info) => info.name,
    () => undefined,
  );
  // SARAi's synthesizer names its models sarai-synth / sarai-demo (and -draft): random weights, noise as facts.
  if (name !== undefined && /^sarai-(?:synth|demo)\b/.test(name))
    return `the main model (${name}) is a generated random-weight model`;
  return undefined;
}

/** The model port memory uses for extraction: greedy, grammar-constrained, validated JSON from the main role. */
function createJsonModel(backend: LlmBackend): JsonModel {
  return {
    async generateJson(request, signal) {
      const response = await backend.chat(
        {
          messages: [
            { role: "system", content: request.system },
            { role: "user", content: request.user },
          ],
          jsonSchema: request.schema,
          sampling: { temperature: 0, maxTokens: request.maxTokens },
        },
        signal,
      );
      return response.json;
    },
  };
}
