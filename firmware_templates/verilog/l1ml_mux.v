// l1ml_mux: one of N W-bit words, picked by sel (word 0 in the low bits); sel >= N gives word 0.
// SEL_W must be wide enough to count to N - 1.
//
// Combinational. Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_mux #(
    parameter integer N = 2,
    parameter integer W = 1,
    parameter integer SEL_W = 1
) (
    input  wire [N*W-1:0]   words,
    input  wire [SEL_W-1:0] sel,
    output reg  [W-1:0]     y
);
    integer k;
    always @(*) begin
        y = words[W-1:0];
        for (k = 1; k < N; k = k + 1) begin
            if (sel == k[SEL_W-1:0]) y = words[k*W +: W];
        end
    end
endmodule

`default_nettype wire
