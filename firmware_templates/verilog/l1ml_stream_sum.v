// l1ml_stream_sum: a sum accumulated over the steps of a stream. In each cycle the terms that the
// constant table MASK selects for step sel (bit i of entry sel gates term i; STEPS entries of N bits,
// entry 0 in the low bits) are added to the sum, which first restarts from zero:
//     sum <= (first ? 0 : sum) + sum_i MASK[sel][i] * terms[i].
// A sel of STEPS or more adds nothing, so the sum holds between streams. SEL_W must count to STEPS
// (2**SEL_W > STEPS). Terms are signed (IN_W bits, sign-extended to OUT_W, or cut to OUT_W when wider).
//
// A GNN SegmentSum of one segment and feature: the rows of the segment pass through the N lanes that
// hold them, one step after the other. Partial sums are modulo 2**OUT_W, exact for a final sum that fits
// OUT_W bits (the IR's accumulator type guarantees that). Output registered (latency 1 after the
// last step).
//
// Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_stream_sum #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer OUT_W = 9,
    parameter integer STEPS = 1,
    parameter integer SEL_W = 1,
    parameter [STEPS*N-1:0] MASK = 0
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
    wire [N*OUT_W-1:0] ext;
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_t
            wire [IN_W-1:0] t = terms[i*IN_W +: IN_W];
            if (OUT_W > IN_W) begin : g_ext
                assign ext[i*OUT_W +: OUT_W] = gate[i] ? {{(OUT_W - IN_W){t[IN_W-1]}}, t} : {OUT_W{1'b0}};
            end else begin : g_cut
                assign ext[i*OUT_W +: OUT_W] = gate[i] ? t[OUT_W-1:0] : {OUT_W{1'b0}};
                if (IN_W > OUT_W) begin : g_unused
                    /* verilator lint_off UNUSEDSIGNAL */
                    wire unused_high = ^t[IN_W-1:OUT_W];
                    /* verilator lint_on UNUSEDSIGNAL */
                end
            end
        end
    endgenerate
    reg [OUT_W-1:0] step_sum;
    integer k;
    always @(*) begin
        step_sum = {OUT_W{1'b0}};
        for (k = 0; k < N; k = k + 1) step_sum = step_sum + ext[k*OUT_W +: OUT_W];
    end
    always @(posedge clk) sum <= (first ? {OUT_W{1'b0}} : sum) + step_sum;
endmodule

`default_nettype wire
