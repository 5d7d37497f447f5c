"""The storefront's pages, in French (README, "Selling": "Pages").

Catalogue, product, cart (kept in the session cookie, ``cart``), checkout (a
CSRF-protected form that redirects to the Checkout Session's URL), success
(``?session_id=``, polls the order's status until the webhook lands), cancel, and
login/registration. Open catalogue and product pages poll ``GET /api/products`` with
``If-None-Match`` every 2 s (304 when nothing changed) and swap "Ajouter au panier" for
"Vendu" in place.

A page that writes commits once, through ``@transactional``; the checkout form's
transaction script (``checkout.flow.run_checkout``) has its own commit points.
"""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from stripefleet.site.accounts import services as accounts
from stripefleet.site.accounts.auth import page_customer
from stripefleet.site.checkout import services as orders
from stripefleet.site.checkout.api import SESSION_ID
from stripefleet.site.checkout.flow import cancel_checkout, run_checkout
from stripefleet.site.checkout.models import EXPIRED, FAILED, PAID, REFUNDED
from stripefleet.site.checkout.reservations import OutOfStock
from stripefleet.site.checkout.stripe_gateway import StripeFailure, StripeNotConfigured
from stripefleet.site.checkout.validation import (
    INFO_FIELDS,
    CheckoutInvalid,
    CheckoutRequest,
    ItemRequest,
)
from stripefleet.site.extensions import csrf, transactional
from stripefleet.site.launch import services as launch
from stripefleet.site.shop import services
from stripefleet.site.shop.models import EQUIPMENT
from stripefleet.site.storefront import cart as session_cart

bp = Blueprint("pages", __name__)

#: An order's reference (``Order.reference``): 32 hex characters.
REFERENCE = re.compile(r"[0-9a-f]{32}")


@bp.before_request
def _check_csrf() -> None:
    if request.method == "POST":
        csrf.protect()


@bp.get("/")
def catalogue() -> str:
    """The catalogue: every active product with its state."""
    return render_template("shop/catalogue.html", products=services.list_products())


@bp.get("/produits/<slug>")
def product_page(slug: str) -> str:
    """One product. :raise 404: unknown or inactive."""
    product = services.find_product(slug)
    if product is None or product.slug != slug:
        abort(404)
    return render_template("shop/product.html", product=product)


@bp.get("/panier")
def cart() -> str:
    """The cart, with the customer form and the "Payer" button."""
    lines = session_cart.lines()
    return render_template("shop/cart.html", lines=lines, info_fields=INFO_FIELDS,
                           total=sum(line["amount"] for line in lines),
                           customer=page_customer(),
                           guest=current_app.config["SITE_GUEST_CHECKOUT"])


def _form_int(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.form.get(name, default))
    except ValueError:
        return default
    return min(max(value, low), high)


@bp.post("/panier/ajouter")
def cart_add() -> Response:
    """Add a product (``product_id``, ``quantity``, ``days``) to the cart."""
    product = services.find_product(request.form.get("product_id", ""))
    if product is None:
        abort(404)
    days = _form_int("days", 1, 1, session_cart.MAX_DAYS) if product.type == EQUIPMENT else 1
    session_cart.add(product, _form_int("quantity", 1, 1, session_cart.MAX_QUANTITY), days)
    flash(_("%(name)s was added to your cart.", name=product.name))
    return redirect(url_for("pages.cart"), 303)


@bp.post("/panier/retirer")
def cart_remove() -> Response:
    """Remove a product from the cart."""
    session_cart.remove(request.form.get("product_id", ""))
    return redirect(url_for("pages.cart"), 303)


