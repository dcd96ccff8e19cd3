// REST reads of the hub (same origin). Each returns undefined on any failure: the page
// keeps what it shows and the next refresh tries again.

async function getJson(path) {
  try {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) return undefined;
    return await response.json();
  } catch {
    return undefined;
  }
}

/**
 * A GET whose refusals matter to the caller: `{ok, status, body, retryAfter}`; a network
 * failure is `{ok: false, status: 0}`.
 */
export async function fetchAnswer(path) {
  try {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => undefined);
    return { ok: response.ok, status: response.status, body, retryAfter: response.headers.get("Retry-After") };
  } catch {
    return { ok: false, status: 0, body: undefined, retryAfter: null };
  }
}

/** Configured symbols of a market (`GET /symbols?market=`). */
export async function loadSymbols(market) {
  const body = await getJson(`/symbols?market=${encodeURIComponent(market)}`);
  return Array.isArray(body?.symbols) ? body.symbols : undefined;
}

/** `/api/v1/symbols` objects by symbol: 24 h figures, formats, rounding options. */
export async function loadMarket() {
  const body = await getJson("/api/v1/symbols");
  return Array.isArray(body) ? new Map(body.map((meta) => [meta.symbol, meta])) : undefined;
}

/**
 * Whether the hub runs against the simulated exchange, and that exchange's clock speed
 * when the hub knows it (`/health`); undefined when the hub does not answer.
 */
export async function loadSimulation() {
  const body = await getJson("/health");
  if (body === undefined) return undefined;
  const speed = Number(body.sim_speed);
  return { simulated: body.simulated === true, speed: Number.isFinite(speed) && speed > 0 ? speed : undefined };
}
