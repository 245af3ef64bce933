// l1ml extension layers for static-topology graph networks (hls4ml io_parallel).
//
// Every array is a flattened (rows, features) tensor in row-major order. Every type is chosen by l1ml
// so that each assignment below is exact: a result type holds every value it is given (no rounding,
// no saturation), and an accumulator wraps back into range only where the final sum is in range.
//
// Like hls4ml's own io_parallel layers, each function is pipelined. With reuse factor R = 1 the top
// function is pipelined as well and everything is unrolled (II = 1). With R > 1 l1ml writes the project
// in the DATAFLOW pipeline style: each call is a process, the row-wise Dense layers are time-multiplexed
// (l1ml_row_dense_tmux) and a tensor read by several layers is first copied by l1ml_cloneN, so that each
// array has one writer and one reader, as DATAFLOW requires.
//
// Compile-time tables (gather indices, segment rows) are static member functions of the layer's config
// struct, so they fold into wiring once the loops are unrolled, and the header needs no out-of-line
// definitions under C++11/14.
#ifndef NNET_L1ML_GNN_H_
#define NNET_L1ML_GNN_H_

#include "nnet_common.h"

namespace nnet {

struct l1ml_row_dense_config {
    static const unsigned n_rows = 1;
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    static const unsigned n_lanes = 1;
    static const unsigned n_steps = 1;
    static const bool relu = false; // a fused ReLU before the conversion to res_T
    typedef float weight_t;
    typedef float bias_t;
    typedef float accum_t;
};

// y[r, :] = x[r, :] @ w + b for one row r, then (if CONFIG_T::relu) max(., 0), then the conversion to
// res_T, which is a fused Quantize when res_T has its rounding and saturation. w is (n_in, n_out)
// row-major; accum_t is the exact Dense output type, so every sum of products fits it.
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_dense_one_row(const data_T x[CONFIG_T::n_rows * CONFIG_T::n_in], res_T y[CONFIG_T::n_rows * CONFIG_T::n_out],
                        const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                        const typename CONFIG_T::bias_t b[CONFIG_T::n_out], const unsigned r) {
    #pragma HLS INLINE
RowDenseOut:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        typename CONFIG_T::accum_t acc = b[o];
    RowDenseIn:
        for (unsigned k = 0; k < CONFIG_T::n_in; k++) {
            #pragma HLS UNROLL
            acc += x[r * CONFIG_T::n_in + k] * w[k * CONFIG_T::n_out + o];
        }
        if (CONFIG_T::relu && acc < 0)
            acc = 0;
        y[r * CONFIG_T::n_out + o] = acc;
    }
}

// The same Dense on every row (a node or edge network), all rows at once (reuse factor 1, II = 1).
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_row_dense(const data_T x[CONFIG_T::n_rows * CONFIG_T::n_in], res_T y[CONFIG_T::n_rows * CONFIG_T::n_out],
                    const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                    const typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE
RowDenseRow:
    for (unsigned r = 0; r < CONFIG_T::n_rows; r++) {
        #pragma HLS UNROLL
        l1ml_dense_one_row<data_T, res_T, CONFIG_T>(x, y, w, b, r);
    }
}

// The same Dense on every row, time-multiplexed: n_lanes copies of the Dense walk the rows in n_steps
// steps pipelined at II = 1, lane l handling row step * n_lanes + l. The process accepts a new graph
// every n_steps cycles (n_steps <= the reuse factor).
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_row_dense_tmux(const data_T x[CONFIG_T::n_rows * CONFIG_T::n_in], res_T y[CONFIG_T::n_rows * CONFIG_T::n_out],
                         const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out],
                         const typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    #pragma HLS INLINE off
    #pragma HLS ARRAY_PARTITION variable=w complete
    #pragma HLS ARRAY_PARTITION variable=b complete
RowDenseStep:
    for (unsigned step = 0; step < CONFIG_T::n_steps; step++) {
        #pragma HLS PIPELINE II=1
    RowDenseLane:
        for (unsigned lane = 0; lane < CONFIG_T::n_lanes; lane++) {
            #pragma HLS UNROLL
            const unsigned r = step * CONFIG_T::n_lanes + lane;
            if (r < CONFIG_T::n_rows)
                l1ml_dense_one_row<data_T, res_T, CONFIG_T>(x, y, w, b, r);
        }
    }
}

