// l1ml_reuse_ctrl: the phase counter of a Dense layer that reuses each multiplier R times.
//
// A start pulse (the layer's input is valid) begins R phases on the following cycles: phase counts
// 0 .. R-1 while busy, first marks phase 0 and last marks phase R-1. A new start may come on the
// cycle of the last phase at the earliest, so the layer accepts one input every R cycles (II = R).
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_reuse_ctrl #(
    parameter integer R = 2,
    parameter integer SEL_W = 1
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             start,
    output wire [SEL_W-1:0] phase,
    output wire             first,
    output wire             last
);
    localparam integer LAST = R - 1;
    localparam [SEL_W-1:0] LAST_PHASE = LAST[SEL_W-1:0];
    reg [SEL_W-1:0] count;
    reg busy;
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            count <= {SEL_W{1'b0}};
        end else if (start) begin
            busy <= 1'b1;
            count <= {SEL_W{1'b0}};
        end else if (busy) begin
            busy <= count != LAST_PHASE;
            count <= count + 1'b1;
        end
    end
    assign phase = count;
    assign first = busy && count == {SEL_W{1'b0}};
    assign last = busy && count == LAST_PHASE;
endmodule

`default_nettype wire
