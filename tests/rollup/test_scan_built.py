"""The compiled pass is optional at install (a machine without a C compiler takes the numpy
path); where the machine can build it, a build that failed quietly would leave every run on
the slower path."""

from __future__ import annotations

import shutil
import sysconfig

import pytest

from quotatune.rollup import scan as compiled


def test_the_compiled_pass_is_built_where_a_c_compiler_is() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler here")
    assert compiled.AVAILABLE
