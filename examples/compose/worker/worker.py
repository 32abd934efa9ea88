"""A queue worker: BLPOP jobs, upper-case them, store the results."""

from resp import command

version = command("GET", "schema:version")
print(f"worker ready (schema {version})", flush=True)
while True:
    item = command("BLPOP", "jobs", "0")
    if item:
        _, payload = item
        command("HSET", "results", payload, payload.upper())
