"""The compiled part of celr: everything else is in pyproject.toml.

Five Cython extensions, built by ``pip install`` (no compiler is needed at run time and
nothing is compiled on a user's first call): ``celr._sgd_kernel``, the SGD pass over
sparse rows; ``celr._dense_kernel``, the value and gradient over dense rows in one pass
without the GIL, and the columns' moments; ``celr._hessian_kernel``, the Hessian over
dense rows; ``celr._cd_kernel``, proximal Newton's coordinate descent over CSC columns;
``celr._sparse_kernel``, the columns' sums over CSR rows (their module docstrings say
why numpy cannot do these). ``_blas.pxi``, which the dense ones include, reaches scipy's
BLAS."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [
            Extension("celr._sgd_kernel", ["src/celr/_sgd_kernel.pyx"]),
            Extension("celr._dense_kernel", ["src/celr/_dense_kernel.pyx"]),
            Extension("celr._hessian_kernel", ["src/celr/_hessian_kernel.pyx"]),
            Extension("celr._cd_kernel", ["src/celr/_cd_kernel.pyx"]),
            Extension("celr._sparse_kernel", ["src/celr/_sparse_kernel.pyx"]),
        ],
        compiler_directives={"language_level": 3},
    )
)
