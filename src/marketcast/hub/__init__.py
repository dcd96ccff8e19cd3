"""The hub: sync (bootstrap, gap-fill, finalize) → store → bus → fan-out."""
