// l1ml_sub: elementwise y = a * 2**A_SHIFT - b * 2**B_SHIFT on N code pairs (the shifts align both
// operands to the output grid). OUT_W holds the exact difference (the IR's Sub type), so nothing
// rounds or wraps: the difference is formed on a signed working width that holds both extended
// operands and then cut to OUT_W bits.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_verilog_elementwise.py (extreme and random codes, signed and unsigned operands).
`default_nettype none

module l1ml_sub #(
    parameter integer N = 1,
    parameter integer A_W = 8,
    parameter integer A_SIGNED = 1,
    parameter integer A_SHIFT = 0,
    parameter integer B_W = 8,
    parameter integer B_SIGNED = 1,
    parameter integer B_SHIFT = 0,
    parameter integer OUT_W = 9
) (
    input  wire [N*A_W-1:0]   a,
    input  wire [N*B_W-1:0]   b,
    output wire [N*OUT_W-1:0] y
);
    localparam integer WA = A_W + A_SHIFT;
    localparam integer WB = B_W + B_SHIFT;
    localparam integer W0 = WA > WB ? WA : WB;
    localparam integer W = (W0 > OUT_W ? W0 : OUT_W) + 2;  // > OUT_W: the high bits are sign copies

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [A_W-1:0] ai = a[i*A_W +: A_W];
            wire [B_W-1:0] bi = b[i*B_W +: B_W];
            wire sa = A_SIGNED != 0 ? ai[A_W-1] : 1'b0;
            wire sb = B_SIGNED != 0 ? bi[B_W-1] : 1'b0;
            wire [W-1:0] ae = {{(W - A_W){sa}}, ai};
            wire [W-1:0] be = {{(W - B_W){sb}}, bi};
            wire [W-1:0] d = (ae << A_SHIFT) - (be << B_SHIFT);
            assign y[i*OUT_W +: OUT_W] = d[OUT_W-1:0];
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_high = ^d[W-1:OUT_W];  // the exact difference fits OUT_W bits: sign copies
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
endmodule

`default_nettype wire
