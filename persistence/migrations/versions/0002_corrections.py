"""Corrections and late entries: a correcting or voiding event names its target, a refusal the event it broke.

`event.target_seq` is the seq a `correct` or `void` event supersedes or voids (NULL for every
other event, so the rows of an earlier version need no update, which the append-only triggers
would refuse anyway). It repeats `data.target_seq`, which the hash covers; `audit verify`
checks the two agree. `refusal.breaks_seq` is the recorded event a refused correction or late
entry would have broken. Columns are only added: nothing already stored changes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("event", sa.Column("target_seq", sa.Integer(), nullable=True))
    op.create_index("ix_event_target", "event", ["episode_id", "target_seq"])
    op.add_column("refusal", sa.Column("breaks_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("crs never drops an audit trail; restore from a backup instead")
