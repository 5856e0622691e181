from shop import create_app

from streamkit.testing import assert_streams


def test_orders_stream_to_a_browser(stream_server):
    server = stream_server(create_app)  # the factory is called for you
    trace = server.get("/orders.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert_streams(trace, min_pieces=3)


def test_orders_stream_with_streamed_responses_left_uncompressed(stream_server):
    server = stream_server(create_app({"COMPRESS_STREAMS": False}))
    trace = server.get("/orders.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert_streams(trace, min_pieces=3, first_byte_within=5)
