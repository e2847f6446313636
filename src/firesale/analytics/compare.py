"""Baseline against policies: the same shock with and without each policy, in one batch.

A policy name is either a boolean switch of :class:`firesale.scenario.Policy` (e.g.
``slr_exemption``; the policy run switches it on) or a bundle of scenario overrides that
the preset defines in a ``[policies.NAME]`` section. ``"A+B"`` applies A and B together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from firesale.analytics.amplification import summarize, with_impulse
from firesale.data.preset import policy_switches
from firesale.errors import ConfigError, Problem, did_you_mean
from firesale.scenario import POLICY_LEVERS, Scenario
from firesale.simulation import simulate

if TYPE_CHECKING:
    from firesale.data.preset import Preset

__all__ = ["compare", "comparison_scenarios", "summarize_comparison", "policy_names", "policy_overrides",
           "policy_scenario"]


def policy_names(preset: Preset) -> dict[str, str]:
    """Every policy name ``compare`` accepts for a preset, with its description.

    The boolean switches of :class:`~firesale.scenario.Policy` (described by their field
    descriptions; fields of a nested section by dotted name), then the preset's
    ``[policies.NAME]`` bundles (described by their ``description``).
    """
    names = dict(policy_switches())
    for name, bundle in preset.policies.items():
        names[name] = bundle["description"]
    return names


def _unknown(preset: Preset, name: str, part: str) -> ConfigError:
    known = list(policy_names(preset))
    where = f"policy {name!r}" if part == name else f"policy {name!r}, part {part!r}"
    return ConfigError(Problem(
        "FS601", where,
        f"unknown policy {part!r}.{did_you_mean(part, known)} Known policies of {preset.name}: {', '.join(known)} "
        "(switches of scenario.policy, and the preset's [policies.NAME] sections); use one of these, "
        "or join several with '+'",
    ))


def policy_overrides(preset: Preset, name: str) -> dict[str, Any]:
    """The dotted scenario overrides of a policy name (``"A+B"``: both A's and B's).

    Raises
    ------
    ConfigError
        An unknown name (with the known names and the closest one), or parts of a
        combination that set the same field to different values.
    """
    switches = policy_switches()
    overrides: dict[str, Any] = {}
    origin: dict[str, str] = {}
    parts = [part.strip() for part in name.split("+")]
    for part in parts:
        if not part:
            raise ConfigError(Problem("FS601", f"policy {name!r}", "has an empty part: write NAME or NAME+NAME, "
                                      "e.g. slr_exemption+haircut_floor"))
        if part in preset.policies:
            changes = preset.policies[part]["overrides"]
        elif part in switches:
            changes = {f"policy.{part}": True}
        else:
            raise _unknown(preset, name, part)
        for key, value in changes.items():
            if key in overrides and overrides[key] != value:
                raise ConfigError(Problem(
                    "FS602", f"policy {name!r}, field scenario.{key}",
                    f"{origin[key]!r} sets it to {overrides[key]!r} but {part!r} sets it to {value!r}: "
                    "these policies cannot be combined; compare them in separate columns",
                ))
            overrides[key], origin[key] = value, part
    return overrides


def policy_scenario(preset: Preset, name: str, base: Scenario | None = None) -> Scenario:
    """The baseline scenario (the preset's, or ``base``) with the policy ``name`` applied."""
    base = preset.scenario if base is None else base
    overrides = policy_overrides(preset, name)
    if "name" not in overrides:
        overrides["name"] = f"{base.name}+{name}"
    return base.updated(**overrides)


def _peak_price_fall(ds: Any, scenario: int) -> dict[str, float]:
    """Per asset, the largest fall below the t0 price of 1 over all rounds (0 if none)."""
    lowest = ds.price.isel(scenario=scenario).min("round").values
    return {str(a): max(0.0, float(1.0 - low)) for a, low in zip(ds.asset.values, np.atleast_1d(lowest))}


def compare(preset: Preset, policies: list[str] | tuple[str, ...], *, base: Scenario | None = None) -> dict[str, Any]:
    """Run the baseline and each policy on the preset's system as one batch.

    Parameters
    ----------
    preset : Preset
        The system, its scenario (the baseline) and its ``[policies.NAME]`` bundles.
    policies : sequence of str
        Policy names, one comparison column each: a boolean switch of
        :class:`~firesale.scenario.Policy` (switched on), a bundle of the preset, or
        ``"A+B"`` for A and B together. A name given twice is run once.
    base : Scenario, optional
        Baseline scenario instead of the preset's; each policy is applied on top of it.

    Returns
    -------
    dict
        ``{"baseline": summary, "policies": {name: summary}}``. Each summary is
        :func:`~firesale.analytics.amplification.summarize` of that run plus
        ``peak_price_fall`` (per asset, the largest fall below the t0 price over all
        rounds, ``max_t (1 - p_t)``, as a positive fraction), and ``stabilised``
        (false when the run was still moving at its ``max_rounds``); ``rounds_to_stabilise``
        is the round from which prices stay within 0.1% of their end
        (:func:`~firesale.analytics.amplification.rounds_to_stabilise`), and ``timing``
        (:func:`policy_timing`: when each lever the run switches on acts).

    Raises
    ------
    ConfigError
        An unknown policy name, listing the known ones and the closest.

    Examples
    --------
    >>> from firesale import load_preset
    >>> out = compare(load_preset("dealer_prime"), ["slr_exemption"])
    >>> round(out["baseline"]["forced_sales"], 9), out["policies"]["slr_exemption"]["forced_sales"]
    (114.0, 0.0)
    """
    names, scenarios = comparison_scenarios(preset, policies, base=base)
    return summarize_comparison(simulate(preset.system, scenarios), scenarios, names)


def comparison_scenarios(preset: Preset, policies: list[str] | tuple[str, ...], *, base: Scenario | None = None,
                         ) -> tuple[list[str], list[Scenario]]:
    """The policy names (duplicates dropped) and the batch :func:`compare` runs: the
    baseline, then one scenario per policy, then the impulse run of each (every channel
    off, the policy kept: the initial loss of its amplification,
    :func:`~firesale.analytics.amplification.with_impulse`)."""
    base = preset.scenario if base is None else base
    names = list(dict.fromkeys(policies))
    return names, with_impulse([base, *(policy_scenario(preset, name, base) for name in names)])


def policy_timing(scenario: Scenario) -> dict[str, dict[str, int | None]]:
    """When each policy lever the scenario switches on acts: ``{lever: {"start": round,
    "end": round or None (to the end), "announced": round or None}}`` (the announcement
    for purchases only). A lever left off is not listed.

    Examples
    --------
    >>> from firesale import Scenario
    >>> policy_timing(Scenario(policy={"slr_exemption": True, "timing": {"slr_exemption": {"start": 17}}}))
    {'slr_exemption': {'start': 17, 'end': None, 'announced': None}}
    """
    policy = scenario.policy
    on = {"slr_exemption": policy.slr_exemption, "haircut_floor": policy.haircut_floor,
          "swing_pricing": policy.swing_pricing, "slr_buffer_release": policy.slr_buffer_release > 0,
          "all_to_all": policy.all_to_all > 0, "purchases": policy.purchases is not None and bool(policy.purchases.assets),
          "repo_facility": policy.repo_facility is not None and bool(policy.repo_facility.assets)}
    out: dict[str, dict[str, int | None]] = {}
    for lever in POLICY_LEVERS:
        if on[lever]:
            window = getattr(policy.timing, lever)
            announced = None
            if lever == "purchases":
                announced = window.start if policy.purchases.announced is None else policy.purchases.announced
            out[lever] = {"start": window.start, "end": window.end, "announced": announced}
    return out


def summarize_comparison(ds: Any, scenarios: list[Scenario], names: list[str]) -> dict[str, Any]:
    """:func:`compare`'s result from the batch's Dataset (baseline first, then the policies,
    then any impulse runs, which :func:`~firesale.analytics.amplification.summarize` reads)."""
    summaries = []
    for i in range(len(names) + 1):
        summary = summarize(ds, i)
        summary["peak_price_fall"] = _peak_price_fall(ds, i)
        summary["stabilised"] = summary["rounds"] < scenarios[i].max_rounds
        summary["timing"] = policy_timing(scenarios[i])
        summaries.append(summary)
    return {"baseline": summaries[0], "policies": dict(zip(names, summaries[1:]))}
