// l1ml_valid_delay: the valid bit delayed by DEPTH clock cycles, cleared by a synchronous reset so
// that no stale word is ever flagged valid after reset.
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_valid_delay #(
    parameter integer DEPTH = 1
) (
    input  wire clk,
    input  wire rst,
    input  wire d,
    output wire q
);
    generate
        if (DEPTH == 0) begin : g_wire
            assign q = d;
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_clk_rst = clk ^ rst;  // nothing to clock or reset
            /* verilator lint_on UNUSEDSIGNAL */
        end else if (DEPTH == 1) begin : g_one
            reg r;
            always @(posedge clk) r <= rst ? 1'b0 : d;
            assign q = r;
        end else begin : g_regs
            reg [DEPTH-1:0] r;
            always @(posedge clk) r <= rst ? {DEPTH{1'b0}} : {r[DEPTH-2:0], d};
            assign q = r[DEPTH-1];
        end
    endgenerate
endmodule

`default_nettype wire
