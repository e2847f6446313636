"""Institution × asset matrices (holdings, repo, derivatives, market shares), dense or CSR.

A :class:`~firesale.system.System` keeps its ``(N, K)`` matrices as numpy arrays while
they are small, and as :class:`scipy.sparse.csr_array` above :data:`SPARSE_MIN_CELLS`
cells at a density of at most :data:`SPARSE_MAX_DENSITY`: a 20,000 × 2,000 system at 1%
density holds 400,000 positions, 5 MB as CSR against 320 MB per dense matrix. The engine
reads positions only (:func:`triplets`), so both forms give the same run.

The helpers below accept either form, so callers never branch on it.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Matrix",
    "SPARSE_MIN_CELLS",
    "SPARSE_MAX_DENSITY",
    "prefer_sparse",
    "from_triplets",
    "dense",
    "triplets",
    "values_at",
    "row_sums",
    "column_sums",
    "column",
    "count_nonzero",
    "max_abs_difference",
]

Matrix: TypeAlias = np.ndarray | sp.csr_array

#: Systems with at least this many institution × asset cells ...
SPARSE_MIN_CELLS = 1_000_000
#: ... and at most this share of them held keep their matrices as CSR.
SPARSE_MAX_DENSITY = 0.05


def prefer_sparse(n_rows: int, n_cols: int, n_stored: int) -> bool:
    """Whether an ``(n_rows, n_cols)`` matrix with ``n_stored`` positions is kept as CSR."""
    cells = n_rows * n_cols
    return cells >= SPARSE_MIN_CELLS and n_stored <= SPARSE_MAX_DENSITY * cells


def from_triplets(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int],
                  sparse: bool, fill: float = 0.0) -> Matrix:
    """A matrix with ``values`` at ``(rows, cols)`` (positions must be unique).

    Dense: ``fill`` elsewhere. CSR: the given positions are stored (explicit zeros
    included, so that the pattern is the table's rows) and ``fill`` does not apply.
    """
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if sparse:
        order = np.lexsort((cols, rows))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
        return sp.csr_array((values[order], cols[order], indptr), shape=shape)
    out = np.full(shape, fill, dtype=float)
    out[rows, cols] = values
    return out


def dense(matrix: Matrix) -> np.ndarray:
    """The matrix as a numpy array (a copy only when it is CSR)."""
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def triplets(matrix: Matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and values of the non-zero entries, in row-major order (the same for
    both forms of the same matrix)."""
    if sp.issparse(matrix):
        coo = matrix.tocoo()
        keep = coo.data != 0
        rows, cols, values = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep]
        order = np.lexsort((cols, rows))
        return rows[order], cols[order], values[order]
    rows, cols = np.nonzero(matrix)
    return rows.astype(np.int64), cols.astype(np.int64), np.asarray(matrix)[rows, cols]


def values_at(matrix: Matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Entries at ``(rows, cols)``, a 1-d array."""
    if not sp.issparse(matrix):
        return np.asarray(matrix)[rows, cols]
    csr = sp.csr_array(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    n_cols = csr.shape[1]
    # stored entries in row-major order, looked up by their flat index
    stored = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr)) * n_cols + csr.indices
    query = np.asarray(rows, dtype=np.int64) * n_cols + np.asarray(cols, dtype=np.int64)
    if not stored.size:
        return np.zeros(query.shape)
    at = np.minimum(np.searchsorted(stored, query), stored.size - 1)
    return np.where(stored[at] == query, csr.data[at], 0.0)


def row_sums(matrix: Matrix) -> np.ndarray:
    """Sum of each row, adding its non-zero entries in column order: the same bits for
    both forms of a matrix (numpy's pairwise sum over all K would differ in the last place)."""
    rows, _, values = triplets(matrix)
    return np.bincount(rows, weights=values, minlength=matrix.shape[0]).astype(float)


def column_sums(matrix: Matrix) -> np.ndarray:
    """Sum of each column, adding its non-zero entries in row order (see :func:`row_sums`)."""
    _, cols, values = triplets(matrix)
    return np.bincount(cols, weights=values, minlength=matrix.shape[1]).astype(float)


def column(matrix: Matrix, k: int) -> np.ndarray:
    """Column ``k`` as a 1-d numpy array."""
    if sp.issparse(matrix):
        return matrix[:, [k]].toarray().reshape(-1)
    return np.asarray(matrix)[:, k]


def max_abs_difference(a: Matrix, b: Matrix) -> float:
    """Largest absolute difference between two matrices of either form."""
    diff = a - b
    if sp.issparse(diff):
        return float(abs(diff).max()) if diff.nnz else 0.0
    return float(np.abs(diff).max(initial=0.0))


def count_nonzero(matrix: Matrix | None) -> int:
    """Non-zero entries (0 for ``None``)."""
    if matrix is None:
        return 0
    if sp.issparse(matrix):
        return int(matrix.count_nonzero())
    return int(np.count_nonzero(matrix))
