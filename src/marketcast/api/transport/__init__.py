"""What every WebSocket shares, with no contract knowledge: access, sessions, outbound
queues, frames, direct writes, batching, rate limits."""
