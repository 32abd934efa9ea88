"""The topology engine: dependency graph, parallel start, readiness, teardown,
behind a narrow backend interface (Docker behind it)."""
