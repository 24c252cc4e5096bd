"""Generated tables written as CSV or Parquet: the CLI's ``--out`` and the dashboard's download."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from .atomic import atomic_path

FORMATS = ("csv", "parquet")


def table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    """The table in ``fmt`` (one of :data:`FORMATS`), without the index."""
    buffer = io.BytesIO()
    if fmt == "csv":
        table.to_csv(buffer, index=False)
    elif fmt == "parquet":
        table.to_parquet(buffer, index=False)
    else:
        raise ValueError(f"unknown table format {fmt!r}; choose from {', '.join(FORMATS)}")
    return buffer.getvalue()


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the table atomically in the format its suffix names (``.csv`` or ``.parquet``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"the output must end in .csv or .parquet, not {suffix or 'nothing'}")
    content = table_bytes(table, suffix)
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
