"""``stripefleet stripe-emulator``: run the local Stripe emulator.

README, section 'The Stripe emulator', has its options, keys, endpoints and control API.

Prints where it listens, where its keys file is (with the publishable key and the
secret key masked: the secret key is in the file) and whether its state is saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from stripefleet.common.keys import mask
from stripefleet.common.processes import bind_listening_socket
from stripefleet.stripe_emulator.config import API_VERSION, EmulatorConfig
from stripefleet.stripe_emulator.keystore import DEFAULT_KEYS_FILE


def default_keys_file(state_file: Path | None) -> Path:
    """``stripe-emulator-keys.json`` beside the state file, or in the working directory."""
    folder = state_file.parent if state_file is not None else Path.cwd()
    return folder / DEFAULT_KEYS_FILE


@click.command("stripe-emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=12111, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on.")
@click.option("--keys-file", type=click.Path(dir_okay=False, path_type=Path),
              help=f"JSON file of API key pairs (0600) [default: {DEFAULT_KEYS_FILE} in the "
                   "state file's folder, or in the working directory].")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the emulator's objects here (JSON, 0600) so that they survive a "
                   "restart [default: memory only].")
@click.option("--public-url", help="Base URL of the pay page in sessions' `url` "
                                   "[default: the address each API request came to].")
@click.option("--delivery-timeout", default=10.0, show_default=True,
              type=click.FloatRange(min=0.1), help="Seconds an endpoint has to answer.")
@click.option("--retry-delay", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds before the first retry of a failed delivery; doubles each time.")
@click.option("--max-attempts", default=6, show_default=True, type=click.IntRange(min=1),
              help="Delivery attempts per event and endpoint, the first included.")
@click.option("--shuffle-deliveries", is_flag=True,
              help="Deliver events out of order (gathered over --shuffle-window seconds).")
@click.option("--shuffle-window", default=0.5, show_default=True,
              type=click.FloatRange(min=0), help="Seconds to gather events to shuffle.")
def stripe_emulator(host: str, port: int, keys_file: Path | None, state_file: Path | None,
                    public_url: str | None, delivery_timeout: float, retry_delay: float,
                    max_attempts: int, shuffle_deliveries: bool, shuffle_window: float) -> None:
    """Run a local Stripe: the API subset the sites use, a pay page, signed webhooks.

    Point the SDK at it with StripeClient(secret_key, base_addresses={"api": URL}); a
    site does so when its STRIPE_API_BASE is set to URL.
    """
    # Imported here, not at the top (a measured start-up cost): only serving needs them,
    # and at the top they made `stripefleet stripe-emulator --help` take a median 0.31 s
    # (0.27-0.59) instead of 0.09 s (0.09-0.12), 9 runs each on 2 CPUs. No import cycle.
    from aiohttp import web  # lazy: start-up cost (above), only serving needs it

    from stripefleet.stripe_emulator.app import (  # lazy: start-up cost (above)
        MaskingAccessLogger,
        create_app,
    )
    from stripefleet.stripe_emulator.keystore import KeyStore  # lazy: start-up cost (above)
    from stripefleet.stripe_emulator.runtime import Emulator  # lazy: start-up cost (above)
    from stripefleet.stripe_emulator.state import StateFile  # lazy: start-up cost (above)

    config = EmulatorConfig(
        keys_file=(keys_file or default_keys_file(state_file)).resolve(),
        state_file=state_file.resolve() if state_file else None,
        public_url=public_url, delivery_timeout=delivery_timeout, retry_delay=retry_delay,
        max_attempts=max_attempts, shuffle_deliveries=shuffle_deliveries,
        shuffle_window=shuffle_window,
    )
    store = StateFile(config.state_file)
    try:
        state = store.load()
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the state file: {exc}") from None
    # Bind first (PortInUse: "port N is in use", exit 1 through the root command), then
    # create the keys: an emulator that cannot serve writes no keys file.
    sock = bind_listening_socket(host, port)
    port = int(sock.getsockname()[1])
    keys = KeyStore(config.keys_file)
    emu = Emulator(config, state, keys, store)
    try:
        created = keys.load_or_create(emu.now(), default_account_id=state.account_id)
    except (OSError, ValueError) as exc:
        sock.close()
        raise click.ClickException(f"cannot use the keys file: {exc}") from None
    state.account_id = keys.default_account.id
    pair = keys.pairs[0]
    url = f"http://{host}:{port}"
    click.echo(f"Stripe emulator on {url} (API version {API_VERSION})")
    click.echo(f"keys file: {config.keys_file} ({'created' if created else 'loaded'}, "
               f"{len(keys.pairs)} pair(s), {len(keys.accounts)} account(s))")
    click.echo(f"  account:         {pair.account} (default)")
    click.echo(f"  publishable key: {pair.publishable_key}")
    click.echo(f"  secret key:      {mask(pair.secret_key)} (in the keys file)")
    click.echo(f"state file: {config.state_file or 'none (memory only)'}")
    click.echo(f"sites: STRIPE_API_BASE={url}")
    logging.getLogger("aiohttp.access").setLevel(logging.INFO)
    web.run_app(create_app(emu), sock=sock, print=None,
                access_log_class=MaskingAccessLogger, shutdown_timeout=5)

