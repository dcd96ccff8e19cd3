"""marketcast: a real-time crypto market-data hub."""
