// l1ml extension layers for elementwise integer arithmetic and reductions (hls4ml io_parallel).
//
// Every array is a flattened tensor in row-major order. Every type is chosen by l1ml so that each
// assignment below is exact: ap_fixed's +, -, * and unary - return a type that holds the exact result,
// its comparisons are exact across types, and each result type (res_T, accum_t) is the IR's exact type,
// which holds every value it is given: nothing rounds, saturates or wraps.
//
// Broadcasting (numpy's, over the non-batch shape) is a compile-time index table per operand, a static
// member function of the layer's config struct: the loops are unrolled, so each table folds into wiring.
// The slice and the concatenation along any axis reuse l1ml_gather and l1ml_concatN of nnet_l1ml_gnn.h.
#ifndef NNET_L1ML_ELEMENTWISE_H_
#define NNET_L1ML_ELEMENTWISE_H_

#include "nnet_common.h"

namespace nnet {

// the operation of a binary layer (config field `op`)
static const int l1ml_op_add = 0;
static const int l1ml_op_sub = 1;
static const int l1ml_op_mul = 2;
static const int l1ml_op_max = 3;
static const int l1ml_op_min = 4;

// the operation of a unary layer
static const int l1ml_op_neg = 0;
static const int l1ml_op_abs = 1;
static const int l1ml_op_square = 2;
static const int l1ml_op_clip = 3;

// a op b, exact: the sum, difference and product types of ap_fixed hold every result, and res_T (the IR's
// type) holds the result and, for max/min, the larger (smaller) operand. `op` is a compile-time
// constant, so only one branch is synthesised.
template <class a_T, class b_T, class res_T, int op> res_T l1ml_binary_apply(const a_T a, const b_T b) {
    #pragma HLS INLINE
    res_T y;
    if (op == l1ml_op_add) {
        y = a + b;
    } else if (op == l1ml_op_sub) {
        y = a - b;
    } else if (op == l1ml_op_mul) {
        y = a * b;
    } else if (op == l1ml_op_max) {
        if (a > b)
            y = a;
        else
            y = b;
    } else {
        if (a < b)
            y = a;
        else
            y = b;
    }
    return y;
}

struct l1ml_binary_config {
    static const unsigned n_out = 1;
    static const unsigned n_in0 = 1;
    static const unsigned n_in1 = 1;
    static const int op = l1ml_op_add;
    static unsigned index0(unsigned i) { return i; } // the element of input 0 that output i reads
    static unsigned index1(unsigned i) { return i; }
};

// y[i] = x0[index0(i)] op x1[index1(i)]: two computed tensors of different (broadcast) shapes.
template <class in0_T, class in1_T, class res_T, typename CONFIG_T>
void l1ml_binary(const in0_T x0[CONFIG_T::n_in0], const in1_T x1[CONFIG_T::n_in1], res_T y[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE
BinaryElem:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS UNROLL
        y[i] = l1ml_binary_apply<in0_T, in1_T, res_T, CONFIG_T::op>(x0[CONFIG_T::index0(i)], x1[CONFIG_T::index1(i)]);
    }
}

struct l1ml_binary_const_config {
    static const unsigned n_out = 1;
    static const unsigned n_in = 1;
    static const unsigned n_const = 1;
    static const int op = l1ml_op_add;
    static const bool const_first = false; // c op x instead of x op c (matters for a subtraction)
    typedef float const_t;
    static unsigned index_x(unsigned i) { return i; }
    static unsigned index_c(unsigned i) { return i; }
};

// y[i] = x[index_x(i)] op c[index_c(i)] (or c op x) with a constant tensor c, stored as the layer's weights
// in c's exact type; a constant multiplier folds into shift-adds.
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_binary_const(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out],
                       const typename CONFIG_T::const_t c[CONFIG_T::n_const]) {
    #pragma HLS PIPELINE
BinaryConstElem:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS UNROLL
        if (CONFIG_T::const_first)
            y[i] = l1ml_binary_apply<typename CONFIG_T::const_t, data_T, res_T, CONFIG_T::op>(c[CONFIG_T::index_c(i)],
                                                                                            x[CONFIG_T::index_x(i)]);
        else
            y[i] = l1ml_binary_apply<data_T, typename CONFIG_T::const_t, res_T, CONFIG_T::op>(x[CONFIG_T::index_x(i)],
                                                                                            c[CONFIG_T::index_c(i)]);
    }
}

struct l1ml_unary_config {
    static const unsigned n = 1;
    static const int op = l1ml_op_neg;
    static const bool has_lo = false; // clip: a lower bound that some input value lies below
    static const bool has_hi = false;
    typedef float bound_t;            // clip: the output type, which holds each effective bound exactly
    static double lo() { return 0; } // the bounds as doubles: each is a float of the model, so exact
    static double hi() { return 0; }
};

// -x, |x|, x * x or min(max(x, lo), hi). Unary minus of ap_fixed returns a type one bit wider, so -x is
// exact even for the most negative code; a bound that no input value passes is left out (has_lo/has_hi).
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_unary(const data_T x[CONFIG_T::n], res_T y[CONFIG_T::n]) {
    #pragma HLS PIPELINE
UnaryElem:
    for (unsigned i = 0; i < CONFIG_T::n; i++) {
        #pragma HLS UNROLL
        const data_T v = x[i];
        if (CONFIG_T::op == l1ml_op_neg) {
            y[i] = -v;
        } else if (CONFIG_T::op == l1ml_op_abs) {
            if (v < 0)
                y[i] = -v;
            else
                y[i] = v;
        } else if (CONFIG_T::op == l1ml_op_square) {
            y[i] = v * v;
        } else {
            const typename CONFIG_T::bound_t lo = CONFIG_T::lo();
            const typename CONFIG_T::bound_t hi = CONFIG_T::hi();
            if (CONFIG_T::has_lo && v < lo)
                y[i] = lo;
            else if (CONFIG_T::has_hi && v > hi)
                y[i] = hi;
            else
                y[i] = v;
        }
    }
}

struct l1ml_reduce_sum_config {
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned n_terms = 1; // values summed into each output
    static const unsigned shift = 0;   // a mean over 2**shift values: the sum read 2**shift finer
    typedef float accum_t;            // the output's width on the input's grid: holds every partial sum
    typedef float scale_t;            // ap_ufixed<1, 1 - shift>: the single bit 2**-shift
    static unsigned index(unsigned) { return 0; } // (n_out, n_terms) table of input elements
};

// y[o] = sum over k of x[index(o * n_terms + k)] (times 2**-shift for a power-of-two mean). Any k of the
// n_terms values sum into [k * min, k * max], inside accum_t's range, so no partial sum wraps; the product
// with the one-bit 2**-shift is exact and only moves the binary point (wiring).
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_reduce_sum(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE
ReduceOut:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        typename CONFIG_T::accum_t acc = 0;
    ReduceTerm:
        for (unsigned k = 0; k < CONFIG_T::n_terms; k++) {
            #pragma HLS UNROLL
            acc += x[CONFIG_T::index(o * CONFIG_T::n_terms + k)];
        }
        if (CONFIG_T::shift == 0) {
            y[o] = acc;
        } else {
            typename CONFIG_T::scale_t scale = 0;
            scale[0] = 1;
            y[o] = acc * scale;
        }
    }
}

} // namespace nnet

#endif
