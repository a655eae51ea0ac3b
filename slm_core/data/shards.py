"""A split written as Parquet shards, and read back one row group (a chunk) at a time.

Why: a Keras model that streams its training split holds one chunk of texts and token ids at a
time instead of the whole split, its token lists and its id matrix (``models/keras_shards.py``,
``KerasTextClassifier.fit_shards``). Several files of ``SHARD_ROWS`` rows rather than one, so
that shard order can be shuffled each epoch and a shard is a unit another machine could take.

No TensorFlow here: the shards are plain pyarrow, read by whoever needs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SHARD_ROWS = 50_000  # rows per file
# Rows per row group: the most one read holds. 10,000 texts padded to 256 tokens are 10 MB of
# int32 ids, and a chunk is also the unit shuffled within, so it should hold many batches.
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class ShardSet:
    """One split's Parquet files and the row count of each row group, in file order."""

    paths: tuple[Path, ...]
    groups: tuple[tuple[int, ...], ...]  # rows per row group, per file

    @property
    def rows(self) -> int:
        return sum(sum(g) for g in self.groups)

    def chunk_sizes(self) -> list[int]:
        return [n for sizes in self.groups for n in sizes]

    def read(self, chunk: tuple[int, int], columns: Sequence[str]) -> dict[str, list]:
        """One chunk's ``columns`` as Python lists."""
        import pyarrow.parquet as pq

        file, group = chunk
        with pq.ParquetFile(self.paths[file]) as shard:
            table = shard.read_row_group(group, columns=list(columns))
        return {name: table.column(name).to_pylist() for name in columns}

    def iter_chunks(
        self, columns: Sequence[str], rng: np.random.Generator | None = None
    ) -> Iterator[dict[str, list]]:
        """Each chunk in turn: shards in an order drawn from ``rng`` (and the row groups of
        each shard in a drawn order), or in file order without one."""
        for file in rng.permutation(len(self.paths)) if rng is not None else range(len(self.paths)):
            n_groups = len(self.groups[int(file)])
            order = rng.permutation(n_groups) if rng is not None else range(n_groups)
            for group in order:
                yield self.read((int(file), int(group)), columns)

    def column_values(self, column: str) -> Iterator[list]:
        """One column, chunk by chunk in file order."""
        for chunk in self.iter_chunks([column]):
            yield chunk[column]

    def to_frame(self) -> pd.DataFrame:
        """The whole split as one frame (for a split small enough, e.g. test predictions)."""
        import pandas as pd
        import pyarrow.parquet as pq

        if not self.paths:
            return pd.DataFrame({"text": [], "label": []})
        return pd.concat([pq.read_table(p).to_pandas() for p in self.paths], ignore_index=True)


def write_shards(
    frame: pd.DataFrame,
    folder: Path,
    *,
    seed: int | None = None,
    shard_rows: int | None = None,
    chunk_rows: int | None = None,
) -> ShardSet:
    """Write ``frame`` as ``folder/part-00000.parquet``, ... of ``shard_rows`` rows in row
    groups of ``chunk_rows`` (the module's defaults when None) and return their
    :class:`ShardSet`.

    With ``seed`` the rows are written in a shuffled order. Why: a split keeps the file's row
    order, which may be sorted by label, and a reader shuffles only shard order and rows within
    a chunk; shuffled once here, every chunk is a random sample of the split.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard_rows, chunk_rows = shard_rows or SHARD_ROWS, chunk_rows or CHUNK_ROWS
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(frame)
    order = np.random.default_rng(seed).permutation(n) if seed is not None else np.arange(n)
    paths, groups = [], []
    for part, start in enumerate(range(0, n, int(shard_rows))):
        rows = order[start : start + int(shard_rows)]
        table = pa.Table.from_pandas(frame.iloc[rows], preserve_index=False)
        path = folder / f"part-{part:05d}.parquet"
        pq.write_table(table, path, row_group_size=int(chunk_rows))
        with pq.ParquetFile(path) as written:
            meta = written.metadata
        groups.append(tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)))
        paths.append(path)
    return ShardSet(tuple(paths), tuple(groups))
