// l1ml extension layer: exact requantisation of integer codes (a Requant node of the l1ml IR), io_parallel.
//
// The layer maps each input code to an output code by a per-channel integer function that l1ml proved
// equal, at compile time, to the real-number quantizer it replaces (BatchNorm, float scales, Sigmoid
// before a Quant). Both forms are l1ml.backends.emulate.requant_codes, restated by
// l1ml/backends/requant_plan.py with what the input range decides folded away:
//
//   thresholds: y = offset(c) + sum over k of (x >= threshold(c, k) ? weight(c, k) : 0)
//               (weights are +1/-1 times a repeat count; a padded entry has weight 0)
//   multiply:   y = clip((x * mult(c) + add(c)) >> shift, out_min, out_max), >> arithmetic (floor)
//
// x and y are codes: in_exact_t / out_exact_t are the tensors' exact (plain) ap_fixed types, converted
// from/to the ap_int code types bit for bit with range(). Every intermediate type is wide enough for the
// exact value (the multiply's wide_t holds x * mult + add, up to 1024 bits), so nothing rounds or wraps
// before the final assignment of a code that is in the output's range.
//
// Channels are the last axis: element i is in channel i % n_chan. The loops are fully unrolled and the
// tables are static member functions of the config struct, so with constant indices each comparison is
// against a constant and each product a constant multiply; the function is pipelined (II = 1).
#ifndef NNET_L1ML_REQUANT_H_
#define NNET_L1ML_REQUANT_H_

#include "nnet_common.h"

namespace nnet {

struct l1ml_requant_thresholds_config {
    static const unsigned n_elem = 1;
    static const unsigned n_chan = 1;
    static const unsigned n_terms = 1; // comparators per channel (padded to the most of any channel)
    typedef ap_fixed<8, 8> in_exact_t;
    typedef ap_int<8> in_code_t;
    typedef ap_int<9> acc_t; // holds every output code
    typedef ap_fixed<8, 8> out_exact_t;
    typedef ap_int<8> out_code_t;
    static long long threshold(unsigned, unsigned) { return 0; }
    static long long weight(unsigned, unsigned) { return 0; }
    static long long offset(unsigned) { return 0; }
};

template <class data_T, class res_T, typename CONFIG_T>
void l1ml_requant_thresholds(const data_T x[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    #pragma HLS PIPELINE
RequantElem:
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
        #pragma HLS UNROLL
        const unsigned c = i % CONFIG_T::n_chan;
        const typename CONFIG_T::in_exact_t xe = x[i];
        typename CONFIG_T::in_code_t v;
        v.range() = xe.range();
        typename CONFIG_T::acc_t acc = CONFIG_T::offset(c);
    RequantTerm:
        for (unsigned k = 0; k < CONFIG_T::n_terms; k++) {
            #pragma HLS UNROLL
            if (v >= CONFIG_T::threshold(c, k))
                acc += CONFIG_T::weight(c, k);
        }
        const typename CONFIG_T::out_code_t o = acc;
        typename CONFIG_T::out_exact_t r;
        r.range() = o.range();
        y[i] = r;
    }
}

struct l1ml_requant_multiply_config {
    static const unsigned n_elem = 1;
    static const unsigned n_chan = 1;
    static const unsigned shift = 0;
    static const bool clip_lo = false; // some x gives a value below out_min
    static const bool clip_hi = false;
    static const long long out_min = 0;
    static const long long out_max = 0;
    typedef ap_fixed<8, 8> in_exact_t;
    typedef ap_int<8> in_code_t;
    typedef ap_int<8> mult_t; // holds every multiplier
    typedef ap_int<24> wide_t; // holds x * mult + add for every x and channel, and 2**shift
    typedef ap_fixed<8, 8> out_exact_t;
    typedef ap_int<8> out_code_t;
    static mult_t mult(unsigned) { return 0; }
    static wide_t add(unsigned) { return 0; }
};

template <class data_T, class res_T, typename CONFIG_T>
void l1ml_requant_multiply(const data_T x[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    #pragma HLS PIPELINE
RequantElem:
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
        #pragma HLS UNROLL
        const unsigned c = i % CONFIG_T::n_chan;
        const typename CONFIG_T::in_exact_t xe = x[i];
        typename CONFIG_T::in_code_t v;
        v.range() = xe.range();
        typename CONFIG_T::wide_t z = v * CONFIG_T::mult(c); // ap_int's product type is exact
        z += CONFIG_T::add(c);
        z >>= CONFIG_T::shift; // arithmetic: wide_t is signed
        if (CONFIG_T::clip_lo && z < CONFIG_T::out_min)
            z = CONFIG_T::out_min;
        if (CONFIG_T::clip_hi && z > CONFIG_T::out_max)
            z = CONFIG_T::out_max;
        const typename CONFIG_T::out_code_t o = z;
        typename CONFIG_T::out_exact_t r;
        r.range() = o.range();
        y[i] = r;
    }
}

} // namespace nnet

#endif
