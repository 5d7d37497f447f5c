"""``stripefleet site serve``: check the instance, then serve it (README, "A site")."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from stripefleet.common.crypto import DecryptionError
from stripefleet.common.processes import check_port_free
from stripefleet.site.cli.instance import build_app, instance_dir_option, overrides_for
from stripefleet.site.extensions import db
from stripefleet.site.serve import WaitressServer, run_gunicorn
from stripefleet.site.settings.api_keys import shared_storage_problem
from stripefleet.site.settings.services import accepted_api_keys, undecryptable_settings

NO_API_KEY = (
    "the site has no API key, so nobody could push settings to it. Set one with the "
    "environment variable TEMPLATE_MASTER_API_KEY (16 to 256 characters among letters, "
    "digits and _-.~+/=), or store one in the instance's database with "
    "`stripefleet site set-api-key --instance-dir DIR` (it reads the key from stdin)."
)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@instance_dir_option
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Threads per process.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes; above 1, gunicorn serves (use PostgreSQL).")
def serve(port: int, host: str, instance_dir: Path | None, threads: int, workers: int) -> None:
    """Serve the site's HTTP API until interrupted.

    Migrates the database first; refuses to start without an API key
    (TEMPLATE_MASTER_API_KEY or the template_master_api_key row).
    """
    try:
        app = build_app(instance_dir)
        storage_problem = shared_storage_problem(app.config["RATELIMIT_STORAGE_URI"], workers)
        if storage_problem:
            raise click.ClickException(storage_problem)
        with app.app_context():
            undecryptable = undecryptable_settings()
            if undecryptable:
                raise click.ClickException(
                    f"the stored {', '.join(undecryptable)} cannot be decrypted: "
                    "STRIPEFLEET_ENCRYPTION_KEY (or <instance>/encryption.key) lacks the "
                    "key they were encrypted with; restore it (a ring may list several "
                    "keys, comma-separated)")
            has_key = bool(accepted_api_keys())
            url = db.engine.url.render_as_string(hide_password=True)
            db.engine.dispose()
    except DecryptionError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database is not usable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    if not has_key:
        raise click.ClickException(NO_API_KEY)
    logger = logging.getLogger("stripefleet.site")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    banner = (f"stripefleet site serving on http://{host}:{port} "
              f"(instance {app.instance_path}, database {url})")
    if workers > 1:
        check_port_free(host, port)  # PortInUse before the banner; gunicorn binds it next
        click.echo(banner, err=True)
        sys.stderr.flush()
        run_gunicorn(overrides_for(instance_dir), host=host, port=port, workers=workers,
                     threads=threads)
        return
    server = WaitressServer(app, host=host, port=port, threads=threads)  # binds (PortInUse)
    click.echo(banner, err=True)
    sys.stderr.flush()
    server.run()
