"""Reviewed Verilog primitives (verilog/) and HLS headers (hls/); shipped in the wheel as l1ml._firmware_templates."""
