"""The emulator's accounts, their API keys, and the keys file.

As at Stripe, every key pair belongs to one account (``acct_...``) and one mode: a test
pair (``sk_test_``/``pk_test_``) or a live pair (``sk_live_``/``pk_live_``); objects made
with a key belong to its account and mode (https://docs.stripe.com/keys). The first
account is the default one.

At start the emulator loads the keys file (JSON, mode 0600); when it holds no key pair,
one test-mode pair of the default account is created and written (README, section 'The
Stripe emulator', "Keys" and "Accounts"). The control API adds accounts and pairs and
expires secret keys; each change is written back at once.

File shape::

    {"accounts": [{"id": "acct_...", "name": "stripefleet emulator", "country": "FR",
                   "email": "...", "default_currency": "eur", "created": 1700000000}],
     "keys": [{"secret_key": "sk_test_...", "publishable_key": "pk_test_...",
               "created": 1700000000, "expired": false, "account": "acct_..."}]}

A keys file written before accounts existed (no ``accounts``, pairs without
``account``) still loads: its pairs belong to the default account.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stripefleet.common.keys import key_mode
from stripefleet.stripe_emulator.fileio import read_json, write_json_atomic
from stripefleet.stripe_emulator.ids import new_id, random_token

#: The keys file's name when no ``--keys-file`` is given (in the state file's folder,
#: or the working directory).
DEFAULT_KEYS_FILE = "stripe-emulator-keys.json"

#: The default account's name (its dashboard display name and business name).
DEFAULT_ACCOUNT_NAME = "stripefleet emulator"

#: A new account's default currency by country (else ``eur``).
_CURRENCIES = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "NZ": "nzd", "JP": "jpy",
               "CH": "chf", "SE": "sek", "NO": "nok", "DK": "dkk", "PL": "pln", "SG": "sgd",
               "HK": "hkd", "MX": "mxn", "BR": "brl", "IN": "inr"}


@dataclass
class Account:
    """One emulated Stripe account (https://docs.stripe.com/api/accounts/object).

    Attributes:
        id: ``acct_...``.
        name: the business name and dashboard display name.
        country: two-letter country code (``FR``).
        email: the account's email address.
        default_currency: three-letter currency code, lower case (``eur``).
        created: Unix seconds.
    """

    id: str
    name: str
    country: str
    email: str | None
    default_currency: str
    created: int


@dataclass
class KeyPair:
    """A secret key and its publishable key.

    Attributes:
        secret_key: ``sk_test_...`` or ``sk_live_...``.
        publishable_key: ``pk_test_...`` or ``pk_live_...``.
        created: Unix seconds.
        expired: True once expired through the control API: the secret key then
            answers 401 ``api_key_expired``.
        account: the ``acct_...`` id of the account the pair belongs to.
        uses_left: when set, the secret key is accepted this many more times, then
            expires (the control API's ``after_requests``: a key that passes a
            preflight check and expires before the next call, deterministically).
    """

    secret_key: str
    publishable_key: str
    created: int
    expired: bool = False
    account: str = ""
    uses_left: int | None = None

    @property
    def livemode(self) -> bool:
        """True for live-mode keys."""
        return key_mode(self.secret_key) == "live"


class KeyStore:
    """The accounts and key pairs, backed by the keys file.

    Args:
        path: the keys file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.accounts: list[Account] = []
        self.pairs: list[KeyPair] = []

    @property
    def default_account(self) -> Account:
        """The first account (pairs made without naming an account go there)."""
        return self.accounts[0]

    def load_or_create(self, now: int, default_account_id: str | None = None) -> bool:
        """Load the keys file; create the default account and a test pair when missing.

        Args:
            now: the emulator's clock (Unix seconds) for what is created.
            default_account_id: the id to give the default account when the file has
                none (a state file of an older emulator holds the id its objects used).

        Returns:
            True when a new pair was created (and written).

        Raises:
            ValueError: the file exists but is not a keys file (message names it).
        """
        changed = False
        if self.path.exists():
            data = read_json(self.path)
            try:
                self.accounts = [Account(**item) for item in data.get("accounts", [])]
                self.pairs = [KeyPair(**item) for item in data["keys"]]
            except (AttributeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{self.path} is not a keys file (expected {{\"keys\": [...]}})") from exc
        if not self.accounts:
            self.accounts.append(self._new_account(now, default_account_id))
            changed = True
        for pair in self.pairs:
            if not pair.account:
                pair.account = self.default_account.id
                changed = True
        created = not self.pairs
        if created:
            self.pairs.append(self._new_pair(now, self.default_account.id, livemode=False))
        if changed or created:
            self.save()
        return created

    def _new_account(self, now: int, account_id: str | None = None, *,
                     name: str | None = None, country: str | None = None,
                     email: str | None = None, default_currency: str | None = None
                     ) -> Account:
        account_id = account_id or new_id("acct_", 16)
        number = len(self.accounts) + 1
        country = (country or "FR").upper()
        return Account(
            id=account_id,
            name=name or (DEFAULT_ACCOUNT_NAME if number == 1
                          else f"{DEFAULT_ACCOUNT_NAME} {number}"),
            country=country,
            email=email or f"{account_id.lower()}@example.com",
            default_currency=(default_currency or _CURRENCIES.get(country, "eur")).lower(),
            created=now,
        )

    @staticmethod
    def _new_pair(now: int, account_id: str, *, livemode: bool) -> KeyPair:
        mode = "live" if livemode else "test"
        return KeyPair(f"sk_{mode}_{random_token(32)}", f"pk_{mode}_{random_token(32)}",
                       now, account=account_id)

    def create_account(self, now: int, **details: Any) -> Account:
        """Create and store a new account; written with its first pair (:meth:`create`).

        Args:
            now: Unix seconds.
            details: ``name`` (default ``stripefleet emulator N``), ``country`` (``FR``),
                ``email`` (``acct_...@example.com``), ``default_currency`` (the
                country's, else ``eur``).
        """
        account = self._new_account(now, **details)
        self.accounts.append(account)
        return account

    def create(self, now: int, account_id: str | None = None, *,
               livemode: bool = False) -> KeyPair:
        """Create, store and write a new key pair.

        Args:
            now: Unix seconds.
            account_id: the account it belongs to; None: the default account.
            livemode: a live pair (``sk_live_``/``pk_live_``) instead of a test pair.

        Raises:
            KeyError: no account has that id.
        """
        account = self.account(account_id) if account_id else self.default_account
        if account is None:
            raise KeyError(account_id)
        pair = self._new_pair(now, account.id, livemode=livemode)
        self.pairs.append(pair)
        self.save()
        return pair

    def account(self, account_id: str) -> Account | None:
        """The account with that id, or None."""
        return next((a for a in self.accounts if a.id == account_id), None)

    def save(self) -> None:
        """Write the keys file atomically with mode 0600."""
        write_json_atomic(self.path, {"accounts": [asdict(a) for a in self.accounts],
                                      "keys": [asdict(p) for p in self.pairs]})

    def find(self, key: str) -> tuple[KeyPair, str] | None:
        """The pair holding ``key`` and which kind it is (``"secret"``/``"publishable"``)."""
        for pair in self.pairs:
            if pair.secret_key == key:
                return pair, "secret"
            if pair.publishable_key == key:
                return pair, "publishable"
        return None

    def expire(self, secret_key: str, *, after_requests: int = 0) -> KeyPair | None:
        """Expire ``secret_key`` now, or after ``after_requests`` more accepted requests;
        write the file. None when the key is unknown."""
        found = self.find(secret_key)
        if found is None or found[1] != "secret":
            return None
        pair = found[0]
        if after_requests > 0:
            pair.uses_left = after_requests
        else:
            pair.expired, pair.uses_left = True, None
        self.save()
        return pair

    def use(self, pair: KeyPair) -> None:
        """Count one accepted request of a key expiring after some (see ``uses_left``)."""
        if pair.uses_left is None:
            return
        pair.uses_left -= 1
        if pair.uses_left <= 0:
            pair.expired, pair.uses_left = True, None
        self.save()
