"""streamkit: see HTTP response streaming happen.

The core (this package's first layer) implements Flask's three streaming techniques on
werkzeug and Jinja2, with Flask's names:

* a generator handed to :class:`Response` sends each ``yield`` as it is made;
* :func:`stream_template` streams a template part by part (``.enable_buffering(5)`` groups them);
* :func:`stream_with_context` keeps :data:`request` available while a stream runs.
"""

from werkzeug.exceptions import abort

from .app import App
from .compression import GzipMiddleware, NaiveGzipMiddleware
from .context import request, stream_with_context
from .diagnosis import Diagnosis, Finding
from .doctor import doctor  # the function; the module stays importable as streamkit.doctor
from .probe import ProbeError, probe
from .response import Response
from .server import Server, serve
from .templating import (
    StreamingTemplate,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
)
from .timeline import compare
from .trace import Trace

__version__ = "0.1.0"

__all__ = [
    "App",
    "Diagnosis",
    "Finding",
    "GzipMiddleware",
    "NaiveGzipMiddleware",
    "ProbeError",
    "Response",
    "Server",
    "StreamingTemplate",
    "abort",
    "compare",
    "doctor",
    "probe",
    "render_template",
    "render_template_string",
    "request",
    "serve",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "Trace",
]
