"""Templates, rendered whole or streamed piece by piece.

Jinja2 compiles a template into a generator. Each literal run of text between tags and each
``{{ expression }}`` becomes one yielded piece (a *part*); a loop yields its body's parts again
on every pass. Streaming a template means sending those parts as they are made, instead of
joining them into one string first.

Sending every part on its own costs one write each, so Jinja2's ``TemplateStream`` can group
them: ``enable_buffering(5)`` joins five non-empty parts into each item it yields.

:func:`stream_template` and :func:`stream_template_string` do the whole pattern in one call:
they look the template up (a missing one fails here, before any header is sent), fill the
context with :meth:`App.update_template_context`, and return a :class:`StreamingTemplate`,
a ``TemplateStream`` that keeps the request available while it renders and has ``close()``.

Layer: core.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import Template
from jinja2.environment import TemplateStream

from .app import RECORDING_KEY
from .context import ContextStream, RequestContext, current_context


class StreamingTemplate(TemplateStream):
    """A ``jinja2.TemplateStream`` that renders inside the request and can be closed.

    ``enable_buffering(size)`` and ``disable_buffering()`` work as in Jinja2. Each grouped
    item also tells streamkit's recorder how many parts it joined, so a timeline can show the
    groups.
    """

    def __init__(self, parts: Iterator[str], ctx: RequestContext) -> None:
        self._ctx = ctx
        self._parts = ContextStream(ctx, parts)
        super().__init__(self._parts)

    def enable_buffering(self, size: int = 5) -> None:
        """Join ``size`` non-empty template parts into each item yielded."""
        if size <= 1:
            raise ValueError(f"enable_buffering() needs a size of 2 or more, got {size}")
        self.buffered = True
        self._next = self._grouped(size).__next__  # type: ignore[assignment]

    def _grouped(self, size: int) -> Iterator[str]:
        # A traced request's recording (see streamkit.app.RECORDING_KEY) learns how many parts
        # the next item joins, so the timeline can show them.
        traced = self._ctx.request.environ.get(RECORDING_KEY)
        group: list[str] = []
        filled = 0  # empty parts ride along but do not count towards the size
        for part in self._parts:
            group.append(part)
            if part:
                filled += 1
                if filled == size:
                    if traced is not None:
                        traced.next_parts = filled
                    yield "".join(group)
                    group.clear()
                    filled = 0
        if filled:
            if traced is not None:
                traced.next_parts = filled
            yield "".join(group)

    def close(self) -> None:
        """Stop rendering: closes the template's generator, once."""
        self._parts.close()


def _app_and_context() -> tuple[Any, RequestContext]:
    ctx = current_context()
    if ctx is None:
        raise RuntimeError(
            "stream_template() and render_template() need an active request: call them "
            "inside a view function or a test_request_context() block."
        )
    return ctx.app, ctx


def _stream(template: Template, ctx: RequestContext, context: dict[str, Any]) -> StreamingTemplate:
    ctx.app.update_template_context(context)
    return StreamingTemplate(template.generate(context), ctx)


def stream_template(template_name: str, **context: Any) -> StreamingTemplate:
    """Stream the named template from the app's template folder, part by part."""
    app, ctx = _app_and_context()
    return _stream(app.jinja_env.get_template(template_name), ctx, context)


def stream_template_string(source: str, **context: Any) -> StreamingTemplate:
    """Stream a template given as a string (autoescaped, like an .html file)."""
    app, ctx = _app_and_context()
    return _stream(app.jinja_env.from_string(source), ctx, context)


def render_template(template_name: str, **context: Any) -> str:
    """Render the named template to one string: the whole page before the first byte."""
    app, _ = _app_and_context()
    app.update_template_context(context)
    return app.jinja_env.get_template(template_name).render(context)


def render_template_string(source: str, **context: Any) -> str:
    """Render a template given as a string to one string."""
    app, _ = _app_and_context()
    app.update_template_context(context)
    return app.jinja_env.from_string(source).render(context)
