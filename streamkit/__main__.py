"""``python -m streamkit``: the same command line as the ``streamkit`` script."""

from .cli import main

raise SystemExit(main())
