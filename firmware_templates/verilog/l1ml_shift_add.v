// l1ml_shift_add: p = x * c for a constant c written as a few signed powers of two (canonical signed
// digits): c = sum_k (NEGATE[k] ? -1 : +1) * 2**SHIFTS[k]. Costs N_TERMS - 1 adders and no DSP.
//
// OUT_W >= IN_W holds the exact product; the sum is computed modulo 2**OUT_W, which is exact for a
// result that fits. SHIFTS packs one 8-bit shift per term, term 0 in the low byte.
//
// Combinational. Reviewed against Python integer products by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_shift_add #(
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer OUT_W = 12,
    parameter integer N_TERMS = 1,
    parameter [8*N_TERMS-1:0] SHIFTS = 0,
    parameter [N_TERMS-1:0] NEGATE = 0
) (
    input  wire [IN_W-1:0]  x,
    output wire [OUT_W-1:0] p
);
    wire [OUT_W-1:0] xe;
    genvar k;
    generate
        if (OUT_W > IN_W) begin : g_ext
            wire ext = IN_SIGNED != 0 ? x[IN_W-1] : 1'b0;
            assign xe = {{(OUT_W - IN_W){ext}}, x};
        end else begin : g_same
            assign xe = x;
        end
        for (k = 0; k < N_TERMS; k = k + 1) begin : g_term
            wire [OUT_W-1:0] shifted = xe << SHIFTS[8*k +: 8];
            wire [OUT_W-1:0] acc;
            if (k == 0) begin : g_first
                assign acc = NEGATE[k] ? -shifted : shifted;
            end else begin : g_next
                assign acc = NEGATE[k] ? g_term[k-1].acc - shifted : g_term[k-1].acc + shifted;
            end
        end
    endgenerate
    assign p = g_term[N_TERMS-1].acc;
endmodule

`default_nettype wire
