"""The compiled parts of the sanitizer, both optional: the leak check's
index (_fastindex.c) and the sanitizer's hot path (_fastcopy.c).

Everything else is in pyproject.toml. When no C compiler is at hand the
build goes on without them and the same runs in Python (same findings, same
output, slower): ``optional=True``. ``-ffp-contract=off``: no fused
multiply-add, so that the noise's arithmetic rounds as Python's does.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pytest_ephemeral.data.sanitize._fastindex",
            sources=["src/pytest_ephemeral/data/sanitize/_fastindex.c"],
            depends=["src/pytest_ephemeral/data/sanitize/_copyfield.h"],
            extra_compile_args=["-O2", "-std=c99"],
            optional=True,
        ),
        Extension(
            "pytest_ephemeral.data.sanitize._fastcopy",
            sources=["src/pytest_ephemeral/data/sanitize/_fastcopy.c"],
            depends=["src/pytest_ephemeral/data/sanitize/_copyfield.h"],
            extra_compile_args=["-O2", "-std=c99", "-ffp-contract=off"],
            libraries=["m"],
            optional=True,
        ),
    ]
)
