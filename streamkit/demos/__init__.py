"""The demo app used by ``streamkit demo``, ``streamkit serve`` and the notebooks.

``streamkit.demos.app`` is a ready App; :func:`create_app` makes a fresh one. The views are in
:mod:`streamkit.demos.views`, the command-line runs in :mod:`streamkit.demos.run`.
"""

from .views import DEMOS, Demo, create_app

app = create_app()

__all__ = ["DEMOS", "Demo", "app", "create_app"]
