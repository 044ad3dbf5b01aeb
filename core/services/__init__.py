"""Core services: the one place each kind of change to the data happens."""
