"""The diagnosis rules, one module per layer, and :data:`RULES`, their order of priority.

Measuring layer. Each rule is a function ``(m: Measurements) -> list[Finding]`` for one
failure shape; its docstring gives the shape, the evidence it needs and what it never claims.
A rule without its evidence returns nothing. The engine (:func:`streamkit.diagnosis.judge`)
runs them all in this order: the first finding that names a layer is the culprit, warnings
are kept once per code, and a stream that streams is never blamed.

Adding a failure shape is one function here and one case table in the tests; adding a
product is one row in :mod:`streamkit.products`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..finding import Finding
from ..measurements import Measurements
from . import app, client, compression, concurrency, events, middleware, proxy, server, silence, unknown

__all__ = ["RULES", "WARNING_CODES", "Rule"]

Rule = Callable[[Measurements], list[Finding]]

#: The rules in order of priority: the strongest evidence first (the server side, the hop
#: comparison, the variant comparison), then what one response shows, then the fallbacks
#: that say no layer can be named, then the warnings.
RULES: list[Rule] = [
    app.app_raised,
    silence.cut_after_silence,
    server.worker_timeout,
    proxy.hop_status_differs,
    proxy.hop_held,
    compression.compared,
    proxy.event_stream_only,
    middleware.collects_body,
    compression.middleware_no_flush,
    client.browser_held_body,
    proxy.held_after_socket,
    compression.framing_first,
    app.makes_all_first,
    server.holds_writes,
    proxy.named_proxy_held,
    app.collected_under_asgi,
    unknown.held_unnamed,
    silence.cut_unnamed,
    server.stream_cut,
    # warnings: never make a stream count as held
    unknown.partly_held,
    concurrency.served_one_at_a_time,
    app.late_first_byte,
    client.browser_held,
    client.browser_sniffs,
    client.html_no_charset,
    app.sse_no_cache,
    silence.long_silence,
    server.close_delimited,
    events.events_glued,
    events.first_content_late,
    events.event_unterminated,
    events.event_stream_type,
]

#: The codes of findings that are worth changing but never make ``streams`` false, declared
#: by each layer's module (a test checks that every finding's ``warning`` agrees).
WARNING_CODES: frozenset[str] = frozenset().union(
    *(
        module.WARNINGS
        for module in (
            app,
            client,
            compression,
            concurrency,
            events,
            middleware,
            proxy,
            server,
            silence,
            unknown,
        )
    )
)
