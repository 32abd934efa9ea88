"""Sphinx configuration: MyST markdown, warnings are errors (sphinx-build -W)."""

project = "pytest-ephemeral"
author = "the pytest-ephemeral developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]
