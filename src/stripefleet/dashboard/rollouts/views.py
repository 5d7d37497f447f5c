"""Pages of rollouts: the form (dry run, then start), the live rollout page, and the
actions on it (start, retry, roll back, approve the canary, halt).

The form carries the safety options of a rollout (README, "The dashboard": batches, max
fail percentage, pause for approval after the first batch, roll back on halt, the
functional check, and the owner's overrides of the preflight), for one setting or a key
pair. A refused form (a preflight refusal, a malformed value) is shown again beside the
refusal, with what was typed except the secrets (a secret is never written into a page).

A page that creates, approves or halts a rollout commits through ``tasks.launch`` (the
request's one commit point), then queues what is to run (the new rollout, the next
batch, the rollback of a halt). A refused request (``ApiError``) is rolled back by that
step, then the page shows the message; a refusal of the role (``Forbidden``) goes on to
the app's 403 answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, SETTINGS, WEBHOOK_SECRET
from stripefleet.common.web import ApiError, Forbidden
from stripefleet.dashboard.auth.security import acting_user, require_role
from stripefleet.dashboard.rollouts import services
from stripefleet.dashboard.rollouts.models import KEY_PAIR, Rollout
from stripefleet.dashboard.rollouts.tasks import launch
from stripefleet.dashboard.sites.services import list_sites

bp = Blueprint("rollouts", __name__, url_prefix="/rollouts")

#: The key pair's form fields -> the settings they hold.
PAIR_FIELDS: dict[str, str] = {"pair_publishable_key": PUBLISHABLE_KEY,
                               "pair_secret_key": SECRET_KEY,
                               "pair_webhook_secret": WEBHOOK_SECRET}
#: The form's fields never written back into the page (secrets).
SECRET_FIELDS = ("pair_secret_key", "pair_webhook_secret")
#: The safety options set by a checkbox; the ``allow_*`` ones only an owner sees.
FLAGS = ("pause_for_approval", "rollback_on_halt", "functional_verify")
OWNER_FLAGS = ("allow_mode_mismatch", "allow_account_change")


def _safety_defaults(setting: str, total: int) -> dict[str, Any]:
    """The form's safety options for ``setting`` over ``total`` sites: the rollout's
    own defaults (``services.parse_options`` of no option: the engine's batches and
    threshold, a pause and a rollback on halt for secret keys and pairs, the functional
    check on; README, "The dashboard"), the batches as the form writes them."""
    options = services.parse_options({}, setting=setting, total=max(total, 1))
    defaults = {name: options[name] for name in FLAGS}
    defaults["batches"] = ",".join(str(item) for item in options["batches"])
    defaults["max_fail_percentage"] = f"{options['max_fail_percentage']:g}"
    return defaults


def _targets_from_form() -> dict[str, Any]:
    mode = request.form.get("targets", "all")
    if mode == "tag":
        return {"tag": request.form.get("tag", "")}
    if mode == "selection":
        return {"site_ids": request.form.getlist("site_ids")}
    return {"all": True}


def _options_from_form() -> dict[str, Any]:
    """The rollout's options from the form (``services.parse_options`` validates them):
    the engine's, then the safety options (batches as typed: ``1,10%,100%``)."""
    options: dict[str, Any] = {name: request.form.get(name) for name in services.OPTION_LIMITS}
    batches = request.form.get("batches", "").strip()
    if batches:
        options["batches"] = batches
    threshold = request.form.get("max_fail_percentage", "").strip()
    if threshold:
        options["max_fail_percentage"] = threshold
    for flag in FLAGS:
        options[flag] = bool(request.form.get(flag))
    for flag in OWNER_FLAGS:
        if request.form.get(flag):
            options[flag] = True
    return options


def _value_from_form(setting: str) -> Any:
    """The value of a setting, or a key pair's ``{setting: value}`` (empty ones left out)."""
    if setting != KEY_PAIR:
        return request.form.get("value", "")
    return {name: request.form.get(field, "").strip() for field, name in PAIR_FIELDS.items()
            if request.form.get(field, "").strip()}


