"""``stripefleet/dashboard/rollouts/services.py``: services flush, the caller commits;
the setting's lock is taken in a SAVEPOINT."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from stripefleet.common.web import Conflict
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.rollouts import services
from stripefleet.dashboard.rollouts.models import Rollout
from tests.dashboard.conftest import PK


def _count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Rollout)) or 0)


def test_a_new_rollout_is_only_flushed(make_app: Any, database_url: str) -> None:
    """A rollout the caller rolls back leaves no row and no lock behind: the lock's
    SAVEPOINT commits nothing on its own (on SQLite as on PostgreSQL)."""
    app = make_app(SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        rollout = services._new_rollout(None, kind="push", setting=PK,
                                        values={PK: "pk_test_Flush1"}, options={},
                                        selection={})
        assert rollout.lock_setting == PK and _count() == 1
        db.session.rollback()
        assert _count() == 0
        again = services._new_rollout(None, kind="push", setting=PK,
                                      values={PK: "pk_test_Flush1"}, options={}, selection={})
        assert again.lock_setting == PK
        db.session.rollback()
        db.engine.dispose()


def test_losing_the_race_for_the_lock_undoes_only_the_lock(make_app: Any,
                                                           database_url: str) -> None:
    """When another rollout took the setting's lock meanwhile, taking it is 409
    ``rollout_in_progress`` and only the lock's UPDATE is undone: the caller's
    transaction goes on."""
    app = make_app(SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        db.session.add(Rollout(kind="push", setting=PK, state="running", lock_setting=PK))
        db.session.commit()
        second = Rollout(kind="push", setting=PK, state="pending")
        db.session.add(second)
        db.session.flush()
        with pytest.raises(Conflict) as refused:
            services._take_lock(second)
        assert refused.value.code == "rollout_in_progress"
        assert _count() == 2
        assert db.session.get(Rollout, second.id).lock_setting is None
        db.session.rollback()
        db.engine.dispose()
