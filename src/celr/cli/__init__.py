"""The ``celr`` command line tool: fit, predict, evaluate, summary and demo.

Run ``celr --help`` (or ``python -m celr --help``). One module per concern: ``_main``
(arguments, exit status), ``_commands`` (the subcommands), ``_data`` (tables in and out),
``_model`` (the pipeline and model files), ``_report`` (printed tables), ``_plots``
(PNGs) and ``_demo``.
"""

from celr.cli._main import main

__all__ = ["main"]
