"""The one compiled part: the leak check's index (optional; see _fastindex.c).

Everything else is in pyproject.toml. When no C compiler is at hand the
build goes on without it and the leak check runs in Python (same findings,
slower): ``optional=True``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pytest_ephemeral.data.sanitize._fastindex",
            sources=["src/pytest_ephemeral/data/sanitize/_fastindex.c"],
            extra_compile_args=["-O2", "-std=c99"],
            optional=True,
        )
    ]
)
