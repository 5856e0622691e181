"""The App: a small WSGI application with Flask's names for routing, templates and teardown.

It does just enough for the streaming techniques to work as they do in Flask:

* ``@app.route`` maps URLs to view functions with werkzeug's router (404 and 405 included);
* a view may return a :class:`Response`, a ``str``, ``bytes``, an iterator of either, or a
  ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)`` tuple;
* ``app.jinja_env`` renders templates from ``template_folder`` next to the app's module;
* ``@app.context_processor`` and ``app.update_template_context`` fill template contexts;
* ``@app.before_request`` functions run before the view, in the order they were registered;
  the first one that returns something other than None answers the request instead of the
  view (its value is made into a response like a view's);
* ``@app.after_request`` functions run after the view has returned and before the body is
  sent, newest first; each receives the response and must return it (or another one), so for
  a streamed response they can set headers but the generator has not started yet. They run on
  404 and 405 answers too, but not when the view raised;
* ``@app.teardown_request`` callbacks run once the response has been sent in full, so for a
  streamed response they run after the stream, not when the view returns.

Layer: core.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import Client, EnvironBuilder

from .context import RequestContext, request
from .response import Response

# Where the server puts the recording of a traced request in the WSGI environ (see
# streamkit.recording, in the serving layer; the core only uses the object it is handed).
RECORDING_KEY = "streamkit.recording"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class App:
    """A WSGI application. ``App(__name__)`` finds templates in ``./templates`` beside the module.

    The WSGI entry point is :meth:`wsgi_app`; calling the App calls it. Wrap middleware around
    it the Flask way, ``app.wsgi_app = Middleware(app.wsgi_app)``, or around the App itself.
    """

    def __init__(self, import_name: str, template_folder: str | None = "templates") -> None:
        self.import_name = import_name
        self.root_path = _root_path(import_name)
        self.template_folder = template_folder
        self.url_map = Map()
        self.view_functions: dict[str, Callable[..., Any]] = {}
        self.teardown_request_funcs: list[Callable[[BaseException | None], Any]] = []
        self.before_request_funcs: list[Callable[[], Any]] = []
        self.after_request_funcs: list[Callable[[Any], Any]] = []
        self.template_context_processors: list[Callable[[], dict[str, Any]]] = []
        self.jinja_env = self._create_jinja_env()

    def __repr__(self) -> str:
        return f"<App {self.import_name!r}>"

    # -- setting up ---------------------------------------------------------------------

    def _create_jinja_env(self) -> Environment:
        loader = None
        if self.template_folder is not None:
            loader = FileSystemLoader(os.path.join(self.root_path, self.template_folder))
        return Environment(
            loader=loader,
            autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        )

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Connect a URL rule to a view function (what ``@app.route`` does)."""
        if view_func is None:
            raise TypeError("add_url_rule() needs a view_func")
        endpoint = endpoint or view_func.__name__
        existing = self.view_functions.get(endpoint)
        if existing is not None and existing is not view_func:
            raise ValueError(
                f"Two view functions share the endpoint {endpoint!r}; give one of them another "
                f"name or pass endpoint=..."
            )
        if isinstance(methods, str):
            raise TypeError(f"methods must be a list such as ['GET', 'POST'], not {methods!r}")
        self.url_map.add(Rule(rule, endpoint=endpoint, methods=list(methods or ["GET"])))
        self.view_functions[endpoint] = view_func

    def route(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a view function: ``@app.route("/rows", methods=["GET"])``."""

        def decorator(view_func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_url_rule(rule, options.pop("endpoint", None), view_func, **options)
            return view_func

        return decorator

    def context_processor(self, func: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        """Register a function whose returned dict is merged into every template context."""
        self.template_context_processors.append(func)
        return func

    def teardown_request(
        self, func: Callable[[BaseException | None], Any]
    ) -> Callable[[BaseException | None], Any]:
        """Register ``func(error)`` to run when a request is over, after its body was sent."""
        self.teardown_request_funcs.append(func)
        return func

    def before_request(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``func()`` to run before each view; a value it returns answers the request."""
        self.before_request_funcs.append(func)
        return func

    def after_request(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Register ``func(response)``, which returns the response, to run before the body is sent."""
        self.after_request_funcs.append(func)
        return func

    def update_template_context(self, context: dict[str, Any]) -> None:
        """Add ``request`` and the context processors' values; values already in ``context`` win."""
        passed = dict(context)
        context["request"] = request
        for processor in self.template_context_processors:
            context.update(processor())
        context.update(passed)

    # -- handling a request -------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application: route, call the view, and hand back the response body."""
        ctx = RequestContext(self, environ)
        ctx.push()
        try:
            response = self.dispatch_request(ctx)
        except BaseException as exc:
            ctx.pop()
            ctx.error = exc
            ctx.teardown()
            raise
        ctx.pop()
        # Teardown waits until the server has closed the body, i.e. after any stream.
        response.call_on_close(ctx.teardown)
        body = response(environ, start_response)
        # A traced request (Server.get) carries its recording, put there by the server: the
        # App has it note when each item leaves the App, past any middleware around it.
        traced = environ.get(RECORDING_KEY)
        return body if traced is None else traced.watch(body)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def dispatch_request(self, ctx: RequestContext) -> Response:
        """Run the before_request functions, the view, then the after_request functions.

        The view is found and called, and its return value turned into a Response, unless a
        before_request function answered first. The after_request functions get the Response
        before any of its body has been produced.
        """
        response = None
        for func in self.before_request_funcs:
            rv = func()
            if rv is not None:
                response = self.make_response(rv, func, kind="before_request function")
                break
        if response is None:
            response = self.call_view(ctx)
        for func in reversed(self.after_request_funcs):
            returned = func(response)
            if returned is None:
                raise TypeError(
                    f"The after_request function {getattr(func, '__name__', repr(func))!r} returned "
                    f"None; it must return the response it was given (or another one)"
                )
            response = returned
        return response

    def call_view(self, ctx: RequestContext) -> Response:
        """Find the view for this request, call it, and turn its return value into a Response."""
        adapter = self.url_map.bind_to_environ(ctx.request.environ)
        try:
            endpoint, args = adapter.match()
            view = self.view_functions[endpoint]
            return self.make_response(view(**args), view)
        except HTTPException as exc:
            return exc.get_response(ctx.request.environ)  # type: ignore[return-value]

    def make_response(
        self, rv: Any, view: Callable[..., Any] | None = None, *, kind: str = "view function"
    ) -> Response:
        """Turn what a view returned into a Response; raise TypeError for anything else.

        ``kind`` names what ``view`` is in that error ("before_request function" for one that
        answered instead of the view).
        """
        status = headers = None
        if isinstance(rv, tuple):
            if len(rv) == 2:
                # (body, status) or, as in Flask, (body, headers) when the second is a mapping
                # or a list of header pairs.
                rv, second = rv
                if isinstance(second, (dict, list, Headers)):
                    headers = second
                else:
                    status = second
            elif len(rv) == 3:
                rv, status, headers = rv
            else:
                raise TypeError(
                    f"{_describe(view, kind)} returned a tuple of {len(rv)} items; use (body, status), "
                    f"(body, headers) or (body, status, headers)"
                )
        if isinstance(rv, Response):
            response = rv
        elif isinstance(rv, HTTPException):
            response = rv.get_response()  # type: ignore[assignment]
        elif callable(rv) and hasattr(rv, "status_code"):
            # Another werkzeug/Flask Response class: keep it as it is.
            response = rv
        elif isinstance(rv, (str, bytes, bytearray)) or isinstance(rv, Iterator):
            response = Response(bytes(rv) if isinstance(rv, bytearray) else rv)
        else:
            raise TypeError(
                f"{_describe(view, kind)} returned {type(rv).__name__} ({rv!r:.60}); a view must "
                f"return a Response, str, bytes, or an iterator of str/bytes such as a generator"
            )
        if status is not None:
            response.status = status if isinstance(status, str) else int(status)
        if headers:
            response.headers.update(headers)
        return response

    # -- testing ------------------------------------------------------------------------

    def test_request_context(self, path: str = "/", *args: Any, **kwargs: Any) -> RequestContext:
        """A request context for ``path`` (and EnvironBuilder's options), for use with ``with``."""
        environ = EnvironBuilder(path, *args, **kwargs).get_environ()
        return RequestContext(self, environ)

    def test_client(self) -> Client:
        """werkzeug's test client for this app: ``app.test_client().get("/")``."""
        return Client(self)


def _describe(view: Callable[..., Any] | None, kind: str = "view function") -> str:
    if view is None:
        return "The view"
    return f"The {kind} {getattr(view, '__name__', repr(view))!r}"


def _root_path(import_name: str) -> str:
    """The folder of the app's module; the working directory for ``__main__`` and notebooks."""
    module = sys.modules.get(import_name)
    filename = getattr(module, "__file__", None)
    if filename:
        return os.path.dirname(os.path.abspath(filename))
    return os.getcwd()
