"""Rules about concurrency: a server that serves one request at a time."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measurements
from ..products import fix_for
from ..trace import seconds_text

WARNINGS = frozenset({"served-one-at-a-time"})

# Servers that run only async apps on an event loop (granian also runs WSGI apps on threads,
# so its Server header does not say which).
ASYNC_SERVERS = ("uvicorn", "hypercorn", "daphne")


def served_one_at_a_time(m: Measurements) -> list[Finding]:
    """Shape (warning): a later request's headers waited for an earlier stream to end.

    Evidence: the doctor's requests overlap (they are sent at once); a request counts as
    queued when its headers came only as another stream ended, at least 200 ms after it was
    sent, and it then streamed (or it timed out while that stream was open): see
    :func:`streamkit.measurements._waits`. Culprit: the server; the app when a header proves an
    async server (which serves side by side unless the app blocks its event loop). A server
    that answered the requests side by side is never reported; one request alone shows nothing.
    """
    waits = m.waits
    if not waits:
        return []
    server = m.product("server")
    blocking_loop = server is not None and server.name in ASYNC_SERVERS
    facts = []
    for wait in waits:
        if wait.gave_up:
            facts.append(
                f"{wait.later}: no headers within {seconds_text(wait.waited)}, while {wait.earlier} "
                "was still streaming"
            )
        else:
            facts.append(
                f"{wait.later}: its headers waited {seconds_text(wait.waited)}, until the stream of "
                f"{wait.earlier} ended"
            )
    if server is not None:
        facts.append(f"{server.evidence} names {server.name}")
    if blocking_loop:
        facts.append(
            f"{server.name if server else 'an async server'} serves requests side by side on one event loop "
            "unless the app blocks it: a blocking call (time.sleep, a sync client) in an async view"
        )
    facts.append(
        "for server-sent events each open stream holds a worker (or the loop) for as long as it "
        "runs: with N of them, client N+1 waits until a stream ends"
    )
    fix = fix_for(server, "one-at-a-time")
    if blocking_loop:
        fix = (
            "await the slow call (asyncio.sleep, an async client) in the async view, or run blocking "
            "code with await asyncio.to_thread(...) (Starlette: run_in_threadpool)"
        )
    return [
        Finding(
            "served-one-at-a-time",
            "app" if blocking_loop else "server",
            "the requests were served one at a time: a later request waited for an earlier stream to end",
            facts,
            fix,
            warning=True,
        )
    ]
