"""The compiled passes over positions (numba), which the compiled phases
(``firesale.engine.compiled_<phase>``) call from inside numba, and the passes the run loop
makes between rounds (:class:`firesale.engine.compiled.CompiledKernels`).

Each computes what the numpy reference of :class:`firesale.engine.kernels.Kernels`
computes, in one pass, scenario by scenario (or acting row by row), and never sums across
scenarios, so a scenario gives the same bits in any batch.
"""

from __future__ import annotations

import numpy as np

from firesale.engine.compiled_scalars import inline, jit, maximum

__all__ = ["desk_var", "order_rows", "row_starts", "row_flows", "row_records", "add_sales", "state_violation"]

@jit
def desk_var(q_trading, price, tradable, sigma, desks, row_entries, entry_asset, correlation, z,
             n_inst):  # pragma: no cover
    r""":meth:`firesale.engine.kernels.Kernels.desk_var`: each desk's VaR,
    :math:`z_v \sqrt{b^\top C_v b}` over its own positions' trading books at risk
    (:func:`firesale.channels.balance_sheet.value_at_risk`).

    Desk by desk, and each desk's scenarios in turn: the desk's correlation block
    (``correlation[v]``, its positions only) is read once for the chunk, where a loop over
    scenarios outside would stream every desk's block through memory once per scenario
    (157 MB a scenario on 5,000 × 1,000). A desk's positions are the first of its row of
    ``row_entries``, padding after them: the padding's terms, exact zeros, are left out,
    which changes no bit of a finite sum."""
    n_scen, width = q_trading.shape[0], row_entries.shape[1]
    out = np.full((n_scen, n_inst), np.nan)
    scaled = np.empty(width)
    for v in range(desks.size):
        n = desks[v]
        count = 0
        while count < width and row_entries[n, count] >= 0:
            count += 1
        for s in range(n_scen):
            for m in range(count):
                e = row_entries[n, m]
                k = entry_asset[e]
                scaled[m] = q_trading[s, e] * (price[s, k] * tradable[k]) * sigma[s, k]
            variance = 0.0
            # four rows of the block at a time: their sums are independent, so the processor
            # overlaps them, and each still adds its terms in column order (the same bits)
            paired = count - count % 4
            for i in range(0, paired, 4):
                w0 = w1 = w2 = w3 = 0.0
                for m in range(count):
                    x = scaled[m]
                    w0 += correlation[v, i, m] * x
                    w1 += correlation[v, i + 1, m] * x
                    w2 += correlation[v, i + 2, m] * x
                    w3 += correlation[v, i + 3, m] * x
                variance += w0 * scaled[i]
                variance += w1 * scaled[i + 1]
                variance += w2 * scaled[i + 2]
                variance += w3 * scaled[i + 3]
            for i in range(paired, count):
                weighted = 0.0
                for m in range(count):
                    weighted += correlation[v, i, m] * scaled[m]
                variance += weighted * scaled[i]
            out[s, n] = z[v] * np.sqrt(max(variance, 0.0))
    return out


@inline
def _allocate(value, scratch, book, weights, out, policy, count):  # pragma: no cover
    """:func:`firesale.channels.liquidation.allocate_sales` for one row's ``count`` slots:
    the books are ``scratch[book:]``, the initial weights ``scratch[weights:]``, the sales go
    to ``scratch[out:]``. Runs of one flat array, not views: a view taken per row would
    change the array's reference count, two atomic operations each."""
    value = max(value, 0.0)
    if policy == 0:  # pecking order: most liquid first
        running = 0.0
        for i in range(count):
            running += scratch[book + i]
            scratch[out + i] = min(max(value - (running - scratch[book + i]), 0.0), scratch[book + i])
    elif policy == 1:  # pro rata
        total = 0.0
        for i in range(count):
            total += scratch[book + i]
        share = min(value / total, 1.0) if total > 0 else 0.0
        for i in range(count):
            scratch[out + i] = scratch[book + i] * share
    else:  # initial weights
        for i in range(count):
            scratch[out + i] = min(value * scratch[weights + i], scratch[book + i])


