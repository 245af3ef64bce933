// l1ml_relu: max(x, 0) on N codes; the output type is unsigned on the same grid (l1ml relu_type).
//
// OUT_W is the unsigned width of the result. A non-negative input fits OUT_W bits by the IR's type
// rules, so input bits above OUT_W are zero whenever the result is not forced to 0.
//
// Combinational. Reviewed against numpy by tests/verify/test_primitives.py (exhaustive).
`default_nettype none

module l1ml_relu #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer OUT_W = 7
) (
    input  wire [N*IN_W-1:0]  x,
    output wire [N*OUT_W-1:0] y
);
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [IN_W-1:0] xi = x[i*IN_W +: IN_W];
            wire neg = IN_SIGNED != 0 ? xi[IN_W-1] : 1'b0;
            wire [OUT_W-1:0] mag;
            if (OUT_W >= IN_W) begin : g_extend
                if (OUT_W > IN_W) begin : g_pad
                    assign mag = {{(OUT_W - IN_W){1'b0}}, xi};
                end else begin : g_same
                    assign mag = xi;
                end
            end else begin : g_cut
                assign mag = xi[OUT_W-1:0];
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_high = ^xi[IN_W-1:OUT_W];  // zero for every non-negative value of the input type
                /* verilator lint_on UNUSEDSIGNAL */
            end
            assign y[i*OUT_W +: OUT_W] = neg ? {OUT_W{1'b0}} : mag;
        end
    endgenerate
endmodule

`default_nettype wire
