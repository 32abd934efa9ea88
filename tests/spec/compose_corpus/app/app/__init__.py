"""A stand-in application for the Compose corpus's `build: ./app` services."""
