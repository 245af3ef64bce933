// l1ml_adder_tree: sum of N signed terms as a balanced binary tree, with optional pipeline registers.
//
// Level 0 holds the terms; level l holds ceil(N / 2**l) partial sums of IN_W + l bits (capped at
// OUT_W); the last level is the sum. REG_MASK bit l puts a register after level l (bit 0 registers
// the terms), so the latency is the number of set bits at or below clog2(N). A level with an odd
// count passes its last value through (registered like the rest, so every path has equal latency).
//
// Partial sums are exact until they reach OUT_W bits; from there they are computed modulo 2**OUT_W,
// which is exact for a final sum that fits OUT_W bits (the IR's accumulator type guarantees that).
//
// Reviewed against Python sums by tests/verify/test_primitives.py (random terms, several masks).
`default_nettype none

module l1ml_adder_tree #(
    parameter integer N = 2,
    parameter integer IN_W = 8,
    parameter integer OUT_W = 9,
    parameter [31:0] REG_MASK = 0
) (
    input  wire              clk,
    input  wire [N*IN_W-1:0] terms,
    output wire [OUT_W-1:0]  sum
);
    function automatic integer clog2(input integer v);
        integer k;
        begin
            clog2 = 0;
            for (k = 1; k < v; k = k * 2) clog2 = clog2 + 1;
        end
    endfunction

    function automatic integer level_width(input integer level);
        level_width = IN_W + level < OUT_W ? IN_W + level : OUT_W;
    endfunction

    localparam integer DEPTH = clog2(N);

    genvar l, i;
    generate
        for (l = 0; l <= DEPTH; l = l + 1) begin : g_level
            localparam integer NL = (N + (1 << l) - 1) >> l;
            localparam integer WL = level_width(l);
            wire [NL*WL-1:0] comb;
            wire [NL*WL-1:0] v;

            if (l == 0) begin : g_terms
                for (i = 0; i < N; i = i + 1) begin : g_t
                    if (WL == IN_W) begin : g_same
                        assign comb[i*WL +: WL] = terms[i*IN_W +: IN_W];
                    end else begin : g_cut
                        // terms wider than the sum: modulo 2**OUT_W from the start
                        assign comb[i*WL +: WL] = terms[i*IN_W +: WL];
                        /* verilator lint_off UNUSEDSIGNAL */
                        wire unused_high = ^terms[i*IN_W+WL +: IN_W-WL];
                        /* verilator lint_on UNUSEDSIGNAL */
                    end
                end
            end else begin : g_sums
                localparam integer NP = (N + (1 << (l - 1)) - 1) >> (l - 1);
                localparam integer WP = level_width(l - 1);
                for (i = 0; i < NL; i = i + 1) begin : g_s
                    wire [WP-1:0] a = g_level[l-1].v[(2*i)*WP +: WP];
                    wire [WL-1:0] ae;
                    if (WL > WP) begin : g_ext_a
                        assign ae = {{(WL - WP){a[WP-1]}}, a};
                    end else begin : g_keep_a
                        assign ae = a;
                    end
                    if (2 * i + 1 < NP) begin : g_pair
                        wire [WP-1:0] b = g_level[l-1].v[(2*i+1)*WP +: WP];
                        wire [WL-1:0] be;
                        if (WL > WP) begin : g_ext_b
                            assign be = {{(WL - WP){b[WP-1]}}, b};
                        end else begin : g_keep_b
                            assign be = b;
                        end
                        assign comb[i*WL +: WL] = ae + be;
                    end else begin : g_pass
                        assign comb[i*WL +: WL] = ae;
                    end
                end
            end

            if (REG_MASK[l]) begin : g_reg
                reg [NL*WL-1:0] r;
                always @(posedge clk) r <= comb;
                assign v = r;
            end else begin : g_wire
                assign v = comb;
            end
        end
    endgenerate

    localparam integer WD = level_width(DEPTH);
    generate
        if (REG_MASK[DEPTH:0] == 0) begin : g_comb
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_clk = clk;  // a purely combinational tree ignores the clock
            /* verilator lint_on UNUSEDSIGNAL */
        end
        if (OUT_W > WD) begin : g_out_ext
            wire [WD-1:0] top = g_level[DEPTH].v;
            assign sum = {{(OUT_W - WD){top[WD-1]}}, top};
        end else begin : g_out
            assign sum = g_level[DEPTH].v;
        end
    endgenerate
endmodule

`default_nettype wire
