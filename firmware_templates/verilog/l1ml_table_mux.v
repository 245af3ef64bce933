// l1ml_table_mux: one of N W-bit words (word 0 in the low bits), picked by a constant table indexed by
// the step counter sel: y = words[TABLE[sel]]. TABLE holds STEPS entries of IDX_W bits, entry 0 in the
// low bits; every entry must be < N. A sel of STEPS or more gives word 0.
//
// A GNN lane's input row multiplexer: the table maps each step to the (hold stage, source row) word the
// lane reads then, so a word read at several steps is one mux input. Indexed (not a priority chain) so
// that synthesis builds LUT6 4:1 muxes. SEL_W must count to STEPS (2**SEL_W > STEPS).
//
// Combinational. Reviewed by tests/verify/test_primitives.py.
`default_nettype none

module l1ml_table_mux #(
    parameter integer N = 2,
    parameter integer W = 1,
    parameter integer STEPS = 2,
    parameter integer SEL_W = 2,
    parameter integer IDX_W = 1,
    parameter [STEPS*IDX_W-1:0] TABLE = 0
) (
    input  wire [N*W-1:0]   words,
    input  wire [SEL_W-1:0] sel,
    output wire [W-1:0]     y
);
    localparam integer NSEL = 1 << SEL_W;
    localparam integer NIDX = 1 << IDX_W;
    // the table padded to every sel value (entries past STEPS pick word 0)
    localparam [NSEL*IDX_W-1:0] FULL = {{((NSEL - STEPS) * IDX_W){1'b0}}, TABLE};
    wire [IDX_W-1:0] idx = FULL[sel*IDX_W +: IDX_W];
    wire [NIDX*W-1:0] padded;
    generate
        if (NIDX > N) begin : g_pad
            assign padded = {{((NIDX - N) * W){1'b0}}, words};
        end else begin : g_full
            assign padded = words;
        end
    endgenerate
    assign y = padded[idx*W +: W];
endmodule

`default_nettype wire
