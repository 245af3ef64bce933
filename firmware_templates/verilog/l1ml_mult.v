// l1ml_mult: elementwise y = a * b on N code pairs (products of two computed tensors, squares).
//
// Each operand is extended by one bit (a zero for unsigned codes) and multiplied as signed numbers,
// which is exact at A_W + B_W + 2 bits; OUT_W (the IR's exact product type) takes the low bits or a
// sign extension. Synthesis maps wide products to DSP slices and narrow ones to LUTs.
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_verilog_elementwise.py (extreme and random codes, signed and unsigned operands).
`default_nettype none

module l1ml_mult #(
    parameter integer N = 1,
    parameter integer A_W = 8,
    parameter integer A_SIGNED = 1,
    parameter integer B_W = 8,
    parameter integer B_SIGNED = 1,
    parameter integer OUT_W = 16
) (
    input  wire [N*A_W-1:0]   a,
    input  wire [N*B_W-1:0]   b,
    output wire [N*OUT_W-1:0] y
);
    localparam integer PW = A_W + B_W + 2;

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [A_W-1:0] ai = a[i*A_W +: A_W];
            wire [B_W-1:0] bi = b[i*B_W +: B_W];
            wire sa = A_SIGNED != 0 ? ai[A_W-1] : 1'b0;
            wire sb = B_SIGNED != 0 ? bi[B_W-1] : 1'b0;
            wire signed [PW-1:0] ae = {{(PW - A_W){sa}}, ai};
            wire signed [PW-1:0] be = {{(PW - B_W){sb}}, bi};
            wire signed [PW-1:0] full = ae * be;
            if (OUT_W <= PW) begin : g_cut
                assign y[i*OUT_W +: OUT_W] = full[OUT_W-1:0];
                if (OUT_W < PW) begin : g_unused
                    /* verilator lint_off UNUSEDSIGNAL */
                    wire unused_high = ^full[PW-1:OUT_W];  // the product fits OUT_W bits: sign copies
                    /* verilator lint_on UNUSEDSIGNAL */
                end
            end else begin : g_extend
                assign y[i*OUT_W +: OUT_W] = {{(OUT_W - PW){full[PW-1]}}, full};
            end
        end
    endgenerate
endmodule

`default_nettype wire
