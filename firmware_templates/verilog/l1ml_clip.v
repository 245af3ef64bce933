// l1ml_clip: y = min(max(x * 2**SHIFT, LO), HI) on N codes, LO and HI constant codes on the output
// grid (HAS_LO / HAS_HI = 0 leaves that side unbounded).
//
// The input is extended to a signed working width that holds it and both bounds, compared with the
// bounds there and the result cut to OUT_W bits (the IR's Clip type holds every clipped value).
//
// Combinational. Checked against the emulator inside generated designs by
// tests/backends/test_verilog_elementwise.py (every code of small types, one- and two-sided bounds).
`default_nettype none

module l1ml_clip #(
    parameter integer N = 1,
    parameter integer IN_W = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer SHIFT = 0,
    parameter integer OUT_W = 8,
    parameter integer C_W = 8,
    parameter integer HAS_LO = 1,
    parameter signed [C_W-1:0] LO = 0,
    parameter integer HAS_HI = 1,
    parameter signed [C_W-1:0] HI = 0
) (
    input  wire [N*IN_W-1:0]  x,
    output wire [N*OUT_W-1:0] y
);
    localparam integer W0 = IN_W + SHIFT > C_W ? IN_W + SHIFT : C_W;
    localparam integer W = (W0 > OUT_W ? W0 : OUT_W) + 1;
    localparam signed [W-1:0] LO_W = {{(W - C_W){LO[C_W-1]}}, LO};
    localparam signed [W-1:0] HI_W = {{(W - C_W){HI[C_W-1]}}, HI};

    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_elem
            wire [IN_W-1:0] xi = x[i*IN_W +: IN_W];
            wire s = IN_SIGNED != 0 ? xi[IN_W-1] : 1'b0;
            wire [W-1:0] xe0 = {{(W - IN_W){s}}, xi};
            wire signed [W-1:0] xe = xe0 << SHIFT;
            wire signed [W-1:0] lo_c;
            wire signed [W-1:0] r;
            if (HAS_LO != 0) begin : g_lo
                assign lo_c = xe < LO_W ? LO_W : xe;
            end else begin : g_no_lo
                assign lo_c = xe;
            end
            if (HAS_HI != 0) begin : g_hi
                assign r = lo_c > HI_W ? HI_W : lo_c;
            end else begin : g_no_hi
                assign r = lo_c;
            end
            assign y[i*OUT_W +: OUT_W] = r[OUT_W-1:0];
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_high = ^r[W-1:OUT_W];  // the clipped value fits OUT_W bits: sign copies
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
endmodule

`default_nettype wire