@bp.post("/panier/commander")
def cart_checkout() -> Response:
    """Create the Checkout Session for the cart and redirect to its payment page.

    ``run_checkout`` commits (the reservation before Stripe is called, then the
    session or the failure), so this view has no commit of its own.
    """
    customer = page_customer()
    if customer is None and not current_app.config["SITE_GUEST_CHECKOUT"]:
        flash(_("Log in to pay."))
        return redirect(url_for("pages.login", next=url_for("pages.cart")), 303)
    lines = session_cart.lines()
    if not lines:
        return redirect(url_for("pages.cart"), 303)
    info = {name: request.form.get(name, "").strip() for name in INFO_FIELDS}
    items = [ItemRequest(str(line["product"].id), line["product"].type, line["quantity"],
                         line["days"]) for line in lines]
    try:
        order = run_checkout(CheckoutRequest(items, {k: v for k, v in info.items() if v},
                                             None, None), customer)
    except CheckoutInvalid as exc:
        flash(_("Please check the field %(field)s.", field=exc.field))
    except OutOfStock:
        flash(_("Sorry, an item of your cart is no longer available."))
    except (StripeNotConfigured, StripeFailure):
        flash(_("Payment is unavailable for the moment; please try again later."))
    else:
        session_cart.save({})
        return redirect(order.checkout_url or url_for("pages.cart"), 303)
    return redirect(url_for("pages.cart"), 303)


@bp.get("/commande/succes")
def success() -> str:
    """The success page (the Checkout Session's ``success_url``); polls the order's
    status."""
    session_id = request.args.get("session_id", "")
    if not SESSION_ID.fullmatch(session_id):
        session_id = ""
    order = orders.order_by_session(session_id) if session_id else None
    return render_template("shop/success.html", order=order, session_id=session_id,
                           status=_status(session_id))


@bp.get("/commande/statut")
def order_status() -> Response:
    """``{"status": ...}`` of the order (or SaaS launch request) behind ``?session_id=``;
    null when unknown."""
    response = jsonify(status=_status(request.args.get("session_id", "")))
    response.headers["Cache-Control"] = "no-store"
    return response


def _status(session_id: str) -> str | None:
    if not SESSION_ID.fullmatch(session_id):
        return None
    order = orders.order_by_session(session_id)
    if order is not None:
        return order.status
    return launch.status_of_session(session_id)


@bp.get("/commande/annulee")
def cancel() -> str | Response:
    """The cancel page (the Checkout Session's ``cancel_url``).

    With ``?ref=<order reference>`` (the storefront's own checkouts): the order is
    settled with Stripe at once (``checkout.flow.cancel_checkout``); released, its items
    go back in the cart and the cart is shown (303), so that the customer can pay again;
    paid meanwhile, the success page is shown. When Stripe cannot be reached, the page
    says so and the items stay reserved until the session's end.
    """
    reference = request.args.get("ref", "")
    if REFERENCE.fullmatch(reference):
        try:
            outcome = cancel_checkout(reference)
        except (StripeNotConfigured, StripeFailure):
            flash(_("Payment is unavailable for the moment; please try again later."))
            outcome = None
        if outcome is not None and outcome.status in (PAID, REFUNDED):
            return redirect(url_for("pages.success", session_id=outcome.session_id), 303)
        if outcome is not None and outcome.status in (EXPIRED, FAILED):
            for product_id, quantity, days in outcome.lines:
                product = services.find_product(product_id)
                if product is not None:
                    session_cart.put(product, quantity, days)
            flash(_("Payment cancelled"))
            return redirect(url_for("pages.cart"), 303)
    return render_template("shop/cancel.html")


@bp.route("/compte/connexion", methods=["GET", "POST"])
@transactional
def login() -> str | Response:
    """Log in with e-mail and password (session cookie); an outdated password hash is
    replaced on the way."""
    if request.method == "POST":
        try:
            customer = accounts.authenticate(request.form.get("email"),
                                             request.form.get("password"))
        except accounts.AccountError:
            flash(_("Wrong e-mail address or password."))
        else:
            login_user(customer)
            return redirect(_next_url(), 303)
    return render_template("shop/login.html", mode="login")


@bp.route("/compte/inscription", methods=["GET", "POST"])
@transactional
def register() -> str | Response:
    """Create an account and log in (a refused registration writes nothing)."""
    if request.method == "POST":
        try:
            customer = accounts.register(request.form.get("email"), request.form.get("password"))
        except accounts.AccountError as exc:
            flash(_("Registration refused: %(reason)s", reason=_(exc.code)))
        else:
            login_user(customer)
            return redirect(_next_url(), 303)
    return render_template("shop/login.html", mode="register")


@bp.post("/compte/deconnexion")
def logout() -> Response:
    """Log out."""
    logout_user()
    return redirect(url_for("pages.catalogue"), 303)


def _next_url() -> str:
    target = request.args.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for(
        "pages.catalogue")
