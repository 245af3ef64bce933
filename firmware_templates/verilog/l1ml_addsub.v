// l1ml_addsub: one adder of a constant-matrix multiplication (l1ml/backends/verilog/cmm.py):
//   OP = 0: y = a + (b << SHIFT)    OP = 1: y = a - (b << SHIFT)    OP = 2: y = (b << SHIFT) - a
// on signed two's-complement words. OUT_W holds the exact result, so the sum is formed modulo
// 2**OUT_W: operands are sign-extended or cut to OUT_W bits, which wraps nothing the result needs.
// For OP 0 and 1 the SHIFT low bits of y are a's own bits and only the OUT_W - SHIFT bits above them
// are a carry chain. The chain's result is marked keep so that synthesis maps each adder to its own
// carry chain instead of merging a chain of them into one carry-save tree of LUTs (more LUTs on
// UltraScale+, measured with Yosys in docs/verilog.md).
// KONST = 1 (2) makes a (b) the constant K, a parameter, and ignores that port: a bias or a negation's
// zero is then known inside the module, so synthesis that keeps the hierarchy folds it into the carry
// chain (an inverter per one bit) instead of spending a LUT per bit on a port it cannot see through.
// K is a 32-bit integer: the renderer uses the port form for wider constants.
//
// Combinational. Reviewed by tests/verify/test_primitives.py (every operand pair of small widths, all
// three operations, shifts 0 to 3) and checked inside generated designs against the emulator.
`default_nettype none

module l1ml_addsub #(
    parameter integer A_W = 8,
    parameter integer B_W = 8,
    parameter integer SHIFT = 0,
    parameter integer OP = 0,
    parameter integer OUT_W = 9,
    parameter integer KONST = 0,
    parameter integer K = 0
) (
    input  wire [A_W-1:0]   a,
    input  wire [B_W-1:0]   b,
    output wire [OUT_W-1:0] y
);
    localparam integer H = OUT_W - SHIFT;  // the carry chain of OP 0 and 1 (SHIFT < OUT_W)
    localparam integer XW = (A_W > OUT_W ? A_W : OUT_W) + 1;  // a and b sign-extended past OUT_W
    localparam integer BW = (B_W > H ? B_W : H) + 1;

    localparam [31:0] KBITS = K;
    wire [A_W-1:0] av;
    wire [B_W-1:0] bv;
    /* verilator lint_off UNUSEDSIGNAL */
    generate
        if (KONST == 1) begin : g_ka
            assign av = KBITS[A_W-1:0];
            assign bv = b;
            wire unused_port = ^a;
        end else if (KONST == 2) begin : g_kb
            assign av = a;
            assign bv = KBITS[B_W-1:0];
            wire unused_port = ^b;
        end else begin : g_ports
            assign av = a;
            assign bv = b;
        end
    endgenerate
    wire [XW-1:0] ax = {{(XW - A_W){av[A_W-1]}}, av};
    wire [BW-1:0] bx = {{(BW - B_W){bv[B_W-1]}}, bv};
    wire unused_high = ^{ax[XW-1:OUT_W], bx[BW-1:H]};  // only the low OUT_W (H) bits take part
    wire unused_kbits = ^KBITS;
    /* verilator lint_on UNUSEDSIGNAL */

    generate
        if (OP == 2) begin : g_rsub
            (* keep *) wire [OUT_W-1:0] r;
            if (SHIFT == 0) begin : g_noshift
                assign r = bx[OUT_W-1:0] - ax[OUT_W-1:0];
            end else begin : g_shift
                assign r = {bx[H-1:0], {SHIFT{1'b0}}} - ax[OUT_W-1:0];
            end
            assign y = r;
        end else begin : g_addsub
            (* keep *) wire [H-1:0] r;
            if (OP == 1) begin : g_sub
                assign r = ax[OUT_W-1:SHIFT] - bx[H-1:0];
            end else begin : g_add
                assign r = ax[OUT_W-1:SHIFT] + bx[H-1:0];
            end
            if (SHIFT == 0) begin : g_noshift
                assign y = r;
            end else begin : g_shift
                assign y = {r, ax[SHIFT-1:0]};
            end
        end
    endgenerate
endmodule

`default_nettype wire
