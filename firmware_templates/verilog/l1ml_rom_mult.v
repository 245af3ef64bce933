// l1ml_rom_mult: p = x * CONSTS[sel], a shared multiplier whose constant operand comes from a small
// ROM (one entry per reuse phase, entry 0 in the low bits). The generator uses it for Dense layers
// with a reuse factor: each multiplier serves R weights, one per clock cycle.
//
// OUT_W holds the exact product of every entry; the multiply is done at full width and cut to OUT_W.
//
// Combinational. Reviewed against Python integer products by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_rom_mult #(
    parameter integer R = 2,
    parameter integer SEL_W = 1,
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer C_W = 8,
    parameter [R*C_W-1:0] CONSTS = 0,
    parameter integer OUT_W = 16
) (
    input  wire [IN_W-1:0]  x,
    input  wire [SEL_W-1:0] sel,
    output wire [OUT_W-1:0] p
);
    localparam integer PW = IN_W + 1 + C_W;
    wire [C_W-1:0] c;
    l1ml_mux #(.N(R), .W(C_W), .SEL_W(SEL_W)) u_rom (.words(CONSTS), .sel(sel), .y(c));

    wire ext = IN_SIGNED != 0 ? x[IN_W-1] : 1'b0;
    wire signed [PW-1:0] xs = {{(PW - IN_W){ext}}, x};
    wire signed [PW-1:0] cs = {{(PW - C_W){c[C_W-1]}}, c};
    (* use_dsp = "yes" *) wire signed [PW-1:0] full = xs * cs;

    generate
        if (OUT_W <= PW) begin : g_cut
            assign p = full[OUT_W-1:0];
            if (OUT_W < PW) begin : g_unused
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_high = ^full[PW-1:OUT_W];  // sign copies: every product fits OUT_W bits
                /* verilator lint_on UNUSEDSIGNAL */
            end
        end else begin : g_extend
            assign p = {{(OUT_W - PW){full[PW-1]}}, full};
        end
    endgenerate
endmodule

`default_nettype wire
