// l1ml_accum: the accumulator of a reuse Dense neuron. Each phase adds that phase's partial sum s;
// phase 0 (first) starts from the bias BIAS, and on the last phase the total goes to y, which holds
// it until the next input's last phase. Arithmetic is modulo 2**W, exact for a total that fits W.
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_accum #(
    parameter integer W = 16,
    parameter [W-1:0] BIAS = 0
) (
    input  wire         clk,
    input  wire         first,
    input  wire         last,
    input  wire [W-1:0] s,
    output reg  [W-1:0] y
);
    reg [W-1:0] acc;
    wire [W-1:0] total = (first ? BIAS : acc) + s;
    always @(posedge clk) begin
        acc <= total;
        if (last) y <= total;
    end
endmodule

`default_nettype wire
