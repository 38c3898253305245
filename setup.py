"""The one compiled part: the pass over a chunk of samples (docs/architecture.md, "The
compiled pass").  Optional: where it cannot be built (no C compiler), the package installs
without it and takes the numpy path, with the same results."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("quotatune.rollup.scanpass", ["quotatune/rollup/scanpass.c"],
                             optional=True, extra_compile_args=["-O3"])])