@jit
def order_rows(row_entries, entry_asset, tradable_asset, slr_exempt, liquidation, initial_weights, q,
                q_trading, mark, repo, has_repo, s_of, n_of, exempt_scenario, asks, funding_label, dead, left,
                tolerance, valid, entries, flat, asset_rows, q_rows, qt_rows, price_rows, repo_rows, sales,
                binding, units, trading_cut):  # pragma: no cover
    n_rows, width = valid.shape
    n_entries = q.shape[1]
    # one set of scratch runs for every row, in one flat array: no allocation per row
    scratch = np.zeros(8 * width)
    book, counted_book, net = scratch[:width], scratch[width:2 * width], scratch[2 * width:3 * width]
    weights, mask = scratch[3 * width:4 * width], scratch[4 * width:5 * width]
    slr_sale, lev_sale = scratch[5 * width:6 * width], scratch[6 * width:7 * width]
    funding_sale = scratch[7 * width:]
    for r in range(n_rows):
        s, n = s_of[r], n_of[r]
        policy = liquidation[n]
        slr_value, var_share, lev_sell, shortfall, lev_trade = asks[r, 0], asks[r, 1], asks[r, 2], asks[r, 3], \
            asks[r, 4]
        count = 0
        for slot in range(width):
            e = row_entries[n, slot]
            valid[r, slot] = e >= 0
            entry = e if e >= 0 else 0
            k = entry_asset[entry] if e >= 0 else 0
            entries[r, slot] = entry
            flat[r, slot] = s * n_entries + entry
            asset_rows[r, slot] = k
            price_rows[r, slot] = mark[s, k]
            if e < 0:  # padding, after the row's positions: every run of the scratch is 0 here
                q_rows[r, slot] = qt_rows[r, slot] = repo_rows[r, slot] = 0.0
                book[slot] = counted_book[slot] = net[slot] = weights[slot] = mask[slot] = 0.0
                slr_sale[slot] = lev_sale[slot] = funding_sale[slot] = 0.0
                continue
            count += 1
            q_rows[r, slot] = q[s, e]
            qt_rows[r, slot] = q_trading[s, e]
            mask[slot] = 1.0 if tradable_asset[k] else 0.0
            book[slot] = q[s, e] * mark[s, k] * mask[slot]
            counted_book[slot] = 0.0 if (slr_exempt[k] and exempt_scenario[r]) else book[slot]
            weights[slot] = initial_weights[e]
            repo_rows[r, slot] = repo[s, e] if has_repo else 0.0
            net[slot] = max(book[slot] - repo_rows[r, slot], 0.0) * mask[slot]
            funding_sale[slot] = 0.0  # the allocations below fill the other two runs' first count slots
        _allocate(slr_value, scratch, width, 3 * width, 5 * width, policy, count)
        _allocate(lev_sell, scratch, 0, 3 * width, 6 * width, policy, count)
        if has_repo:
            _allocate(shortfall, scratch, 2 * width, 3 * width, 7 * width, policy, count)
            for slot in range(count):
                funding_sale[slot] = funding_sale[slot] * book[slot] / net[slot] if net[slot] > 0 else 0.0
        total = 0.0
        for slot in range(width):
            best = slr_sale[slot]
            label = 0 if best > 0 else -1
            candidate = qt_rows[r, slot] * price_rows[r, slot] * mask[slot] * var_share
            if candidate > best:
                best, label = candidate, 1
            if lev_sale[slot] > best:
                best, label = lev_sale[slot], 2
            candidate = book[slot] if dead[r] else 0.0
            if candidate > best:
                best, label = candidate, 3
            if funding_sale[slot] > best:
                best, label = funding_sale[slot], funding_label[r]
            sales[r, slot] = best
            binding[r, slot] = label
            total += best
        quiet = total <= tolerance[r]
        buy_share = 0.0
        if quiet:
            book_total = 0.0
            for slot in range(width):
                sales[r, slot] = 0.0
                binding[r, slot] = -1
                book_total += book[slot]
            buy = -lev_trade if lev_trade < -tolerance[r] else 0.0
            # no book to buy in proportion to: a book within the tolerance buys nothing
            buy_share = max(buy, 0.0) / book_total if book_total > tolerance[r] else 0.0
        for slot in range(width):
            held = q_rows[r, slot]
            price = price_rows[r, slot]
            if dead[r]:
                sold = held * mask[slot]
            else:
                sold = (sales[r, slot] - book[slot] * buy_share) / (price if price > 0 else 1.0)
            sold = min(sold, held)
            if left[r]:
                sold = 0.0
            units[r, slot] = sold
            share = qt_rows[r, slot] / held if held > 0 else 0.0
            var_units = qt_rows[r, slot] * mask[slot] * (0.0 if dead[r] else var_share)
            if sold > 0:
                trading_cut[r, slot] = min(max(var_units, sold * share), sold)
            else:
                trading_cut[r, slot] = sold * share


