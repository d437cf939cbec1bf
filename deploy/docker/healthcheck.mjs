// The container's HEALTHCHECK: GET /ready on the local server, exit 0 only on 200. /ready needs an API key
// when keys are set (always, in the container): the first of SARAI_SERVER_API_KEYS is sent.
const port = process.env.SARAI_SERVER_PORT ?? "8080";
const key = (process.env.SARAI_SERVER_API_KEYS ?? "").split(",")[0]?.trim();
try {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: AbortSignal.timeout(4000),
  });
  if (response.status !== 200) console.error(`/ready answered ${response.status}`);
  process.exit(response.status === 200 ? 0 : 1);
} catch (error) {
  console.error(`/ready: ${error.message}`);
  process.exit(1);
}
