"""Pure domain rules: no I/O, no clock reads. Time is always passed in (epoch ms, UTC)."""