def _form_page(*, form: Mapping[str, Any] | None = None, error: ApiError | None = None) -> Any:
    """The form, empty or as it was sent (secrets left out) beside its refusal."""
    user = acting_user()
    sites = list_sites(enabled_only=True)
    settings = [s for s in SETTINGS if user.has_role(services.required_role(s))]
    if user.has_role(services.required_role(SECRET_KEY)):
        settings.append(KEY_PAIR)
    kept: dict[str, Any] = {}
    picked: list[str] = []
    if form is not None:
        kept = {k: v for k, v in form.items() if k not in SECRET_FIELDS and k != "csrf_token"}
        setting = str(kept.get("setting", ""))
        if setting not in SETTINGS or services.is_secret_setting(setting):
            kept.pop("value", None)  # a secret, or a setting unknown: not written back
        picked = list(request.form.getlist("site_ids"))
    refusals = error.refusals if isinstance(error, services.PreflightRefusedError) else []
    return render_template(
        "rollouts/new.html", settings=settings, secret=services.is_secret_setting, sites=sites,
        limits=services.OPTION_LIMITS, form=kept, picked=picked, error=error,
        refusals=refusals,
        defaults={s: _safety_defaults(s, len(sites)) for s in settings})


def _launch(create: Callable[[], Rollout], back: str) -> Any:
    try:
        rollout = launch(create)
    except Forbidden:
        raise
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(back)
    return redirect(url_for("rollouts.show", rollout_id=rollout.id))


@bp.get("/new")
@require_role("operator")
def new() -> Any:
    """The rollout form, with the safety defaults of each setting."""
    return _form_page()


@bp.post("/new")
@require_role("operator")
def create() -> Any:
    """Dry run (button ``dry_run``) or start a rollout from the form; a refusal shows
    the form again beside it (each refused site and its reason)."""
    setting = request.form.get("setting", "")
    try:
        options = _options_from_form()
        rollout = launch(lambda: services.create_rollout(
            acting_user(), setting=setting, value=_value_from_form(setting),
            targets=_targets_from_form(), options=options,
            dry_run=request.form.get("action") == "dry_run",
            chunk_size=current_app.config["CHUNK_SIZE"]))
    except Forbidden:
        raise
    except ApiError as exc:
        return _form_page(form=request.form.to_dict(), error=exc)
    return redirect(url_for("rollouts.show", rollout_id=rollout.id))


@bp.get("/<int:rollout_id>")
@require_role("viewer")
def show(rollout_id: int) -> Any:
    """The rollout page: live progress by batch (polls the JSON API), recap, the
    canary's approval, actions."""
    rollout = services.get_rollout(rollout_id)
    needed = services.required_role(rollout.setting)
    return render_template("rollouts/show.html", rollout=rollout,
                           progress=services.progress(rollout), needed=needed,
                           may_push=acting_user().has_role(needed))


@bp.post("/<int:rollout_id>/start")
@require_role("operator")
def start(rollout_id: int) -> Any:
    """Start the push a dry run previewed."""
    return _launch(lambda: services.start_from_dry_run(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/retry")
@require_role("operator")
def retry(rollout_id: int) -> Any:
    """Retry the failed targets."""
    return _launch(lambda: services.retry_failed(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/rollback")
@require_role("owner")
def rollback(rollout_id: int) -> Any:
    """Roll back what the rollout changed."""
    return _launch(lambda: services.roll_back(
        acting_user(), rollout_id, chunk_size=current_app.config["CHUNK_SIZE"]),
        url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/halt")
@require_role("operator")
def halt(rollout_id: int) -> Any:
    """Halt a running rollout, or one awaiting approval (with ``rollback_on_halt``, its
    rollback is committed with it, then queued); the page stays on this rollout."""
    try:
        launch(lambda: services.halt(acting_user(), rollout_id,
                                     chunk_size=current_app.config["CHUNK_SIZE"]))
    except Forbidden:
        raise
    except ApiError as exc:
        flash(exc.message, "error")
    return redirect(url_for("rollouts.show", rollout_id=rollout_id))


@bp.post("/<int:rollout_id>/approve")
@require_role("operator")
def approve(rollout_id: int) -> Any:
    """Continue a rollout paused after its first batch (the owner for secret keys)."""
    return _launch(lambda: services.approve(acting_user(), rollout_id),
                   url_for("rollouts.show", rollout_id=rollout_id))
