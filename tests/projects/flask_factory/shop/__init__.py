"""A Flask shop with an app factory: /orders.json streams the orders as they are read."""

import json
import time

from flask import Flask, Response
from flask_compress import Compress


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})
    Compress(app)  # added for the big JSON pages; it compresses streamed responses too

    @app.route("/orders.json")
    def orders():
        def rows():
            yield "["
            for i in range(5):
                time.sleep(0.1)  # one slow query per batch of orders
                yield ("," if i else "") + json.dumps({"id": i, "total": i * 10})
            yield "]"

        return Response(rows(), mimetype="application/json")

    return app
