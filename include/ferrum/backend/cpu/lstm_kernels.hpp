// CPU (Eigen) kernels of one LSTM layer over a chunk, in the PyTorch torch.nn.LSTM / cuDNN formulation
// (Hochreiter & Schmidhuber 1997 with a forget gate, Gers et al. 2000): gates stacked (i, f, g, o),
// i = s(W_ii x + b_ii + W_hi h + b_hi), f, o likewise, g = tanh(...), c' = f c + i g, h' = o tanh(c').
// Forward: one product for the input projection of every step, one small product per step, fused gate
// loops. Inference (infer: no backward follows) runs the same arithmetic, so the same bits, keeping two cell
// columns per sample and, for a layer whose output is its last state, two state columns. Backward: exact BPTT; the weight gradients of all steps are two large GEMMs after the time loop.
#pragma once

#include <vector>

#include "ferrum/backend/cpu/panel_product.hpp"
#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend {

template <class T>
struct lstm_kernels<ferrum::backend::cpu, T> {
    using Index = Eigen::Index;

    using weights = lstm_weights<T>;
    using grads = lstm_grads<T>;
    /// What forward keeps for backward, plus workspaces (kept between calls: no allocation per step).
    struct cache {
        nn::matrix<T> gates;        ///< 4H x (steps*batch): i, f, g, o after the non-linearities
        nn::matrix<T> cells;        ///< H x (steps*batch): c_t (carried unchanged past a sample's length); infer: H x 2*batch
        nn::matrix<T> tanh_cells;   ///< H x (steps*batch): tanh(c_t) (not filled by infer)
        nn::matrix<T> states;       ///< H x (steps*batch): h_t (carried unchanged past a sample's length);
                                    ///< infer without sequence: H x (2*batch), the last state on the right
        nn::matrix<T> gh;           ///< 4H x batch workspace: W_hh h_{t-1}
        nn::matrix<T> h0;           ///< H x batch zeros (initial state and cell)
        nn::matrix<T> dg;           ///< backward: 4H x (steps*batch) gradients of the gate pre-activations
        nn::matrix<T> dh, dc, dht;  ///< backward: H x batch state and cell gradients
        nn::matrix<T> dhnext, dcnext;
    };

    /// Runs the layer over x (in x steps*batch). `ctx.lengths` (per sample of the chunk) stops a sample's
    /// state and cell at its own last step; null means every sample has all steps.
    static void forward(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c) {
        run<true>(p, x, ctx, c, true);
    }
    /// forward() when no backward pass follows: the same states (bits), without what only backward reads
    /// (tanh of the cells, every step's cell). `sequence`: keep every step's state (the next layer's input);
    /// else c.states.rightCols(batch) is each sample's last state and the rest is scratch.
    static void infer(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c, bool sequence) {
        run<false>(p, x, ctx, c, sequence);
    }

    /// Backpropagation through time. dy: gradient w.r.t. every step's output (H x steps*batch) or null;
    /// dh_last: gradient w.r.t. the last state (H x batch) or null. Accumulates into g; writes dx
    /// (in x steps*batch) when not null.
    static void backward(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c,
                         const nn::matrix<T>* dy, const nn::matrix<T>* dh_last, const grads& g, nn::matrix<T>* dx) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        nn::detail::const_matrix_map<T> Wih(p.w_ih, 4 * H, p.in), Whh(p.w_hh, 4 * H, H);
        c.dg.resize(4 * H, TB);
        if (dh_last) c.dh = *dh_last;
        else c.dh.setZero(H, B);
        c.dc.setZero(H, B);
        c.dht.resize(H, B);
        c.dhnext.resize(H, B);
        c.dcnext.resize(H, B);
        for (Index t = S - 1; t >= 0; --t) {
            const auto cprev = t == 0 ? c.h0.middleCols(0, B) : c.cells.middleCols((t - 1) * B, B);
            const Index col = t * B;
            for (Index i = 0; i < H; ++i) {
                const T *gi = &c.gates(i, col), *gf = &c.gates(H + i, col), *gg = &c.gates(2 * H + i, col),
                        *go = &c.gates(3 * H + i, col), *tc = &c.tanh_cells(i, col), *cp = cprev.row(i).data();
                const T* dyi = dy ? &(*dy)(i, col) : nullptr;
                T *di = &c.dg(i, col), *df = &c.dg(H + i, col), *dgg = &c.dg(2 * H + i, col),
                  *dgo = &c.dg(3 * H + i, col);
                T *dht = &c.dht(i, 0), *dh = &c.dh(i, 0), *dc = &c.dc(i, 0), *dcn = &c.dcnext(i, 0);
                cpu_detail::for_each_panel<T>(B, [&](Index j, auto w) {
                    auto DHT = cpu_detail::amap(dht + j, w), DC = cpu_detail::amap(dcn + j, w);
                    const auto I = cpu_detail::amap(gi + j, w), F = cpu_detail::amap(gf + j, w),
                               G = cpu_detail::amap(gg + j, w), O = cpu_detail::amap(go + j, w),
                               TC = cpu_detail::amap(tc + j, w);
                    if (dyi) DHT = cpu_detail::amap(dh + j, w) + cpu_detail::amap(dyi + j, w);
                    else DHT = cpu_detail::amap(dh + j, w);
                    // dcnext holds dc_t here, then becomes dc_{t-1} = dc_t * f
                    DC = cpu_detail::amap(dc + j, w) + DHT * O * (T(1) - TC.square());
                    cpu_detail::amap(dgo + j, w) = DHT * TC * O * (T(1) - O);
                    cpu_detail::amap(di + j, w) = DC * G * I * (T(1) - I);
                    cpu_detail::amap(dgg + j, w) = DC * I * (T(1) - G.square());
                    cpu_detail::amap(df + j, w) = DC * cpu_detail::amap(cp + j, w) * F * (T(1) - F);
                    DC = DC * F;
                });
            }
            auto dgt = c.dg.middleCols(col, B);
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) {
                        // past the end: state and cell were carried, so no gate saw them and dy there is ignored
                        dgt.col(b).setZero();
                        c.dcnext.col(b) = c.dc.col(b);
                    }
            cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Whh(k, i); }, H, 4 * H, dgt.data(), TB,
                                                c.dhnext.data(), B, B);
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) c.dhnext.col(b) = c.dh.col(b);
            c.dh.swap(c.dhnext);
            c.dc.swap(c.dcnext);
        }
        // weight gradients of all steps at once; h_{-1} = 0 so step 0 adds nothing to dW_hh
        nn::detail::matrix_map<T> gWih(g.w_ih, 4 * H, p.in), gWhh(g.w_hh, 4 * H, H);
        if (S > 1) gWhh.noalias() += c.dg.rightCols((S - 1) * B) * c.states.leftCols((S - 1) * B).transpose();
        gWih.noalias() += c.dg * x.transpose();
        nn::detail::vector_map<T> gbih(g.b_ih, 4 * H), gbhh(g.b_hh, 4 * H);
        const nn::detail::vector<T> db = c.dg.rowwise().sum();
        gbih += db;
        gbhh += db;
        if (dx) {
            dx->resize(p.in, TB);
            // dx = W_ih^T dg: K = 4H is small, so no GEMM packing
            cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Wih(k, i); }, p.in, 4 * H, c.dg.data(),
                                                TB, dx->data(), TB, TB);
        }
    }

