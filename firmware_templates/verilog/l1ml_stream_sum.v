// l1ml_stream_sum: a sum accumulated over the steps of a stream. In each cycle the terms that the
// constant table MASK selects for step sel (bit i of entry sel gates term i; STEPS entries of N bits,
// entry 0 in the low bits) are summed by an l1ml_adder_tree, and the accumulator adds that step sum:
//     step_sum(t) = sum_i MASK[sel(t)][i] * terms(t)[i]
//     sum <= (first ? 0 : sum) + step_sum(t - LAT)
// where LAT, the registers between the gate and the accumulator, is the number of set bits of
// TREE_MASK at or below clog2(N) (the tree's own registers, bit 0 registering the gated terms) plus
// EXTRA (registers after the tree, so that a smaller tree lines up with the deepest one of its
// SegmentSum). `first` marks step 0's sum at the accumulator, i.e. it is the step counter's first flag
// delayed by LAT cycles. A sel of STEPS or more adds nothing, so the sum holds between streams. SEL_W must
// count to STEPS (2**SEL_W > STEPS). Terms are signed IN_W-bit words; the tree widens them up to OUT_W.
//
// A GNN SegmentSum of one segment and feature: the rows of the segment pass through the N lanes that
// hold them, one step after the other. Partial sums are modulo 2**OUT_W, exact for a final sum that fits
// OUT_W bits (the IR's accumulator type guarantees that). Output registered: valid LAT + 1 cycles
// after the last step.
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_stream_sum #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer OUT_W = 9,
    parameter integer STEPS = 1,
    parameter integer SEL_W = 1,
    parameter [STEPS*N-1:0] MASK = 0,
    parameter [31:0] TREE_MASK = 0,
    parameter integer EXTRA = 0
) (
    input  wire              clk,
    input  wire              first,
    input  wire [SEL_W-1:0]  sel,
    input  wire [N*IN_W-1:0] terms,
    output reg  [OUT_W-1:0]  sum
);
    localparam integer NSEL = 1 << SEL_W;
    localparam [NSEL*N-1:0] FULL = {{((NSEL - STEPS) * N){1'b0}}, MASK};
    wire [N-1:0] gate = FULL[sel*N +: N];
    wire [N*IN_W-1:0] gated;
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_t
            assign gated[i*IN_W +: IN_W] = gate[i] ? terms[i*IN_W +: IN_W] : {IN_W{1'b0}};
        end
    endgenerate
    wire [OUT_W-1:0] tree_sum, step_sum;
    l1ml_adder_tree #(.N(N), .IN_W(IN_W), .OUT_W(OUT_W), .REG_MASK(TREE_MASK)) u_tree (
        .clk(clk), .terms(gated), .sum(tree_sum)
    );
    l1ml_delay #(.W(OUT_W), .DEPTH(EXTRA)) u_extra (.clk(clk), .d(tree_sum), .q(step_sum));
    always @(posedge clk) sum <= (first ? {OUT_W{1'b0}} : sum) + step_sum;
endmodule

`default_nettype wire
