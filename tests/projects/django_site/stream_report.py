import os

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from streamkit.testing import assert_streams

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
PLAIN = {"Accept-Encoding": "identity"}  # server.get asks for gzip, as a browser does


def test_report_streams_under_wsgi(stream_server):
    server = stream_server(get_wsgi_application)
    assert_streams(server.get("/report", headers=PLAIN), min_pieces=3)


def test_report_streams_to_a_browser_that_accepts_gzip(stream_server):
    server = stream_server(get_wsgi_application)
    assert_streams(server.get("/report"), min_pieces=3)


def test_report_streams_under_asgi(stream_server):
    server = stream_server(get_asgi_application)
    assert_streams(server.get("/report", headers=PLAIN), min_pieces=3)


def test_async_report_streams_under_asgi(stream_server):
    server = stream_server(get_asgi_application)
    assert_streams(server.get("/report-async", headers=PLAIN), min_pieces=3)
