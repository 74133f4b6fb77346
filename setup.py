"""The compiled part of celr: everything else is in pyproject.toml.

One Cython extension, built by ``pip install`` (no compiler is needed at run time and
nothing is compiled on a user's first call): ``celr._sgd_kernel``, the SGD pass over
sparse rows (its module docstring says why numpy cannot do it).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("celr._sgd_kernel", ["src/celr/_sgd_kernel.pyx"])],
        compiler_directives={"language_level": 3},
    )
)
