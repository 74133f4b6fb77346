"""The docstring examples of the compiled modules, which pytest's --doctest-modules does
not collect (it reads .py files only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

COMPILED = [
    "celr._cd_kernel",
    "celr._dense_kernel",
    "celr._hessian_kernel",
    "celr._sgd_kernel",
    "celr._sparse_kernel",
]


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_module_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in ("celr._cd_kernel", "celr._sparse_kernel"):
        assert result.attempted > 0
