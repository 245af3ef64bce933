// l1ml_hold: a W-bit register loaded when en is high and held otherwise (a reuse layer's input, kept
// for the R phases that read it).
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_hold #(
    parameter integer W = 1
) (
    input  wire         clk,
    input  wire         en,
    input  wire [W-1:0] d,
    output reg  [W-1:0] q
);
    always @(posedge clk) begin
        if (en) q <= d;
    end
endmodule

`default_nettype wire