struct l1ml_mask_mul_config {
    static const unsigned n_rows = 1;
    static const unsigned n_feat = 1;
    static const unsigned n_mask_feat = 1; // 1: one mask bit per row, broadcast over the features
};

// y = x * m elementwise; with a 1-bit mask this is an AND of every bit of x with the row's bit.
template <class data_T, class mask_T, class res_T, typename CONFIG_T>
void l1ml_mask_mul(const data_T x[CONFIG_T::n_rows * CONFIG_T::n_feat],
                   const mask_T m[CONFIG_T::n_rows * CONFIG_T::n_mask_feat], res_T y[CONFIG_T::n_rows * CONFIG_T::n_feat]) {
    #pragma HLS PIPELINE
MaskRow:
    for (unsigned r = 0; r < CONFIG_T::n_rows; r++) {
    MaskFeat:
        for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
            const unsigned mf = CONFIG_T::n_mask_feat == 1 ? 0 : f;
            y[r * CONFIG_T::n_feat + f] = x[r * CONFIG_T::n_feat + f] * m[r * CONFIG_T::n_mask_feat + mf];
        }
    }
}

struct l1ml_gather_config {
    static const unsigned n_rows_in = 1;
    static const unsigned n_rows_out = 1;
    static const unsigned n_feat = 1;
    static unsigned index(unsigned) { return 0; } // the input row of output row r (a table)
};

// y[r, :] = x[index(r), :] with a compile-time index table: wiring once the loops are unrolled.
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_gather(const data_T x[CONFIG_T::n_rows_in * CONFIG_T::n_feat],
                 res_T y[CONFIG_T::n_rows_out * CONFIG_T::n_feat]) {
    #pragma HLS PIPELINE
GatherRow:
    for (unsigned r = 0; r < CONFIG_T::n_rows_out; r++) {
        const unsigned src = CONFIG_T::index(r);
    GatherFeat:
        for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
            y[r * CONFIG_T::n_feat + f] = x[src * CONFIG_T::n_feat + f];
        }
    }
}

struct l1ml_concat_config {
    static const unsigned n_rows = 1;
    static const unsigned n_out_feat = 1;
    static const unsigned in_rows0 = 1, in_rows1 = 1, in_rows2 = 1, in_rows3 = 1; // rows of each input
    static unsigned src(unsigned, unsigned r) { return r; } // input row of output row r (a fused gather's table)
};

// Writes input `part` into columns [offset, offset + n_feat) of every row r of y, reading its row src(part, r):
// r itself, or the row a gather fused into the concatenation picks. res_T has the finest LSB and the
// union range of all inputs, so the conversion only shifts.
template <class data_T, class res_T, typename CONFIG_T, unsigned part, unsigned in_rows, unsigned n_feat, unsigned offset>
void l1ml_concat_part(const data_T x[in_rows * n_feat], res_T y[CONFIG_T::n_rows * CONFIG_T::n_out_feat]) {
    #pragma HLS INLINE
ConcatRow:
    for (unsigned r = 0; r < CONFIG_T::n_rows; r++) {
        const unsigned s = CONFIG_T::src(part, r);
    ConcatFeat:
        for (unsigned f = 0; f < n_feat; f++) {
            y[r * CONFIG_T::n_out_feat + offset + f] = (res_T)x[s * n_feat + f];
        }
    }
}

// Concatenation along the last axis of two, three or four inputs (one process, one writer of y).
template <class in0_T, class in1_T, class res_T, typename CONFIG_T, unsigned f0, unsigned f1>
void l1ml_concat2(const in0_T x0[CONFIG_T::in_rows0 * f0], const in1_T x1[CONFIG_T::in_rows1 * f1],
                  res_T y[CONFIG_T::n_rows * CONFIG_T::n_out_feat]) {
    #pragma HLS PIPELINE
    l1ml_concat_part<in0_T, res_T, CONFIG_T, 0, CONFIG_T::in_rows0, f0, 0>(x0, y);
    l1ml_concat_part<in1_T, res_T, CONFIG_T, 1, CONFIG_T::in_rows1, f1, f0>(x1, y);
}

