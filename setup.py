"""The compiled parts: the pass over a chunk of samples, and the quantiles of histograms of
counts (docs/architecture.md, "The compiled pass").  Optional: where they cannot be built
(no C compiler), the package installs without them and takes the numpy paths, with the same
results."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("quotatune.rollup.scanpass", ["quotatune/rollup/scanpass.c"], optional=True,
              extra_compile_args=["-O3"]),
    # No fused multiply-add: its answers are the numpy path's, rounding for rounding.
    Extension("quotatune.analysis.quantpass", ["quotatune/analysis/quantpass.c"],
              optional=True, extra_compile_args=["-O3", "-ffp-contract=off"]),
])
