"""Two small presets whose outcomes have closed forms, shared by the tests of targets
(tests/golden/test_targets.py) and of calibration (tests/test_calibration.py); each adds
its own ``[[targets]]`` and ``[[parameters]]``.

* ``CALM``: a bond whose fundamental falls by ``SHOCK`` with nobody selling (its holder has
  no constraint) moves its yield by ``-ln(1 + s) / DURATION x 1e4`` bp; a fund meets a
  redemption wave ``WAVE`` from cash, so it has redeemed ``WAVE`` of its NAV.
* ``SELLER``: a fund without cash sells ``SOLD`` of its ``HOLDINGS`` into a linear market of
  depth ``DEPTH`` (execution at the pre-trade price), which moves the price to
  ``1 - SOLD x HOLDINGS / DEPTH`` (Greenwood, Landier & Thesmar 2015); the policy
  ``matched`` matches ``ALL_TO_ALL`` of the flow without impact.
"""

SHOCK = -0.02
DURATION = 8.0
WAVE = 0.1
MAX_ROUNDS = 10
HOLDINGS = 100.0
SOLD = 0.2
DEPTH = 1000.0
ALL_TO_ALL = 0.5

CALM = f"""name = "calm"
description = "a bond falls with nobody selling; a fund meets a redemption wave from cash"
currency = "USD bn"

# the holder: no constraint, so it never sells
[[institutions]]
name = "holder"
type = "pension_fund"
group = "P"
cash = 10.0
liabilities = 50.0

[[institutions]]
name = "fund"
type = "asset_manager"
group = "F"
cash = 50.0
liabilities = 0.0

[[assets]]
name = "bond"
class = "treasury"
sigma0 = 0.005
depth = 1000.0
duration = {DURATION}

[[assets]]
name = "notes"
class = "treasury"
sigma0 = 0.003
depth = 1000.0
duration = 2.0

[[holdings]]
institution = "holder"
asset = "bond"
quantity = 100.0

[[holdings]]
institution = "fund"
asset = "notes"
quantity = 50.0

[scenario]
name = "bond_down"
max_rounds = {MAX_ROUNDS}

[[scenario.shocks]]
asset = "bond"
price = {SHOCK}  # the fundamental shock the fit moves

[[scenario.shocks]]
institution = "fund"
redemption = {WAVE}
"""

SELLER = f"""name = "seller"
description = "a fund without cash sells into a linear market"
currency = "USD bn"

[[institutions]]
name = "fund"
type = "asset_manager"
group = "F"
cash = 0.0
liabilities = 0.0

[[assets]]
name = "bond"
class = "treasury"
sigma0 = 0.005
depth = {DEPTH}      # fitted
duration = {DURATION}

[[holdings]]
institution = "fund"
asset = "bond"
quantity = {HOLDINGS}

[scenario]
name = "wave"
max_rounds = {MAX_ROUNDS}

[scenario.channels]
information = false

[scenario.market]
execution_alpha = 0.0

[[scenario.shocks]]
institution = "fund"
redemption = {SOLD}

[policies.matched]
description = "half the flow matched all-to-all, without price impact"
"policy.all_to_all" = {ALL_TO_ALL}
"""
