"""Street-level map, work orders and storm sweeps for field crews."""
