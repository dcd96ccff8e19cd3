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

/** Configured symbols (`GET /symbols`). */
export async function loadSymbols() {
  const body = await getJson("/symbols");
  return Array.isArray(body?.symbols) ? body.symbols : undefined;
}

/** Intervals the hub serves for `symbol`, from `/streaming/status` topics. */
export async function loadIntervals(symbol) {
  const body = await getJson("/streaming/status");
  const topics = body?.topics ?? body?.per_symbol ?? [];
  const mine = topics.filter((t) => t.symbol === symbol).map((t) => t.interval);
  return mine.length ? mine : topics.map((t) => t.interval);
}

/** `/api/v1/symbols` objects by symbol: 24 h figures, formats, rounding options. */
export async function loadMarket() {
  const body = await getJson("/api/v1/symbols");
  return Array.isArray(body) ? new Map(body.map((meta) => [meta.symbol, meta])) : undefined;
}

/** Whether the hub runs against the simulated exchange (`/health`). */
export async function loadSimulated() {
  const body = await getJson("/health");
  return body === undefined ? undefined : body.simulated === true;
}
