"""Verification: test vectors and bit-exact comparisons at every level (qonnx, hls, rtl)."""
