// Symbol search: what the sidebar shows for the text typed. Pure.

/**
 * The symbols matching `text` (case-insensitive), best first: a symbol starting with the
 * text before one merely containing it, then the list's own order. Empty text: all.
 */
export function matchSymbols(symbols, text) {
  const needle = text.trim().toUpperCase().replace(/[^A-Z0-9]/g, "");
  if (!needle) return [...symbols];
  const starts = symbols.filter((s) => s.startsWith(needle));
  const contains = symbols.filter((s) => !s.startsWith(needle) && s.includes(needle));
  return [...starts, ...contains];
}
