"""The product table: every row's header tell matches its sample, every fix names the
product's own directive, and recognise() proves a product only from a header."""

from __future__ import annotations

import pytest

from streamkit.measurements import Measurements, measure
from streamkit.products import GENERIC, PRODUCTS, SHAPES, Product, fix_for, recognise
from streamkit.trace import Chunk, Trace


def response(**headers: str) -> Measurements:
    made = Trace(url="http://127.0.0.1:1/", status=200, headers_at=0.001, duration=0.5)
    made.headers["Content-Type"] = "text/plain"
    for name, value in headers.items():
        made.headers[name] = value
    made.chunks = [Chunk(0.01, 10, None, 10), Chunk(0.4, 10, None, 10)]
    return Measurements([measure("as given", made)])


def test_the_table_has_the_products_the_issue_lists() -> None:
    names = {row.name for row in PRODUCTS}
    for name in (
        "nginx", "Apache httpd", "Caddy", "HAProxy", "Varnish", "lighttpd", "Traefik", "Cloudflare",
        "Amazon CloudFront", "AWS ALB", "Amazon API Gateway", "jupyter-server-proxy", "waitress",
        "gunicorn", "uWSGI", "uvicorn", "hypercorn", "daphne", "granian", "Django", "Flask",
        "Starlette / FastAPI", "aiohttp", "tornado", "Express",
    ):  # fmt: skip
        assert name in names
    assert len(names) == len(PRODUCTS)  # one row per product


@pytest.mark.parametrize("row", PRODUCTS, ids=lambda row: row.name)
def test_each_row_is_recognised_from_its_sample_header_and_its_fixes_name_its_directives(
    row: Product,
) -> None:
    assert row.kind in ("proxy", "server", "framework")
    for tell in row.headers:
        assert tell.matches(tell.sample), tell
        found = [m for m in recognise(response(**{tell.header: tell.sample})) if m.name == row.name]
        assert found and found[0].proof == "header"
        assert found[0].evidence.startswith(f"{tell.header}: ")
    if not row.headers:
        assert row.behaviours or row.fixes  # a product that leaves no trace is still described
    for shape, fix in row.fixes:
        assert shape in SHAPES
        assert any(directive in fix for directive in row.directives), (row.name, shape, fix)
        assert fix_for(next(m for m in [_match(row)]), shape) == fix


def _match(row: Product):
    from streamkit.products import Match

    return Match(row, "header", "test", "as given")


def test_a_response_with_no_tell_proves_no_product_and_gets_the_generic_fix() -> None:
    assert recognise(response()) == []
    assert recognise(response(Server="MyOwnServer/1.0")) == []
    assert fix_for(None, "buffering") == GENERIC["buffering"]
    assert set(GENERIC) == set(SHAPES)


def test_a_behaviour_tell_only_says_consistent_with() -> None:
    held = Trace(url="http://127.0.0.1:1/", status=200, headers_at=0.9, duration=1.0)
    held.chunks = [Chunk(0.9, 20000, None, 20000)]
    found = recognise(Measurements([measure("as given", held)]))
    assert found and all(m.proof == "behaviour" and "consistent with" in m.evidence for m in found)
    assert "waitress" in {m.name for m in found}