template <class in0_T, class in1_T, class in2_T, class res_T, typename CONFIG_T, unsigned f0, unsigned f1, unsigned f2>
void l1ml_concat3(const in0_T x0[CONFIG_T::in_rows0 * f0], const in1_T x1[CONFIG_T::in_rows1 * f1],
                  const in2_T x2[CONFIG_T::in_rows2 * f2], res_T y[CONFIG_T::n_rows * CONFIG_T::n_out_feat]) {
    #pragma HLS PIPELINE
    l1ml_concat_part<in0_T, res_T, CONFIG_T, 0, CONFIG_T::in_rows0, f0, 0>(x0, y);
    l1ml_concat_part<in1_T, res_T, CONFIG_T, 1, CONFIG_T::in_rows1, f1, f0>(x1, y);
    l1ml_concat_part<in2_T, res_T, CONFIG_T, 2, CONFIG_T::in_rows2, f2, f0 + f1>(x2, y);
}

template <class in0_T, class in1_T, class in2_T, class in3_T, class res_T, typename CONFIG_T, unsigned f0, unsigned f1,
          unsigned f2, unsigned f3>
void l1ml_concat4(const in0_T x0[CONFIG_T::in_rows0 * f0], const in1_T x1[CONFIG_T::in_rows1 * f1],
                  const in2_T x2[CONFIG_T::in_rows2 * f2], const in3_T x3[CONFIG_T::in_rows3 * f3],
                  res_T y[CONFIG_T::n_rows * CONFIG_T::n_out_feat]) {
    #pragma HLS PIPELINE
    l1ml_concat_part<in0_T, res_T, CONFIG_T, 0, CONFIG_T::in_rows0, f0, 0>(x0, y);
    l1ml_concat_part<in1_T, res_T, CONFIG_T, 1, CONFIG_T::in_rows1, f1, f0>(x1, y);
    l1ml_concat_part<in2_T, res_T, CONFIG_T, 2, CONFIG_T::in_rows2, f2, f0 + f1>(x2, y);
    l1ml_concat_part<in3_T, res_T, CONFIG_T, 3, CONFIG_T::in_rows3, f3, f0 + f1 + f2>(x3, y);
}

struct l1ml_segment_sum_config {
    static const unsigned n_rows_in = 1;
    static const unsigned n_segments = 1;
    static const unsigned n_feat = 1;
    static const unsigned degree = 1; // table columns: the most rows any segment has
    typedef float accum_t;
    static unsigned row(unsigned) { return 0; } // (n_segments, degree) table, n_rows_in = no row
};

// y[s, :] = sum of x[r, :] over the rows r of segment s. accum_t is the exact output type, wide enough
// for degree terms. Fully parallel: each segment is an adder tree over its own rows, without
// multiplexers (sharing adders between segments would need multiplexers as large as the adders).
template <class data_T, class res_T, typename CONFIG_T>
void l1ml_segment_sum(const data_T x[CONFIG_T::n_rows_in * CONFIG_T::n_feat],
                      res_T y[CONFIG_T::n_segments * CONFIG_T::n_feat]) {
    #pragma HLS PIPELINE
SegSeg:
    for (unsigned s = 0; s < CONFIG_T::n_segments; s++) {
    SegFeat:
        for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
            typename CONFIG_T::accum_t acc = 0;
        SegTerm:
            for (unsigned d = 0; d < CONFIG_T::degree; d++) {
                const unsigned r = CONFIG_T::row(s * CONFIG_T::degree + d);
                if (r < CONFIG_T::n_rows_in)
                    acc += x[r * CONFIG_T::n_feat + f];
            }
            y[s * CONFIG_T::n_feat + f] = acc;
        }
    }
}

// Copies of a tensor for each of its readers (DATAFLOW: one reader per array).
template <class data_T, unsigned n>
void l1ml_clone2(const data_T x[n], data_T y0[n], data_T y1[n]) {
    #pragma HLS PIPELINE
CloneCopy:
    for (unsigned i = 0; i < n; i++) {
        y0[i] = x[i];
        y1[i] = x[i];
    }
}

template <class data_T, unsigned n>
void l1ml_clone3(const data_T x[n], data_T y0[n], data_T y1[n], data_T y2[n]) {
    #pragma HLS PIPELINE
CloneCopy:
    for (unsigned i = 0; i < n; i++) {
        y0[i] = x[i];
        y1[i] = x[i];
        y2[i] = x[i];
    }
}

template <class data_T, unsigned n>
void l1ml_clone4(const data_T x[n], data_T y0[n], data_T y1[n], data_T y2[n], data_T y3[n]) {
    #pragma HLS PIPELINE
CloneCopy:
    for (unsigned i = 0; i < n; i++) {
        y0[i] = x[i];
        y1[i] = x[i];
        y2[i] = x[i];
        y3[i] = x[i];
    }
}

} // namespace nnet

#endif
