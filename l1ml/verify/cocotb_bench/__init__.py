"""cocotb components for streaming testbenches: a driver, a monitor and an in-order checker, plus the
bench configuration that ``stream_test`` (the generic test module) reads from its run directory."""
