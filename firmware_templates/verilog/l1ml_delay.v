// l1ml_delay: a W-bit value delayed by DEPTH clock cycles (DEPTH = 0 is a wire). Data registers have
// no reset: the valid line (l1ml_valid_delay) says when they hold a value.
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_delay #(
    parameter integer W = 1,
    parameter integer DEPTH = 1
) (
    input  wire         clk,
    input  wire [W-1:0] d,
    output wire [W-1:0] q
);
    generate
        if (DEPTH == 0) begin : g_wire
            assign q = d;
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_clk = clk;  // nothing to clock
            /* verilator lint_on UNUSEDSIGNAL */
        end else begin : g_regs
            reg [W-1:0] r [0:DEPTH-1];
            integer k;
            always @(posedge clk) begin
                r[0] <= d;
                for (k = 1; k < DEPTH; k = k + 1) r[k] <= r[k-1];
            end
            assign q = r[DEPTH-1];
        end
    endgenerate
endmodule

`default_nettype wire
