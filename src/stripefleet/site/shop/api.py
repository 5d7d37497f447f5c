"""The catalogue's JSON API: ``GET /api/products`` and ``GET /api/products/<slug>``.

``GET /api/products`` carries a strong ``ETag``; a page polling it with
``If-None-Match`` gets ``304 Not Modified`` (no body) until the stock or the catalogue
changes, which is how open pages see a sale within seconds cheaply.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from stripefleet.common.web import ApiError
from stripefleet.site.shop import services

bp = Blueprint("shop_api", __name__)


@bp.get("/api/products")
def list_products() -> Response:
    """Active products: ``{"success": true, "products": [product_json, ...]}``.

    Conditional: answers 304 when ``If-None-Match`` holds the current ETag.
    """
    products = [services.product_json(p) for p in services.list_products()]
    response = jsonify(success=True, products=products)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/api/products/<key>")
def get_product(key: str) -> Response:
    """One active product by slug or id: ``{"success": true, "product": {...}}``.

    :raise 404: ``product_not_found``.
    """
    product = services.find_product(key)
    if product is None:
        raise ApiError("product_not_found", f"No product {key[:64]!r} in the catalogue.",
                       status=404)
    response = jsonify(success=True, product=services.product_json(product))
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)
