import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { attackFamilies, parseCase, renderReportHtml, type RedTeam } from "../redteam/index.js";
import { AppError, type Logger } from "../shared/index.js";
import { parseRequest } from "./errors.js";

const campaignBody = z
  .object({
    /** Probe families; all when absent. */
    families: z.array(z.enum(attackFamilies)).max(attackFamilies.length).optional(),
    /** New attempts (`0`: every probe and every cell once); default `redteam.budget`. */
    budget: z.int().min(0).max(100_000).optional(),
    seed: z
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
    /** Rerun exactly these cases (`probe-id:mutator+mutator:seed`, as a report's reproducers give them). */
    cases: z.array(z.string().min(1).max(300)).max(1000).optional(),
  })
  .strict();

const reportParams = z.object({ id: z.string().regex(/^[\w-]{1,64}$/, "a report id") }).strict();
const reportQuery = z.object({ format: z.enum(["json", "html"]).optional() }).strict();

/** This server as seen from the connection the request came in on: the campaign attacks it over HTTP. */
function ownAddress(request: FastifyRequest): string {
  const host = request.socket.localAddress ?? "127.0.0.1";
  const bare = host.startsWith("::ffff:") ? host.slice(7) : host;
  return `http://${bare.includes(":") ? `[${bare}]` : bare}:${request.socket.localPort ?? 0}`;
}

/**
 * `/v1/redteam`: start a campaign against this server (over HTTP, as any client), see whether one runs, read the
 * reports. One campaign at a time; it runs in the background and its report is saved when it ends.
 */
export function registerRedTeamRoutes(fastify: FastifyInstance, app: App, logger: Logger): void {
  // Admin routes: a key bound to one user is refused (a campaign plants and reads red-team users' facts).
  const redTeamOf = (request: FastifyRequest): RedTeam => {
    if (request.sarai.boundUser !== undefined)
      throw new AppError("FORBIDDEN", "the red team's routes need an API key that is not bound to a user");
    if (app.redteam === undefined)
      throw new AppError(
        "ROUTE_NOT_FOUND",
        "the red team is turned off on this server (redteam.enabled: false)",
      );
    return app.redteam;
  };

  fastify.post("/v1/redteam/campaigns", async (request, reply) => {
    const redTeam = redTeamOf(request);
    const body = parseRequest(campaignBody, request.body);
    const cases = (body.cases ?? []).map((text, index) => {
      try {
        return parseCase(text);
      } catch (error) {
        throw new AppError("INVALID_REQUEST", (error as Error).message, { param: `cases[${index}]` });
      }
    });
    const known = new Set(redTeam.catalogue.map((probe) => probe.id));
    const unknown = cases.findIndex((given) => !known.has(given.probeId));
    if (unknown >= 0)
      throw new AppError("INVALID_REQUEST", `no probe "${cases[unknown]?.probeId}"`, {
        param: `cases[${unknown}]`,
      });
    if (redTeam.running !== undefined)
      throw new AppError(
        "CAMPAIGN_RUNNING",
        `a red-team campaign started at ${redTeam.running.startedAt} is still running`,
      );
    const authorization = request.headers.authorization;
    const apiKey = authorization?.startsWith("Bearer ") === true ? authorization.slice(7) : undefined;
    const budget = body.budget ?? app.config.redteam.budget;
    const run = redTeam.run({
      baseUrl: ownAddress(request),
      ...(apiKey === undefined ? {} : { apiKey }),
      families: body.families ?? [...app.config.redteam.families],
      budget,
      ...(body.seed === undefined ? {} : { seed: body.seed }),
      ...(cases.length === 0 ? {} : { cases }),
    });
    run.then(
      ({ report }) =>
        logger.info(
          {
            campaign: report.campaign.id,
            attempts: report.totals.attempts,
            successes: report.totals.successes,
          },
          "red-team campaign finished",
        ),
      (error: unknown) => logger.error({ err: error }, "red-team campaign failed"),
    );
    return reply.code(202).send({
      object: "redteam.campaign",
      status: "running",
      // run() marked the campaign as running before its first await.
      started_at: (redTeam.running as { startedAt: string } | undefined)?.startedAt ?? null,
      budget,
    });
  });

  fastify.get("/v1/redteam/campaigns/current", (request) => {
    const redTeam = redTeamOf(request);
    const running = redTeam.running;
    return {
      object: "redteam.campaign",
      status: running === undefined ? "idle" : "running",
      started_at: running?.startedAt ?? null,
      last_report: redTeam.store.list().at(-1) ?? null,
    };
  });

  fastify.get("/v1/redteam/reports", (request) => ({
    object: "list",
    data: redTeamOf(request)
      .store.list()
      .map((id) => ({ id, object: "redteam.report" })),
  }));

  fastify.get("/v1/redteam/reports/:id", (request, reply) => {
    const { id } = parseRequest(reportParams, request.params);
    const { format } = parseRequest(reportQuery, request.query);
    const store = redTeamOf(request).store;
    const report = id === "latest" ? store.latest() : store.get(id);
    if (report === undefined)
      throw new AppError(
        "NOT_FOUND",
        id === "latest" ? "no red-team report yet" : `no red-team report ${id}`,
        {
          param: "id",
        },
      );
    if (format !== "html") return report;
    return reply
      .header("content-type", "text/html; charset=utf-8")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
      .send(renderReportHtml(report));
  });
}
