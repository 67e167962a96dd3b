"""outbox autovacuum by row count

The relay's partial index on unpublished rows keeps pointing at every row just
published until a vacuum runs; with days of published history the default
threshold (20 % of the table) lets millions of dead entries pile up under it.
Vacuum and analyze after a fixed number of changed rows instead.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROWS_BETWEEN_VACUUMS = 5000


def upgrade() -> None:
    op.execute(
        "ALTER TABLE outbox SET ("
        "autovacuum_vacuum_scale_factor = 0, "
        f"autovacuum_vacuum_threshold = {ROWS_BETWEEN_VACUUMS}, "
        "autovacuum_analyze_scale_factor = 0, "
        f"autovacuum_analyze_threshold = {ROWS_BETWEEN_VACUUMS})"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
        "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
    )
