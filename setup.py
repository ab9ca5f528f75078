"""The compiled part of billflow: one C module, optional.

`engine.core._digestset` is the DigestSet that every event and every billed entry goes
through; when no C compiler is at hand the install still succeeds and billflow uses the
pure-Python form in `engine/core/digests.py` (same digests, same behaviour, slower).
Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("engine.core._digestset", ["engine/core/_digestset.c"],
                             optional=True)])
