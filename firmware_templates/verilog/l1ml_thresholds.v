// l1ml_thresholds: the comparator stage of a threshold requantiser (an l1ml Requant node, form
// "thresholds"): term k is WEIGHTS[k] when x >= T[k], else 0. An l1ml_adder_tree over the terms and a
// constant offset then gives out = offset + sum of the weights of the thresholds x reaches, which is
// l1ml.backends.emulate.requant_codes (l1ml/backends/requant_plan.py folds the thresholds outside the
// input range into the offset and merges repeated ones into one weight).
//
// T packs N thresholds of IN_W bits (the input's own signedness, term 0 in the low bits); WEIGHTS packs
// N signed TERM_W-bit weights (+1/-1 times a repeat count). Every comparison is against a constant.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_requant_backends.py (exhaustive inputs up to 12 bits, random wider ones).
`default_nettype none

module l1ml_thresholds #(
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer N = 1,
    parameter [N*IN_W-1:0] T = 0,
    parameter integer TERM_W = 2,
    parameter [N*TERM_W-1:0] WEIGHTS = 0
) (
    input  wire [IN_W-1:0]     x,
    output wire [N*TERM_W-1:0] terms
);
    genvar k;
    generate
        for (k = 0; k < N; k = k + 1) begin : g_cmp
            wire [IN_W-1:0] t = T[k*IN_W +: IN_W];
            wire ge;
            if (IN_SIGNED != 0) begin : g_signed
                assign ge = $signed(x) >= $signed(t);
            end else begin : g_unsigned
                assign ge = x >= t;
            end
            assign terms[k*TERM_W +: TERM_W] = ge ? WEIGHTS[k*TERM_W +: TERM_W] : {TERM_W{1'b0}};
        end
    endgenerate
endmodule

`default_nettype wire
