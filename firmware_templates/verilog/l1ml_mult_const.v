// l1ml_mult_const: p = x * C with a multiplier, for constants whose shift-add form would need more
// adders than a DSP slice costs (the generator's rule is in l1ml/backends/verilog/arith.py).
//
// OUT_W holds the exact product; the multiply is done at full width and cut to OUT_W bits.
//
// Combinational. Reviewed against Python integer products by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_mult_const #(
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer C_W = 8,
    parameter signed [C_W-1:0] C = 0,
    parameter integer OUT_W = 16
) (
    input  wire [IN_W-1:0]  x,
    output wire [OUT_W-1:0] p
);
    localparam integer PW = IN_W + 1 + C_W;  // exact width of a signed (IN_W+1) x C_W product
    wire ext = IN_SIGNED != 0 ? x[IN_W-1] : 1'b0;
    wire signed [PW-1:0] xs = {{(PW - IN_W){ext}}, x};
    wire signed [PW-1:0] cs = {{(PW - C_W){C[C_W-1]}}, C};
    (* use_dsp = "yes" *) wire signed [PW-1:0] full = xs * cs;

    generate
        if (OUT_W <= PW) begin : g_cut
            assign p = full[OUT_W-1:0];
            if (OUT_W < PW) begin : g_unused
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_high = ^full[PW-1:OUT_W];  // sign copies: the product fits OUT_W bits
                /* verilator lint_on UNUSEDSIGNAL */
            end
        end else begin : g_extend
            assign p = {{(OUT_W - PW){full[PW-1]}}, full};
        end
    endgenerate
endmodule

`default_nettype wire
