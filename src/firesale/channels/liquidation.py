"""Liquidation policies: how a value to sell is spread over an institution's assets.

* ``pecking_order`` — most liquid first (assets ranked by ``liquidity_rank``; the seed's
  dealer sells Treasuries before anything else);
* ``pro_rata`` — the same fraction of every eligible position (Cont & Schaanning 2017);
* ``initial_weights`` — the value is split by the institution's t0 portfolio weights, the
  first-order assumption of Greenwood, Landier & Thesmar (2015), under which their
  closed form is exact.

A sale never exceeds the position it comes from; a value larger than the eligible book
sells the whole eligible book.
"""

from __future__ import annotations

import numpy as np

__all__ = ["POLICY_CODES", "allocate_sales", "pro_rata_buys"]

POLICY_CODES = {"pecking_order": 0, "pro_rata": 1, "initial_weights": 2}


def allocate_sales(
    value: np.ndarray,
    book: np.ndarray,
    policy: np.ndarray,
    liquidity_order: np.ndarray | None,
    weights: np.ndarray,
) -> np.ndarray:
    """Spread a value to sell over assets.

    Works on *sellers*, one row each (the engine passes only the institutions that
    sell in a round, from every scenario at once).

    Parameters
    ----------
    value : ndarray, shape (R,)
        Value each seller must sell (currency, at marks); zero or less sells nothing.
    book : ndarray, shape (R, K)
        Value of the positions eligible for this sale (currency, at marks).
    policy : ndarray of int, shape (R,)
        Liquidation policy code of each seller, see ``POLICY_CODES``.
    liquidity_order : ndarray of int, shape (K,), or None
        Asset indices from most to least liquid; None when the columns already are in
        that order (the engine's per-institution layout).
    weights : ndarray, shape (R, K)
        Each seller's t0 portfolio weights over tradable assets (rows sum to 1 or are zero).

    Returns
    -------
    ndarray, shape (R, K)
        Value sold of each asset, ``0 <= sale <= book``.

    Examples
    --------
    Dealer Prime sells 114 most-liquid-first out of Treasuries 200 and corporates 144:

    >>> import numpy as np
    >>> sale = allocate_sales(np.array([114.0]), np.array([[200.0, 144.0]]), np.array([0]),
    ...                       np.array([0, 1]), np.array([[0.5, 0.5]]))
    >>> sale.tolist()
    [[114.0, 0.0]]
    """
    value = np.maximum(value, 0.0)
    out = np.zeros_like(book)
    for code, kernel in ((0, _pecking_order), (1, _pro_rata), (2, _initial_weights)):
        members = policy == code
        if members.any():
            out[members] = kernel(value[members], book[members], liquidity_order, weights[members])
    return out


def _pecking_order(value, book, order, _weights):
    ranked = book if order is None else book[..., order]
    before = np.cumsum(ranked, axis=-1) - ranked
    sold = np.clip(value[..., None] - before, 0.0, ranked)
    if order is None:
        return sold
    out = np.empty_like(sold)
    out[..., order] = sold
    return out


def _share_of_book(value, book, tolerance=0.0):
    """``value`` over the row's book total, 0 where the total is within ``tolerance``."""
    total = book.sum(axis=-1)
    return np.divide(value, total, out=np.zeros_like(value), where=total > tolerance)


def _pro_rata(value, book, _order, _weights):
    return book * np.minimum(_share_of_book(value, book), 1.0)[..., None]


def _initial_weights(value, book, _order, weights):
    return np.minimum(value[..., None] * weights, book)


def pro_rata_buys(value: np.ndarray, book: np.ndarray, tolerance: np.ndarray | float = 0.0) -> np.ndarray:
    """Spread a value to buy over the current positions in proportion to their value.

    A row whose tradable book is within ``tolerance`` has no positions to buy in
    proportion to, and buys nothing: a book of a few units in the last place would
    otherwise take the whole purchase (and a share of it, value / book, can overflow).

    Parameters
    ----------
    value : ndarray, shape (R,)
        Value to buy (currency, positive).
    book : ndarray, shape (R, K)
        Current tradable positions (currency).
    tolerance : ndarray, shape (R,), or float
        The smallest book that counts (currency).

    Returns
    -------
    ndarray, shape (R, K)
        Value bought of each asset.

    Examples
    --------
    >>> pro_rata_buys(np.array([6.0, 6.0]), np.array([[1.0, 2.0], [5e-323, 0.0]]), 1e-9)
    array([[2., 4.],
           [0., 0.]])
    """
    return book * _share_of_book(np.maximum(value, 0.0), book, tolerance)[..., None]
