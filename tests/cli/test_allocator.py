"""The CLI asks glibc to keep freed chunk-sized blocks instead of returning them to the
kernel (fewer page faults per streamed chunk)."""

from __future__ import annotations

import platform

import pytest

from quotatune.cli.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_every_setting_is_accepted_by_glibc() -> None:
    assert keep_freed_memory() is True
