// l1ml_add_shift_clip: the tail of a multiply requantiser (an l1ml Requant node, form "multiply"):
// y = clip((p + ADD) >>> SHIFT, LO, HI) for a product p = x * mult from l1ml_shift_add or l1ml_mult_const.
// The shift is arithmetic (floor), as l1ml.backends.emulate.requant_codes.
//
// The generator sizes every word from the exact ranges (l1ml/backends/requant_plan.py): SUM_W >= IN_W
// holds p + ADD, Q_W holds the shifted value, and a clip bound is compared only where the shifted value
// can pass it (CLIP_LO/CLIP_HI; LO and HI are then values of the Q_W-bit range). The clipped value is an
// output code: its low OUT_W bits (or its sign extension) are the output.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_requant_backends.py (inputs up to 40 bits, products beyond 64 bits).
`default_nettype none

module l1ml_add_shift_clip #(
    parameter integer IN_W = 16,
    parameter integer SUM_W = 17,
    parameter [SUM_W-1:0] ADD = 0,
    parameter integer SHIFT = 0,
    parameter integer Q_W = 17,
    parameter integer CLIP_LO = 0,
    parameter [Q_W-1:0] LO = 0,
    parameter integer CLIP_HI = 0,
    parameter [Q_W-1:0] HI = 0,
    parameter integer OUT_W = 8
) (
    input  wire [IN_W-1:0]  p,
    output wire [OUT_W-1:0] y
);
    wire [SUM_W-1:0] pe;
    generate
        if (SUM_W > IN_W) begin : g_ext
            assign pe = {{(SUM_W - IN_W){p[IN_W-1]}}, p};
        end else begin : g_same
            assign pe = p;
        end
    endgenerate
    wire signed [SUM_W-1:0] s = $signed(pe) + $signed(ADD);
    wire signed [SUM_W-1:0] sh = s >>> SHIFT;
    wire signed [Q_W-1:0] q = sh[Q_W-1:0];  // exact: Q_W holds every shifted value
    wire signed [Q_W-1:0] lo_c = (CLIP_LO != 0 && q < $signed(LO)) ? $signed(LO) : q;
    wire signed [Q_W-1:0] c = (CLIP_HI != 0 && lo_c > $signed(HI)) ? $signed(HI) : lo_c;

    generate
        if (Q_W < SUM_W) begin : g_cut_q
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_sh = ^sh[SUM_W-1:Q_W];  // sign copies: the shifted value fits Q_W bits
            /* verilator lint_on UNUSEDSIGNAL */
        end
        if (OUT_W > Q_W) begin : g_out_ext
            assign y = {{(OUT_W - Q_W){c[Q_W-1]}}, c};
        end else begin : g_out_cut
            assign y = c[OUT_W-1:0];
            if (OUT_W < Q_W) begin : g_unused
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_c = ^c[Q_W-1:OUT_W];  // the clipped value is an output code
                /* verilator lint_on UNUSEDSIGNAL */
            end
        end
    endgenerate
endmodule

`default_nettype wire
