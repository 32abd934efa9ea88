"""Labels and naming, the reaper for killed runs, kept environments, TTL, sweep."""
