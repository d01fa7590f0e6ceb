// CPU (Eigen) kernels of one GRU layer over a chunk, in the cuDNN / PyTorch formulation (Cho et al. 2014
// with the reset gate applied after the recurrent product): r = s(W_ir x + b_ir + W_hr h + b_hr),
// z = s(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1-z) n + z h.
// Forward: one GEMM for the input projection of every step, one small GEMM per step, fused gate loops.
// Backward: exact BPTT; the weight gradients of all steps are two large GEMMs after the time loop.
#pragma once

#include <vector>

#include "ferrum/nn/detail/block.hpp"
#include "ferrum/nn/detail/kernel_traits.hpp"

namespace ferrum::nn::detail {

template <class T>
struct gru_kernels<ferrum::backend::cpu, T> {
    using Index = Eigen::Index;

    struct weights {
        const T* w_ih;  ///< [3H, in], gate rows r, z, n
        const T* w_hh;  ///< [3H, H]
        const T* b_ih;  ///< [3H]
        const T* b_hh;  ///< [3H]
        Index in, hidden;
    };
    struct grads {
        T* w_ih;
        T* w_hh;
        T* b_ih;
        T* b_hh;
    };
    /// What forward keeps for backward, plus workspaces (kept between calls: no allocation per step).
    struct cache {
        matrix<T> gates;   ///< 3H x (steps*batch): r, z, n after the non-linearities
        matrix<T> ghn;     ///< H x (steps*batch): W_hn h_{t-1} + b_hn
        matrix<T> states;  ///< H x (steps*batch): h_t (carried unchanged past a sample's length)
        matrix<T> gh;      ///< 3H x batch workspace: W_hh h_{t-1}
        matrix<T> h0;      ///< H x batch zeros (initial state)
        matrix<T> dgh;     ///< backward: 3H x (steps*batch) gradients of the recurrent pre-activations
        matrix<T> dgin;    ///< backward: H x (steps*batch) gradient of W_in x + b_in
        matrix<T> dh, dht; ///< backward: H x batch carried state gradient
    };

    /// Runs the layer over x (in x steps*batch). `lengths` (per sample of the chunk) stops a sample's
    /// state at its own last step; null means every sample has all steps.
    static void forward(const weights& p, const matrix<T>& x, const chunk_context& ctx, cache& c) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        c.gates.resize(3 * H, TB);
        c.ghn.resize(H, TB);
        c.states.resize(H, TB);
        c.gh.resize(3 * H, B);
        c.h0.setZero(H, B);
        c.gates.noalias() = Wih * x;
        // r and z see b_ih + b_hh outside the non-linearity; n's b_hn stays inside r * (.)
        for (Index i = 0; i < 3 * H; ++i)
            c.gates.row(i).array() += p.b_ih[i] + (i < 2 * H ? p.b_hh[i] : T(0));
        for (Index t = 0; t < S; ++t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols((t - 1) * B, B);
            auto g = c.gates.middleCols(t * B, B);
            auto r = g.topRows(H).array();
            auto z = g.middleRows(H, H).array();
            auto n = g.bottomRows(H).array();
            auto hn = c.ghn.middleCols(t * B, B).array();
            auto h = c.states.middleCols(t * B, B).array();
            c.gh.noalias() = Whh * prev;
            r = (r + c.gh.topRows(H).array()).logistic();
            z = (z + c.gh.middleRows(H, H).array()).logistic();
            for (Index i = 0; i < H; ++i) hn.row(i) = c.gh.row(2 * H + i).array() + p.b_hh[2 * H + i];
            n = (n + r * hn).tanh();
            h = n + z * (prev.array() - n);
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) h.col(b) = prev.col(b).array();
        }
    }

    /// Backpropagation through time. dy: gradient w.r.t. every step's output (H x steps*batch) or null;
    /// dh_last: gradient w.r.t. the last state (H x batch) or null. Accumulates into g; writes dx
    /// (in x steps*batch) when not null.
    static void backward(const weights& p, const matrix<T>& x, const chunk_context& ctx, cache& c,
                         const matrix<T>* dy, const matrix<T>* dh_last, const grads& g, matrix<T>* dx) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        c.dgh.resize(3 * H, TB);
        c.dgin.resize(H, TB);
        if (dh_last)
            c.dh = *dh_last;
        else
            c.dh.setZero(H, B);
        c.dht.resize(H, B);
        for (Index t = S - 1; t >= 0; --t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols((t - 1) * B, B);
            const auto gt = c.gates.middleCols(t * B, B);
            const auto r = gt.topRows(H).array();
            const auto z = gt.middleRows(H, H).array();
            const auto n = gt.bottomRows(H).array();
            const auto hn = c.ghn.middleCols(t * B, B).array();
            auto dgh = c.dgh.middleCols(t * B, B);
            auto dar = dgh.topRows(H).array();
            auto daz = dgh.middleRows(H, H).array();
            auto dhn = dgh.bottomRows(H).array();
            auto dan = c.dgin.middleCols(t * B, B).array();
            auto dht = c.dht.array();
            if (dy)
                dht = c.dh.array() + dy->middleCols(t * B, B).array();
            else
                dht = c.dh.array();
            dan = dht * (T(1) - z) * (T(1) - n.square());
            daz = dht * (prev.array() - n) * z * (T(1) - z);
            dar = dan * hn * r * (T(1) - r);
            dhn = dan * r;
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) {
                        dgh.col(b).setZero();
                        dan.col(b).setZero();
                        dht.col(b) = c.dh.col(b).array();  // past the end: carried state, output ignored
                    }
            c.dh.array() = dht * z;
            c.dh.noalias() += Whh.transpose() * dgh;
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) c.dh.col(b) = c.dht.col(b);
        }
        // weight gradients of all steps at once; h_{-1} = 0 so step 0 adds nothing to dW_hh
        matrix_map<T> gWih(g.w_ih, 3 * H, p.in), gWhh(g.w_hh, 3 * H, H);
        if (S > 1)
            gWhh.noalias() += c.dgh.rightCols((S - 1) * B) * c.states.leftCols((S - 1) * B).transpose();
        gWih.topRows(2 * H).noalias() += c.dgh.topRows(2 * H) * x.transpose();
        gWih.bottomRows(H).noalias() += c.dgin * x.transpose();
        vector_map<T> gbih(g.b_ih, 3 * H), gbhh(g.b_hh, 3 * H);
        gbih.head(2 * H) += c.dgh.topRows(2 * H).rowwise().sum();
        gbih.tail(H) += c.dgin.rowwise().sum();
        gbhh += c.dgh.rowwise().sum();
        if (dx) {
            dx->resize(p.in, TB);
            dx->noalias() = Wih.topRows(2 * H).transpose() * c.dgh.topRows(2 * H);
            dx->noalias() += Wih.bottomRows(H).transpose() * c.dgin;
        }
    }
};

}  // namespace ferrum::nn::detail
