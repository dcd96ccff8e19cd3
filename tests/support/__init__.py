"""Shared test harness: real servers on loopback, the simulator, following clients."""
