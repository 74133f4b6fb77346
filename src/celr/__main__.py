"""``python -m celr``: the ``celr`` command line tool."""

from celr.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
