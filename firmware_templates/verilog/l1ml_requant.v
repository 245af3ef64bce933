// l1ml_requant: bring N fixed-point codes to a new type, exactly as l1ml/ir/quantize.py::requantize.
//
// SHIFT = source frac - destination frac. SHIFT > 0 drops SHIFT low bits and rounds by ROUNDING;
// SHIFT <= 0 appends -SHIFT zero bits. Then SAT = 1 clamps to the output type's range (NARROW = 1
// excludes the most negative signed / the largest unsigned code), SAT = 0 keeps the low OUT_W bits
// (two's-complement wrap). NARROW with SAT = 0 has no meaning in the IR and is refused by the generator.
//
// ROUNDING codes (l1ml.ir.types.Rounding):
//   0 TRUNC       floor
//   1 HALF_EVEN   nearest, ties to even
//   2 TRUNC_ZERO  toward zero
//   3 HALF_AWAY   nearest, ties away from zero
//   4 HALF_ZERO   nearest, ties toward zero
//
// Combinational. Reviewed against the Python model by tests/verify/test_primitives.py (exhaustive).
`default_nettype none

module l1ml_requant #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer OUT_W = 8,
    parameter integer OUT_SIGNED = 1,
    parameter integer SHIFT = 0,
    parameter integer ROUNDING = 0,
    parameter integer SAT = 0,
    parameter integer NARROW = 0
) (
    input  wire [N*IN_W-1:0]  x,
    output wire [N*OUT_W-1:0] y
);
    localparam integer RSHIFT = SHIFT > 0 ? SHIFT : 0;
    localparam integer LSHIFT = SHIFT < 0 ? -SHIFT : 0;
    // one signed working width holds the extended input, the rounded quotient (+1) and both clamp limits
    localparam integer W0 = IN_W + 2 + LSHIFT;
    localparam integer W1 = W0 > OUT_W + 2 ? W0 : OUT_W + 2;
    localparam integer W = W1 > RSHIFT + 2 ? W1 : RSHIFT + 2;
    localparam [W-1:0] ONE = {{(W-1){1'b0}}, 1'b1};
    localparam [W-1:0] NARROW_W = NARROW != 0 ? ONE : {W{1'b0}};
    // output range as W-bit two's-complement constants
    localparam [W-1:0] MAX_CODE = OUT_SIGNED != 0 ? (ONE << (OUT_W - 1)) - ONE : (ONE << OUT_W) - ONE - NARROW_W;
    localparam [W-1:0] MIN_CODE = OUT_SIGNED != 0 ? NARROW_W - (ONE << (OUT_W - 1)) : {W{1'b0}};

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [IN_W-1:0] xi = x[i*IN_W +: IN_W];
            wire ext = IN_SIGNED != 0 ? xi[IN_W-1] : 1'b0;
            wire signed [W-1:0] xe = {{(W - IN_W){ext}}, xi};
            wire signed [W-1:0] rounded;

            if (SHIFT <= 0) begin : g_widen
                assign rounded = xe <<< LSHIFT;
            end else begin : g_narrow
                wire signed [W-1:0] q = xe >>> RSHIFT;  // floor
                wire up;
                if (ROUNDING == 0) begin : g_trunc
                    assign up = 1'b0;
                end else begin : g_round
                    // remainder x - floor(x) * 2**SHIFT is the low SHIFT bits; half is its top bit
                    wire half_bit = xe[RSHIFT-1];
                    wire below;  // any bit under the half bit
                    if (RSHIFT > 1) begin : g_low
                        assign below = |xe[RSHIFT-2:0];
                    end else begin : g_nolow
                        assign below = 1'b0;
                    end
                    // round up when the remainder is above half, or exactly half and the mode says so;
                    // xe[W-1] is the sign
                    if (ROUNDING == 1) begin : g_half_even
                        assign up = half_bit & (below | q[0]);
                    end else if (ROUNDING == 2) begin : g_trunc_zero
                        assign up = xe[W-1] & (half_bit | below);
                    end else if (ROUNDING == 3) begin : g_half_away
                        assign up = half_bit & (below | ~xe[W-1]);
                    end else begin : g_half_zero
                        assign up = half_bit & (below | xe[W-1]);
                    end
                end
                assign rounded = q + {{(W-1){1'b0}}, up};
            end

            if (SAT != 0) begin : g_sat
                wire signed [W-1:0] lo = MIN_CODE;
                wire signed [W-1:0] hi = MAX_CODE;
                wire signed [W-1:0] clamped = rounded > hi ? hi : (rounded < lo ? lo : rounded);
                assign y[i*OUT_W +: OUT_W] = clamped[OUT_W-1:0];
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_high = ^clamped[W-1:OUT_W];  // in range after clamping: the high bits are sign copies
                /* verilator lint_on UNUSEDSIGNAL */
            end else begin : g_wrap
                assign y[i*OUT_W +: OUT_W] = rounded[OUT_W-1:0];
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_high = ^rounded[W-1:OUT_W];  // wrap keeps the low bits by definition
                /* verilator lint_on UNUSEDSIGNAL */
            end
        end
    endgenerate
endmodule

`default_nettype wire
