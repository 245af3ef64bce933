"""A bit-exactness regression test for model.onnx, written with the l1ml pytest plugin.

Run it with `pytest examples/plugin` (add `-p l1ml.pytest_plugin` while the plugin is not installed
as a pytest entry point). The first run stores golden vectors in l1ml_golden/; later runs fail if
qonnx, the generated Verilog or the emulator disagree, or if any output word moved.
"""


def test_model_is_bit_exact(l1ml_bitexact):
    l1ml_bitexact("model.onnx", levels=["qonnx", "rtl"], vectors=300)
