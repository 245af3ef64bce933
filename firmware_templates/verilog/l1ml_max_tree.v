// l1ml_max_tree: the largest of N codes as a balanced binary tree of compare-and-select stages,
// with optional pipeline registers (max pooling).
//
// Level 0 holds the inputs; level l holds ceil(N / 2**l) running maxima, all W bits wide (a maximum
// never needs more bits than its operands). SIGNED selects a two's-complement or unsigned compare.
// REG_MASK bit l puts a register after level l (bit 0 registers the inputs), as in l1ml_adder_tree,
// so the latency is the number of set bits at or below clog2(N). A level with an odd count passes its
// last value through (registered like the rest, so every path has equal latency).
//
// Checked against the emulator inside generated designs by tests/backends/test_verilog_conv.py
// (signed and unsigned codes, padded windows, several register plans).
`default_nettype none

module l1ml_max_tree #(
    parameter integer N = 2,
    parameter integer W = 8,
    parameter integer SIGNED = 1,
    parameter [31:0] REG_MASK = 0
) (
    input  wire           clk,
    input  wire [N*W-1:0] x,
    output wire [W-1:0]   y
);
    function automatic integer clog2(input integer v);
        integer k;
        begin
            clog2 = 0;
            for (k = 1; k < v; k = k * 2) clog2 = clog2 + 1;
        end
    endfunction

    localparam integer DEPTH = clog2(N);

    genvar l, i;
    generate
        for (l = 0; l <= DEPTH; l = l + 1) begin : g_level
            localparam integer NL = (N + (1 << l) - 1) >> l;
            wire [NL*W-1:0] comb;
            wire [NL*W-1:0] v;

            if (l == 0) begin : g_in
                assign comb = x;
            end else begin : g_max
                localparam integer NP = (N + (1 << (l - 1)) - 1) >> (l - 1);
                for (i = 0; i < NL; i = i + 1) begin : g_m
                    wire [W-1:0] a = g_level[l-1].v[(2*i)*W +: W];
                    if (2 * i + 1 < NP) begin : g_pair
                        wire [W-1:0] b = g_level[l-1].v[(2*i+1)*W +: W];
                        wire b_wins;
                        if (SIGNED != 0) begin : g_signed
                            assign b_wins = $signed(b) > $signed(a);
                        end else begin : g_unsigned
                            assign b_wins = b > a;
                        end
                        assign comb[i*W +: W] = b_wins ? b : a;
                    end else begin : g_pass
                        assign comb[i*W +: W] = a;
                    end
                end
            end

            if (REG_MASK[l]) begin : g_reg
                reg [NL*W-1:0] r;
                always @(posedge clk) r <= comb;
                assign v = r;
            end else begin : g_wire
                assign v = comb;
            end
        end
    endgenerate

    generate
        if (REG_MASK[DEPTH:0] == 0) begin : g_comb
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_clk = clk;  // a purely combinational tree ignores the clock
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
    assign y = g_level[DEPTH].v;
endmodule

`default_nettype wire
