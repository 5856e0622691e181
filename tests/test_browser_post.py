"""POST streams in a real headless Chromium: ``Server.post(..., browser=True)`` and
``probe(..., browser=True)`` with a body load the kit's own page, which sends the request with
``fetch()`` and reads the reply with a ``ReadableStream`` reader. Skipped, with the reason,
where Chromium or playwright is missing."""

from __future__ import annotations

import pytest

from streamkit import browser, probe, serve
from streamkit.browser import fetch_page
from streamkit.demos import chat, create_app

pytestmark = pytest.mark.skipif(
    browser.unavailable_reason() is not None, reason=browser.unavailable_reason() or ""
)

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def server():
    with serve(create_app()) as running:
        yield running
    browser.stop()


def test_fetch_in_chromium_gets_the_same_text_as_the_other_clients(server) -> None:
    body = {"messages": HI, "stream": True, "first_token_ms": 0, "tokens_per_second": 1000}
    trace = server.post(chat.PATH, json=body, browser=True)
    assert trace.status == 200 and trace.method == "POST" and trace.error is None
    assert trace.content == chat.REPLY
    assert trace.events[-1].data == "[DONE]"
    assert sum(read.size for read in trace.browser_reads) == trace.size


def test_each_token_is_read_and_shown_by_the_page_as_it_comes(server) -> None:
    body = {"messages": HI, "stream": True, "max_tokens": 6, "first_token_ms": 400, "tokens_per_second": 8}
    trace = server.post(chat.PATH, json=body, browser=True)
    made = [event.t for event in trace.produced if event.size]
    reads = trace.browser_reads
    assert len(reads) >= 6  # the role delta and the tokens came in reads of their own (at least)
    # every read was shown by the page, no earlier than it was read
    assert len(trace.browser_shown) >= 6
    for read in reads[:6]:
        assert any(shown.t >= read.t - 0.002 for shown in trace.browser_shown)
    # the first content came with the first token, well after the role-only first byte
    assert trace.first_content is not None and trace.first_content - trace.ttfb > 0.25
    assert trace.first_content >= made[1] - 0.002
    contents = [event for event in trace.events if event.content]
    for earlier, later in zip(contents, contents[1:]):
        assert later.t - earlier.t > 0.05  # 8 tokens a second: 125 ms apart, each on its own
    assert server.errors == []


def test_probe_with_a_body_in_the_browser(server) -> None:
    body = {"messages": HI, "stream": True, "max_tokens": 3, "first_token_ms": 0}
    trace = probe(server.url + chat.PATH, json=body, browser=True)
    assert trace.status == 200 and trace.content == "".join(chat.tokens()[:3])
    assert trace.produced is None  # a plain probe: no server side


def test_a_bad_request_in_the_browser_is_its_400(server) -> None:
    trace = server.post(chat.PATH, data="{not json", browser=True)
    assert trace.status == 400 and trace.events == []
    assert b"not valid JSON" in trace.body


def test_nothing_in_the_request_can_end_the_page_script() -> None:
    page = fetch_page("http://x/</script><script>alert(1)</script>", "POST", {"X-A": "</script>"}, b"</script>")
    assert page.count("</script>") == 1  # the page's own
    assert "\u2028" not in page
    with pytest.raises(ValueError, match="follow="):
        browser.browse("http://127.0.0.1:9/", json={}, follow="/x")
