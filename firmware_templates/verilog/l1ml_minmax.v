// l1ml_minmax: elementwise y = max(a * 2**A_SHIFT, b * 2**B_SHIFT) (MIN = 0) or the minimum (MIN = 1)
// on N code pairs; the shifts bring both operands to the output grid.
//
// Both operands are extended to a signed working width that holds them, compared there (a signed
// compare, so unsigned and signed operands mix) and the winner cut to OUT_W bits: the IR's Max/Min
// type holds every value the winner can take, though not necessarily the loser's.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_verilog_elementwise.py (extreme and random codes, signed and unsigned operands).
`default_nettype none

module l1ml_minmax #(
    parameter integer N = 1,
    parameter integer A_W = 8,
    parameter integer A_SIGNED = 1,
    parameter integer A_SHIFT = 0,
    parameter integer B_W = 8,
    parameter integer B_SIGNED = 1,
    parameter integer B_SHIFT = 0,
    parameter integer OUT_W = 8,
    parameter integer MIN = 0
) (
    input  wire [N*A_W-1:0]   a,
    input  wire [N*B_W-1:0]   b,
    output wire [N*OUT_W-1:0] y
);
    localparam integer WA = A_W + A_SHIFT;
    localparam integer WB = B_W + B_SHIFT;
    localparam integer W0 = WA > WB ? WA : WB;
    localparam integer W = (W0 > OUT_W ? W0 : OUT_W) + 1;

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [A_W-1:0] ai = a[i*A_W +: A_W];
            wire [B_W-1:0] bi = b[i*B_W +: B_W];
            wire sa = A_SIGNED != 0 ? ai[A_W-1] : 1'b0;
            wire sb = B_SIGNED != 0 ? bi[B_W-1] : 1'b0;
            wire [W-1:0] ae0 = {{(W - A_W){sa}}, ai};
            wire [W-1:0] be0 = {{(W - B_W){sb}}, bi};
            wire signed [W-1:0] ae = ae0 << A_SHIFT;
            wire signed [W-1:0] be = be0 << B_SHIFT;
            wire b_wins = MIN != 0 ? be < ae : be > ae;
            wire [W-1:0] r = b_wins ? be : ae;
            assign y[i*OUT_W +: OUT_W] = r[OUT_W-1:0];
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_high = ^r[W-1:OUT_W];  // the winner fits OUT_W bits: sign copies
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
endmodule

`default_nettype wire
