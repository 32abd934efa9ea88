"""A one-shot job: prepares Redis before the worker starts, then exits 0."""

from resp import command

command("SET", "schema:version", "3")
command("DEL", "jobs", "results")
print("migrated to schema 3", flush=True)
