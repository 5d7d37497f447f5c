"""Fixtures of these tests: the shop world of ``tests/site/shop/harness.py``."""

from tests.site.shop.harness import emulator, shop, shop_db  # noqa: F401
