"""The defaults a trigger physicist gets without asking, named once: the part, the clock, the latency
budgets and the time multiplexing. Every CLI option, dataclass and function default reads them here.

Sources (docs/estimation.md, "The budget"): the HL-LHC Phase-2 Level-1 latency of 12.5 us [CMS-TDR-021];
one algorithm's share of about 1 us; LHC bunches every 25 ns; 5 ns (200 MHz) is hls4ml's default clock.
"""

from __future__ import annotations

#: FPGA part: the Virtex UltraScale+ VU13P of the CMS Phase-2 Level-1 boards
PART = "xcvu13p-flga2577-2-e"
#: target clock period, ns (200 MHz; hls4ml's default)
CLOCK_NS = 5.0
#: latency one algorithm may use, ns
ALGORITHM_BUDGET_NS = 1_000.0
#: the whole Level-1 latency, ns (Phase-2)
TOTAL_BUDGET_NS = 12_500.0
#: LHC bunch-crossing period, ns
BX_NS = 25.0
#: time-multiplexing period in bunch crossings (1: a new event every crossing)
TMUX = 1
