// l1ml_negate: y = -x (ABS = 0) or y = |x| (ABS = 1) on N codes, on the same grid.
//
// OUT_W holds the exact result (the IR's Neg/Abs types: -(-2**(W-1)) needs one more bit, the
// absolute value of a signed word fits its width unsigned). The input is sign-extended to a
// working width two bits wider than either, negated there and cut to OUT_W bits.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_verilog_elementwise.py (every code of small types, signed and unsigned).
`default_nettype none

module l1ml_negate #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer OUT_W = 9,
    parameter integer ABS = 0
) (
    input  wire [N*IN_W-1:0]  x,
    output wire [N*OUT_W-1:0] y
);
    localparam integer W = (IN_W > OUT_W ? IN_W : OUT_W) + 2;

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [IN_W-1:0] xi = x[i*IN_W +: IN_W];
            wire neg = IN_SIGNED != 0 ? xi[IN_W-1] : 1'b0;
            wire [W-1:0] xe = {{(W - IN_W){neg}}, xi};
            wire [W-1:0] r;
            if (ABS != 0) begin : g_abs
                assign r = neg ? -xe : xe;
            end else begin : g_neg
                assign r = -xe;
            end
            assign y[i*OUT_W +: OUT_W] = r[OUT_W-1:0];
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_high = ^r[W-1:OUT_W];  // the exact result fits OUT_W bits: sign copies
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
endmodule

`default_nettype wire