@jit
def row_starts(s_of, n_scen):  # pragma: no cover
    """The first acting row of each scenario (rows are in scenario order), and the row
    count last: the runs :func:`row_flows` and :func:`row_records` walk."""
    return np.searchsorted(s_of, np.arange(n_scen + 1))


@jit
def row_flows(units, price, p0, in_units, asset_rows, valid, entries, client_rows, entry_position, row_starts,
               n_pos, traded, client_flow, dealer_sales):  # pragma: no cover
    n_scen = row_starts.size - 1
    for s in range(n_scen):
        for r in range(row_starts[s], row_starts[s + 1]):
            for slot in range(units.shape[1]):
                k = asset_rows[r, slot]
                value = units[r, slot] * price[s, k]
                traded[r, slot] = value
                if not valid[r, slot]:
                    continue
                flowing = units[r, slot] * p0[k] if in_units[r] else value
                if client_rows[r]:
                    client_flow[s, k] += flowing
                position = entry_position[entries[r, slot]]
                if position >= 0:
                    dealer_sales[s, position] += flowing


@jit
def row_records(traded, units, binding, n_of, asset_rows, valid, row_starts, sold, bought, by_channel,
                 forced):  # pragma: no cover
    n_scen = row_starts.size - 1
    for s in range(n_scen):
        for r in range(row_starts[s], row_starts[s + 1]):
            n = n_of[r]
            for slot in range(units.shape[1]):
                value = traded[r, slot]
                if units[r, slot] > 0:
                    sold[s, n] += value
                    if binding[r, slot] >= 0:
                        by_channel[s, n, binding[r, slot]] += value
                elif units[r, slot] < 0:
                    bought[s, n] -= value
                if valid[r, slot]:
                    forced[s, asset_rows[r, slot]] += max(value, 0.0)


@jit
def add_sales(sales_by_entry, sales, s_of, entries, assets):  # pragma: no cover
    for r in range(sales.shape[0]):
        s = s_of[r]
        for slot in range(sales.shape[1]):
            if assets[r, slot] >= 0:
                sales_by_entry[s, entries[r, slot]] += sales[r, slot]


@jit
def state_violation(price, equity, spread, q, cash, fundamental, p0, tolerance, price_bound,
                     equity_bound):  # pragma: no cover
    n_scen, n_assets = price.shape
    for s in range(n_scen):
        for k in range(n_assets):
            if not np.isfinite(price[s, k]):
                return 0, s, 0
        for n in range(equity.shape[1]):
            if not np.isfinite(equity[s, n]):
                return 0, s, 0
    for s in range(n_scen):
        for k in range(n_assets):
            if price[s, k] < 0.0:
                return 1, s, k
    for s in range(n_scen):
        for k in range(n_assets):
            if spread[s, k] >= 2.0:
                return 2, s, k
    for s in range(n_scen):
        for e in range(q.shape[1]):
            if q[s, e] < -tolerance:
                return 3, s, e
    for s in range(n_scen):
        for n in range(cash.shape[1]):
            if cash[s, n] < -tolerance:
                return 4, s, n
    for s in range(n_scen):
        for k in range(n_assets):
            if price[s, k] > price_bound * maximum(fundamental[s, k], p0[k]):
                return 5, s, k
    for s in range(n_scen):
        for n in range(equity.shape[1]):
            if abs(equity[s, n]) > equity_bound:
                return 6, s, n
    return -1, 0, 0
