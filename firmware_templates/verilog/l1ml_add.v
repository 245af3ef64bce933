// l1ml_add: elementwise y = a * 2**A_SHIFT + b * 2**B_SHIFT on N code pairs (the shifts align both
// operands to the output grid). OUT_W holds the exact sum (l1ml add_type), so nothing rounds or wraps.
//
// Combinational. Reviewed against Python sums by tests/verify/test_primitives.py (exhaustive).
`default_nettype none

module l1ml_add #(
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
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [A_W-1:0] ai = a[i*A_W +: A_W];
            wire [B_W-1:0] bi = b[i*B_W +: B_W];
            wire [OUT_W-1:0] ae;
            wire [OUT_W-1:0] be;
            if (OUT_W > A_W) begin : g_ext_a
                wire sa = A_SIGNED != 0 ? ai[A_W-1] : 1'b0;
                assign ae = {{(OUT_W - A_W){sa}}, ai};
            end else begin : g_same_a
                assign ae = ai;
            end
            if (OUT_W > B_W) begin : g_ext_b
                wire sb = B_SIGNED != 0 ? bi[B_W-1] : 1'b0;
                assign be = {{(OUT_W - B_W){sb}}, bi};
            end else begin : g_same_b
                assign be = bi;
            end
            assign y[i*OUT_W +: OUT_W] = (ae << A_SHIFT) + (be << B_SHIFT);
        end
    endgenerate
endmodule

`default_nettype wire
