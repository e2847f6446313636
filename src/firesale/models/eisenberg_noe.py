"""Eisenberg & Noe (2001), "Systemic risk in financial systems", Management Science 47(2):
the clearing payment vector of an interbank network, with external debt senior to interbank
debt or ranking pari passu with it.

N banks. :math:`L_{ij}` is what bank i owes bank j, :math:`e_i` bank i's external assets
and :math:`b_i` what it owes outside the network. Limited liability and absolute priority
make the payments a fixed point of a monotone map (EN 2001, Definition 1 and Lemma 1):

* **pari passu** (EN's own model, external creditors one more creditor): bank i pays
  :math:`P_i` in total, shared pro rata to its obligations :math:`\\bar p_i = b_i + \\sum_j
  L_{ij}`, so :math:`Π_{ij} = L_{ij} / \\bar p_i` and

  .. math:: P = \\min\\left(\\bar p,\\; \\max\\left(0,\\; e + Π' P\\right)\\right);

* **senior** external debt: bank i pays :math:`b_i` first and only the rest to banks,
  :math:`p_i` of its interbank obligations :math:`\\ell_i = \\sum_j L_{ij}`, shared with
  :math:`Π_{ij} = L_{ij} / \\ell_i`:

  .. math:: p = \\min\\left(\\ell,\\; \\max\\left(0,\\; e - b + Π' p\\right)\\right).

Equity is :math:`\\max(0,\\, e_i + (Π'p)_i - b_i - \\ell_i)` in both cases.

The fixed point is found exactly by the *fictitious default algorithm* (EN 2001,
section 3): start from full payment; the banks that cannot pay in full given the others'
payments default; solve the linear system in which the defaulters pay what they have and
the others pay in full; repeat until no new bank defaults (at most N rounds, each round
exact linear algebra, so the result is exact to rounding). Where external debt is senior
a defaulter's net external position :math:`e_i - b_i` may be negative, and its interbank
payment then floors at 0: inside each round the floor is resolved from below (the
payers are the banks with positive net worth, grown until consistent, at most N linear
solves), which keeps every round exact and the rounds monotone. The clearing vector is
unique under EN's regularity condition (Theorem 2); if a set of defaulters owes only to
itself with no net external value the linear system is singular and a
:class:`~firesale.errors.ConfigError` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.errors import ConfigError, Problem

__all__ = ["ClearingResult", "clearing_vector"]

_CODE = "FS803"
_SENIORITIES = ("senior", "pari_passu")


@dataclass(frozen=True)
class ClearingResult:
    """The clearing payments of an interbank network.

    Attributes
    ----------
    payment_matrix : ndarray, shape (N, N)
        :math:`X_{ij}`, paid by bank i to bank j.
    interbank_payments : ndarray, shape (N,)
        :math:`\\sum_j X_{ij}`, what bank i pays other banks.
    external_payments : ndarray, shape (N,)
        What bank i pays its external creditors.
    recovery : ndarray, shape (N,)
        Share of bank i's interbank obligations it pays (1 where it owes banks nothing).
    equity : ndarray, shape (N,)
        :math:`\\max(0,\\, e_i + \\text{received}_i - \\text{obligations}_i)`.
    defaulted : ndarray of bool, shape (N,)
        Banks that pay less than they owe.
    rounds : int
        Rounds of the fictitious default algorithm (≤ N).
    """

    payment_matrix: np.ndarray
    interbank_payments: np.ndarray
    external_payments: np.ndarray
    recovery: np.ndarray
    equity: np.ndarray
    defaulted: np.ndarray
    rounds: int

    @property
    def received(self) -> np.ndarray:
        """What each bank receives from other banks, shape (N,)."""
        return self.payment_matrix.sum(axis=0)


def _check(liabilities, external_assets, external_liabilities, seniority):
    problems = []
    lia = np.asarray(liabilities, dtype=float)
    e = np.asarray(external_assets, dtype=float)
    b = np.asarray(external_liabilities, dtype=float)
    if lia.ndim != 2 or lia.shape[0] != lia.shape[1]:
        problems.append(("liabilities", f"got shape {lia.shape}: the liability matrix must be square (N, N), "
                         "L[i, j] = owed by bank i to bank j"))
    else:
        n = lia.shape[0]
        if e.shape != (n,) or b.shape != (n,):
            problems.append(("external_assets/external_liabilities", f"shapes disagree: liabilities {lia.shape}, "
                             f"external_assets {e.shape}, external_liabilities {b.shape}; give one entry per bank"))
        if not np.isfinite(lia).all() or (lia < 0).any():
            bad = np.argwhere(~np.isfinite(lia) | (lia < 0))[:5].tolist()
            problems.append(("liabilities", f"entries {bad} are negative or not finite: amounts owed are ≥ 0 "
                             "(write a claim of i on j as L[j, i])"))
        elif np.any(np.diag(lia) != 0):
            bad = np.flatnonzero(np.diag(lia)).tolist()
            problems.append(("liabilities", f"bank(s) {bad} owe themselves (nonzero diagonal): set L[i, i] = 0"))
    for name, arr in (("external_assets", e), ("external_liabilities", b)):
        if arr.size and (not np.isfinite(arr).all() or (arr < 0).any()):
            problems.append((name, "must be finite and at least 0; a loss on external assets lowers them, it does "
                             "not make them negative"))
    if seniority not in _SENIORITIES:
        close = [s for s in _SENIORITIES if str(seniority).replace("-", "_").replace(" ", "_").lower() == s]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append(("seniority", f"got {seniority!r}: must be one of {', '.join(_SENIORITIES)}.{hint}"))
    if problems:
        raise ConfigError([Problem(_CODE, f"clearing_vector argument {name}", msg) for name, msg in problems])
    return lia, e, b


def _closed_set(share: np.ndarray) -> np.ndarray:
    """The banks of a set that owes all its interbank debt to itself (positions into ``share``).

    ``share[j, i]`` is the share of bank i's obligations owed to bank j (a substochastic
    matrix: columns sum to at most 1). :math:`I - M` is singular exactly when some set C
    has :math:`\\sum_{j \\in C} M_{ji} = 1` for every i in C: its payments only circulate
    inside it. Peeling off the banks that pay anything outside what is left finds the
    largest such set (empty when the system is regular).
    """
    closed = np.arange(share.shape[0])
    while closed.size:
        inside = share[np.ix_(closed, closed)].sum(axis=0) >= 1.0 - 1e-12
        if inside.all():
            break
        closed = closed[inside]
    return closed


def _solve(share, rhs, banks):
    """:math:`q = (I - M)^{-1} a`, after naming any set of banks that makes it singular."""
    closed = _closed_set(share)
    if closed.size:
        raise ConfigError(Problem(_CODE, "clearing_vector", f"banks {banks[closed].tolist()} default and owe all "
                                  "their interbank debt to one another with no net external value: the clearing "
                                  "vector is not unique (Eisenberg-Noe regularity fails). Give them external assets "
                                  "or external creditors"))
    return np.linalg.solve(np.eye(share.shape[0]) - share, rhs)


def _floored_payments(a, m, index):
    """Solve :math:`q = \\max(0, a + M q)` exactly, from below.

    The payers P start as {a > 0}; solve :math:`q_P = (I - M_{PP})^{-1} a_P` (others 0) and
    grow P to {a + Mq > 0} until it stops changing. The iterates increase, so P only grows
    (≤ len(a) solves). ``index`` (the banks' numbers) is for the error message.
    """
    q = np.zeros_like(a)
    payers = a > 0
    for _ in range(a.size + 1):
        q = np.zeros_like(a)
        if payers.any():
            q[payers] = _solve(m[np.ix_(payers, payers)], a[payers], index[payers])
        grown = payers | (a + m @ q > 0)
        if np.array_equal(grown, payers):
            return np.maximum(q, 0.0)
        payers = grown
    raise AssertionError("unreachable: the payer set grows at most N times")  # pragma: no cover


def _fictitious_default(cash, obligations, pi):
    """Greatest fixed point of :math:`p = \\min(\\bar p, \\max(0, c + Π'p))`; returns (p, rounds)."""
    n = cash.size
    index = np.arange(n)
    paying_in_full = np.ones(n, dtype=bool)
    p = obligations.copy()
    for rounds in range(1, n + 3):
        value = cash + pi.T @ p
        still_full = paying_in_full & (value >= obligations)
        if rounds > 1 and np.array_equal(still_full, paying_in_full):
            return p, rounds - 1
        paying_in_full = still_full
        d = ~paying_in_full
        p = np.where(paying_in_full, obligations, 0.0)
        if d.any():
            # defaulters pay max(0, c + Π'p) given the others pay in full
            a = cash[d] + pi[paying_in_full][:, d].T @ obligations[paying_in_full]
            p[d] = _floored_payments(a, pi[np.ix_(d, d)].T, index[d])
    raise AssertionError("unreachable: at most N banks can default")  # pragma: no cover


def clearing_vector(liabilities, external_assets, external_liabilities, seniority: str = "senior") -> ClearingResult:
    """Clearing payments of an interbank network (Eisenberg & Noe 2001).

    Solves :math:`p = \\min(\\bar p, \\max(0, c + Π'p))` exactly by the fictitious default
    algorithm (EN 2001, section 3); see the module docstring for the two seniorities.

    Parameters
    ----------
    liabilities : array_like, shape (N, N)
        :math:`L_{ij}` ≥ 0, owed by bank i to bank j; zero diagonal.
    external_assets : array_like, shape (N,)
        :math:`e_i` ≥ 0, assets outside the network (after any shock).
    external_liabilities : array_like, shape (N,)
        :math:`b_i` ≥ 0, debt to creditors outside the network.
    seniority : {"senior", "pari_passu"}
        ``"senior"``: external debt is paid before interbank debt; ``"pari_passu"``: all
        creditors share pro rata (EN's original model).

    Returns
    -------
    ClearingResult

    Raises
    ------
    ConfigError
        Non-square or negative liabilities, a nonzero diagonal, mismatched shapes, an
        unknown seniority, or a network whose clearing vector is not unique.

    Examples
    --------
    The paper's check: three banks, external assets [20, 20, 10] cut by 10%, external debt senior.

    >>> lia = [[0, 4, 0], [0, 0, 3], [2, 0, 0]]
    >>> r = clearing_vector(lia, [18, 18, 9], [17, 18, 8])
    >>> r.interbank_payments.round(12).tolist(), r.recovery.round(12).tolist(), r.equity.round(12).tolist()
    ([3.0, 3.0, 2.0], [0.75, 1.0, 1.0], [0.0, 0.0, 2.0])

    Pari passu, bank 0 pays its 21 of obligations 20/21 on the pound:

    >>> r = clearing_vector(lia, [18, 18, 9], [17, 18, 8], seniority="pari_passu")
    >>> r.interbank_payments.round(4).tolist(), r.equity.round(4).tolist()
    ([3.8095, 3.0, 2.0], [0.0, 0.8095, 2.0])
    """
    lia, e, b = _check(liabilities, external_assets, external_liabilities, seniority)
    interbank = lia.sum(axis=1)
    if seniority == "senior":
        obligations, cash = interbank, e - b
    else:
        obligations, cash = interbank + b, e
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(obligations[:, None] > 0, lia / obligations[:, None], 0.0)
    paid, rounds = _fictitious_default(cash, obligations, pi)
    matrix = pi * paid[:, None]
    received = matrix.sum(axis=0)
    interbank_paid = matrix.sum(axis=1)
    if seniority == "senior":
        external_paid = np.minimum(b, np.maximum(0.0, e + received))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            external_paid = np.where(obligations > 0, paid * b / obligations, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recovery = np.where(interbank > 0, interbank_paid / interbank, 1.0)
    equity = np.maximum(0.0, e + received - b - interbank)
    scale = np.maximum(1.0, b + interbank)
    defaulted = (interbank_paid + external_paid) < (b + interbank) - 1e-12 * scale
    return ClearingResult(matrix, interbank_paid, external_paid, recovery, equity, defaulted, rounds)