private:
    /// The forward recursion. Keep: fill what backward reads (every cell, its tanh, every state).
    /// Otherwise two alternating cell columns per sample, and every step's state only when `sequence`.
    template <bool Keep>
    static void run(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c, bool sequence) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        nn::detail::const_matrix_map<T> Wih(p.w_ih, 4 * H, p.in), Whh(p.w_hh, 4 * H, H);
        const bool all = Keep || sequence;
        c.gates.resize(4 * H, TB);
        c.cells.resize(H, Keep ? TB : 2 * B);
        if (Keep) c.tanh_cells.resize(H, TB);
        c.states.resize(H, all ? TB : 2 * B);
        c.gh.resize(4 * H, B);
        c.h0.setZero(H, B);
        cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Wih(i, k); }, 4 * H, p.in, x.data(), TB,
                                            c.gates.data(), TB, TB);
        // the column block of step t: every step's, or two alternating ones with step S-1 on the right
        auto alternate = [&](Index t) { return (S - 1 - t) % 2 == 0 ? B : 0; };
        auto hslot = [&](Index t) { return all ? t * B : alternate(t); };
        auto cslot = [&](Index t) { return Keep ? t * B : alternate(t); };
        for (Index t = 0; t < S; ++t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols(hslot(t - 1), B);
            const auto cprev = t == 0 ? c.h0.middleCols(0, B) : c.cells.middleCols(cslot(t - 1), B);
            cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Whh(i, k); }, 4 * H, H, prev.data(),
                                                prev.outerStride(), c.gh.data(), B, B);
            const Index col = t * B, hcol = hslot(t), ccol = cslot(t);
            for (Index i = 0; i < H; ++i) {
                const T bi = p.b_ih[i] + p.b_hh[i], bf = p.b_ih[H + i] + p.b_hh[H + i];
                const T bg = p.b_ih[2 * H + i] + p.b_hh[2 * H + i], bo = p.b_ih[3 * H + i] + p.b_hh[3 * H + i];
                T *gi = &c.gates(i, col), *gf = &c.gates(H + i, col), *gg = &c.gates(2 * H + i, col),
                  *go = &c.gates(3 * H + i, col);
                T *cc = &c.cells(i, ccol), *h = &c.states(i, hcol);
                T* tc = Keep ? &c.tanh_cells(i, col) : nullptr;
                static_cast<void>(tc);
                const T *hi = &c.gh(i, 0), *hf = &c.gh(H + i, 0), *hg = &c.gh(2 * H + i, 0), *ho = &c.gh(3 * H + i, 0);
                const T* cp = cprev.row(i).data();
                cpu_detail::for_each_panel<T>(B, [&](Index j, auto w) {
                    auto I = cpu_detail::amap(gi + j, w), F = cpu_detail::amap(gf + j, w),
                         G = cpu_detail::amap(gg + j, w), O = cpu_detail::amap(go + j, w),
                         C = cpu_detail::amap(cc + j, w);
                    I = (I + cpu_detail::amap(hi + j, w) + bi).logistic();
                    F = (F + cpu_detail::amap(hf + j, w) + bf).logistic();
                    G = (G + cpu_detail::amap(hg + j, w) + bg).tanh();
                    O = (O + cpu_detail::amap(ho + j, w) + bo).logistic();
                    C = F * cpu_detail::amap(cp + j, w) + I * G;
                    if constexpr (Keep) {
                        auto TC = cpu_detail::amap(tc + j, w);
                        TC = C.tanh();
                        cpu_detail::amap(h + j, w) = O * TC;
                    } else {
                        cpu_detail::amap(h + j, w) = O * C.tanh();
                    }
                });
            }
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) {
                        c.states.col(hcol + b) = prev.col(b);
                        c.cells.col(ccol + b) = cprev.col(b);
                    }
        }
    }
};

}  // namespace ferrum::backend
