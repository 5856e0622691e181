from chat import app, create_app

from streamkit.testing import assert_streams


def test_answer_streams(stream_server):
    server = stream_server(app)
    assert_streams(server.get("/answer", headers={"Accept-Encoding": "gzip"}), min_pieces=3)


def test_answer_streams_without_the_compressor(stream_server):
    server = stream_server(create_app(compress=False))
    assert_streams(server.get("/answer", headers={"Accept-Encoding": "gzip"}), min_pieces=3)
