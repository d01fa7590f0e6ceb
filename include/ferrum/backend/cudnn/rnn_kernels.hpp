// cuDNN 9 kernels of one recurrent layer (one direction) over a chunk (cudnnRNNForward,
// cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8), the same mathematics as the CPU kernels: with
// double bias (CUDNN_RNN_DOUBLE_BIAS) cuDNN's GRU is PyTorch's torch.nn.GRU (n = tanh(W_in x + b_in +
// r*(W_hn h + b_hn))) and its LSTM is torch.nn.LSTM, with zero initial state (and cell). Weights are copied
// into cuDNN's weight space by PyTorch gate ((r, z, n) or (i, f, g, o): cuDNN's linear-layer ids follow the
// same order), located with cudnnGetRNNWeightParams. Bidirectional layers run two of these
// (nn/detail/recurrent_stack.hpp reverses the input within each sample's length).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/backend/cudnn/descriptors.hpp"
#include "ferrum/backend/cudnn/device.hpp"
#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend::cudnn_detail {

/// One-direction cuDNN RNN kernels with `Gates` PyTorch gate blocks (GRU: 3, LSTM: 4).
template <class T, cudnnRNNMode_t Mode, int Gates, class Weights, class Grads>
struct rnn_kernels {
    using Index = Eigen::Index;
    using col_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

    using weights = Weights;
    using grads = Grads;

    /// Per chunk and layer: the descriptors, the device copies that backward needs (x, y, weights, the
    /// reserve space of the training forward, kept unchanged until backward) and host staging buffers.
    struct cache {
        nn::matrix<T> states;  ///< H x (steps*batch): h_t, carried unchanged past a sample's length (as the CPU)

        cudnn_detail::rnn_descriptor rnn;
        cudnn_detail::dropout_descriptor no_dropout;
        cudnn_detail::rnn_data_descriptor x_desc, y_desc;
        cudnn_detail::tensor_descriptor h_desc, m_desc, b_desc;
        cudnn_detail::device_buffer w, dw, work, reserve, x, y, dy, dx, dhy, seq;
        std::size_t w_bytes = 0, work_bytes = 0, reserve_bytes = 0;
        std::array<std::size_t, 2 * Gates> w_off{}, b_off{};  ///< offsets of linear layers 0..2G-1 in the weight space
        Index in = 0, hidden = 0, steps = 0, batch = 0;
        bool trained = false;  ///< the last forward was in training mode (reserve space valid)
        std::vector<int> lengths;
        std::vector<T> host_w;
        col_matrix xs, ys, dys, dhs, dxs;  ///< host staging in cuDNN's sequence-major layout
    };

    static void forward(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c) {
        const cudnn_detail::context_lease lease;
        auto& dev = *lease;
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        prepare(dev, p, ctx, c);
        const cudnnForwardMode_t fwd = ctx.run_mode == nn::mode::training ? CUDNN_FWD_MODE_TRAINING
                                                                          : CUDNN_FWD_MODE_INFERENCE;
        FERRUM_CUDA_CHECK(
            cudnnGetRNNTempSpaceSizes(dev.dnn(), c.rnn.get(), fwd, c.x_desc.get(), &c.work_bytes, &c.reserve_bytes));
        c.work.reserve(c.work_bytes);
        c.reserve.reserve(c.reserve_bytes);

        pack_weights(p, c);
        dev.upload(c.w.get(), c.host_w.data(), c.w_bytes);
        // ferrum's chunk is features x (steps*batch) row-major; cuDNN's SEQ_MAJOR_UNPACKED is [t][b][f],
        // which is the same matrix stored column-major
        c.xs = x;
        c.x.reserve(sizeof(T) * static_cast<std::size_t>(p.in * TB));
        dev.upload(c.x.get(), c.xs.data(), sizeof(T) * static_cast<std::size_t>(p.in * TB));
        c.y.reserve(sizeof(T) * static_cast<std::size_t>(H * TB));

        FERRUM_CUDA_CHECK(cudnnRNNForward(dev.dnn(), c.rnn.get(), fwd, static_cast<const std::int32_t*>(c.seq.get()),
                                          c.x_desc.get(), c.x.get(), c.y_desc.get(), c.y.get(), c.h_desc.get(), nullptr,
                                          nullptr, c.h_desc.get(), nullptr, nullptr, c.w_bytes, c.w.get(), c.work_bytes,
                                          c.work.get(), c.reserve_bytes, c.reserve_bytes ? c.reserve.get() : nullptr));
        c.ys.resize(H, TB);
        dev.download(c.ys.data(), c.y.get(), sizeof(T) * static_cast<std::size_t>(H * TB));
        dev.sync();
        c.trained = fwd == CUDNN_FWD_MODE_TRAINING;
        c.states = c.ys;
        // cuDNN pads past a sample's length with zeros; the engine expects the last state carried
        if (ctx.lengths)
            for (Index b = 0; b < B; ++b)
                for (Index t = c.lengths[static_cast<std::size_t>(b)]; t < S; ++t)
                    c.states.col(t * B + b) = c.states.col((t - 1) * B + b);
    }

    /// dy: gradient w.r.t. every step's output (H x steps*batch) or null; dh_last: w.r.t. each sample's
    /// last state (H x batch) or null. Accumulates into g; writes dx (in x steps*batch) when not null.
    static void backward(const weights& p, const nn::matrix<T>&, const nn::chunk_info& ctx, cache& c,
                         const nn::matrix<T>* dy, const nn::matrix<T>* dh_last, const grads& g, nn::matrix<T>* dx) {
        const cudnn_detail::context_lease lease;
        auto& dev = *lease;
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        if (!c.trained || c.in != p.in || c.hidden != H || c.steps != S || c.batch != B)
            throw value_error("cudnn backend: backward() needs a forward() in mode::training of the same batch first");

        // the gradient reaching padded steps is ignored by the CPU backend; give cuDNN zeros there
        if (dy) {
            c.dys = *dy;
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    for (Index t = c.lengths[static_cast<std::size_t>(b)]; t < S; ++t) c.dys.col(t * B + b).setZero();
        } else {
            c.dys.setZero(H, TB);
        }
        c.dy.reserve(sizeof(T) * static_cast<std::size_t>(H * TB));
        dev.upload(c.dy.get(), c.dys.data(), sizeof(T) * static_cast<std::size_t>(H * TB));
        const void* dhy = nullptr;  // null: zero gradient w.r.t. the final state
        if (dh_last) {
            c.dhs = *dh_last;  // H x batch column-major = cuDNN's [layer][batch][hidden]
            c.dhy.reserve(sizeof(T) * static_cast<std::size_t>(H * B));
            dev.upload(c.dhy.get(), c.dhs.data(), sizeof(T) * static_cast<std::size_t>(H * B));
            dhy = c.dhy.get();
        }
        c.dx.reserve(sizeof(T) * static_cast<std::size_t>(p.in * TB));

        // BackwardData always runs first, even when dx is not wanted: BackwardWeights reads what it leaves
        // in the reserve space and silently returns wrong gradients without it.
        FERRUM_CUDA_CHECK(cudnnRNNBackwardData_v8(
            dev.dnn(), c.rnn.get(), static_cast<const std::int32_t*>(c.seq.get()), c.y_desc.get(), c.y.get(),
            c.dy.get(), c.x_desc.get(), c.dx.get(), c.h_desc.get(), nullptr, dhy, nullptr, c.h_desc.get(), nullptr,
            nullptr, nullptr, c.w_bytes, c.w.get(), c.work_bytes, c.work.get(), c.reserve_bytes, c.reserve.get()));
        // CUDNN_WGRAD_MODE_ADD accumulates (SET is unsupported for RNNs): start from zero every time
        dev.zero(c.dw.get(), c.w_bytes);
        FERRUM_CUDA_CHECK(cudnnRNNBackwardWeights_v8(
            dev.dnn(), c.rnn.get(), CUDNN_WGRAD_MODE_ADD, static_cast<const std::int32_t*>(c.seq.get()), c.x_desc.get(),
            c.x.get(), c.h_desc.get(), nullptr, c.y_desc.get(), c.y.get(), c.w_bytes, c.dw.get(), c.work_bytes,
            c.work.get(), c.reserve_bytes, c.reserve.get()));
        c.trained = false;  // BackwardData has overwritten the reserve space: a second backward needs a new forward
        c.host_w.resize(c.w_bytes / sizeof(T));
        dev.download(c.host_w.data(), c.dw.get(), c.w_bytes);
        if (dx) {
            c.dxs.resize(p.in, TB);
            dev.download(c.dxs.data(), c.dx.get(), sizeof(T) * static_cast<std::size_t>(p.in * TB));
        }
        dev.sync();

        const Index in = p.in;
        for (Index gate = 0; gate < Gates; ++gate) {
            const T* wi = c.host_w.data() + c.w_off[static_cast<std::size_t>(gate)];
            const T* wh = c.host_w.data() + c.w_off[static_cast<std::size_t>(gate) + Gates];
            const T* bi = c.host_w.data() + c.b_off[static_cast<std::size_t>(gate)];
            const T* bh = c.host_w.data() + c.b_off[static_cast<std::size_t>(gate) + Gates];
            for (Index k = 0; k < H * in; ++k) g.w_ih[gate * H * in + k] += wi[k];
            for (Index k = 0; k < H * H; ++k) g.w_hh[gate * H * H + k] += wh[k];
            for (Index k = 0; k < H; ++k) {
                g.b_ih[gate * H + k] += bi[k];
                g.b_hh[gate * H + k] += bh[k];
            }
        }
        if (dx) {
            *dx = c.dxs;
            if (ctx.lengths)  // padded positions of cuDNN's dx are not defined; the CPU gives zero
                for (Index b = 0; b < B; ++b)
                    for (Index t = c.lengths[static_cast<std::size_t>(b)]; t < S; ++t) dx->col(t * B + b).setZero();
        }
    }

private:
    /// Float: FMA only for parity with the CPU backend (CUDNN_DEFAULT_MATH may run float as TF32 on
    /// Ampere/Hopper) unless the user opts in. Double has no tensor-core path, so the default is exact.
    static constexpr cudnnMathType_t math_type() noexcept {
        if constexpr (std::is_same_v<T, double>) return CUDNN_DEFAULT_MATH;
#ifdef FERRUM_CUDNN_ALLOW_TF32
        return CUDNN_DEFAULT_MATH;
#else
        return CUDNN_FMA_MATH;
#endif
    }

    /// (Re)creates the RNN descriptor when the layer's shape changes, and sets the data descriptors and
    /// device sequence lengths of this chunk.
    static void prepare(cudnn_detail::context& dev, const weights& p, const nn::chunk_info& ctx, cache& c) {
        using cudnn_detail::data_type;
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps;
        if (!c.rnn || c.in != p.in || c.hidden != H) {
            c.rnn = {};
            // cuDNN's dropout acts only between stacked layers of one descriptor; ferrum runs one layer
            // per descriptor and its own dropout layers, so this one is always 0 (no state memory needed)
            FERRUM_CUDA_CHECK(cudnnSetDropoutDescriptor(c.no_dropout.get(), dev.dnn(), 0.0f, nullptr, 0, 0));
            FERRUM_CUDA_CHECK(cudnnSetRNNDescriptor_v8(
                c.rnn.get(), CUDNN_RNN_ALGO_STANDARD, Mode, CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                CUDNN_LINEAR_INPUT, data_type<T>(), data_type<T>(), math_type(), static_cast<std::int32_t>(p.in),
                static_cast<std::int32_t>(H), static_cast<std::int32_t>(H), 1, c.no_dropout.get(),
                CUDNN_RNN_PADDED_IO_ENABLED));
            FERRUM_CUDA_CHECK(cudnnGetRNNWeightSpaceSize(dev.dnn(), c.rnn.get(), &c.w_bytes));
            c.w.reserve(c.w_bytes);
            c.dw.reserve(c.w_bytes);
            locate_weights(dev, p, c);
            c.in = p.in;
            c.hidden = H;
        }
        c.lengths.assign(static_cast<std::size_t>(B), static_cast<int>(S));
        if (ctx.lengths) c.lengths = *ctx.lengths;
        T fill = T(0);
        FERRUM_CUDA_CHECK(cudnnSetRNNDataDescriptor(
            c.x_desc.get(), data_type<T>(), CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, static_cast<int>(S),
            static_cast<int>(B), static_cast<int>(p.in), c.lengths.data(), &fill));
        FERRUM_CUDA_CHECK(cudnnSetRNNDataDescriptor(c.y_desc.get(), data_type<T>(),
                                                    CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, static_cast<int>(S),
                                                    static_cast<int>(B), static_cast<int>(H), c.lengths.data(), &fill));
        const int dims[3] = {1, static_cast<int>(B), static_cast<int>(H)};
        const int strides[3] = {static_cast<int>(B * H), static_cast<int>(H), 1};
        FERRUM_CUDA_CHECK(cudnnSetTensorNdDescriptor(c.h_desc.get(), data_type<T>(), 3, dims, strides));
        // cuDNN reads the lengths from device memory asynchronously (devSeqLengths)
        c.seq.reserve(sizeof(std::int32_t) * static_cast<std::size_t>(B));
        dev.upload(c.seq.get(), c.lengths.data(), sizeof(std::int32_t) * static_cast<std::size_t>(B));
        c.steps = S;
        c.batch = B;
        c.trained = false;
    }

    /// Offsets of the 2G matrices and biases in the weight space, checked against PyTorch's shapes
    /// (linear layers 0..G-1: the input matrices and b_i* by gate, G..2G-1: the recurrent ones and b_h*).
    static void locate_weights(cudnn_detail::context& dev, const weights& p, cache& c) {
        const Index H = p.hidden;
        auto* base = static_cast<char*>(c.w.get());
        for (int id = 0; id < 2 * Gates; ++id) {
            void* m = nullptr;
            void* b = nullptr;
            FERRUM_CUDA_CHECK(cudnnGetRNNWeightParams(dev.dnn(), c.rnn.get(), 0, c.w_bytes, c.w.get(), id,
                                                      c.m_desc.get(), &m, c.b_desc.get(), &b));
            const Index cols = id < Gates ? p.in : H;
            expect_shape(c.m_desc.get(), H, cols, id, "matrix");
            expect_shape(c.b_desc.get(), 1, H, id, "bias");
            c.w_off[static_cast<std::size_t>(id)] = static_cast<std::size_t>(static_cast<char*>(m) - base) / sizeof(T);
            c.b_off[static_cast<std::size_t>(id)] = static_cast<std::size_t>(static_cast<char*>(b) - base) / sizeof(T);
        }
    }

    /// The weight-space block must be a dense row-major rows x cols block (PyTorch's layout), else the
    /// copy by gate would scramble the parameters: fail loudly instead.
    static void expect_shape(cudnnTensorDescriptor_t d, Index rows, Index cols, int id, const char* what) {
        cudnnDataType_t type{};
        int nb = 0, dims[8] = {}, strides[8] = {};
        FERRUM_CUDA_CHECK(cudnnGetTensorNdDescriptor(d, 8, &type, &nb, dims, strides));
        Index total = 1;
        for (int i = 0; i < nb; ++i) total *= dims[i];
        const bool dense_rows = nb >= 1 && strides[nb - 1] == 1 &&
                                (nb < 2 || dims[nb - 1] == 1 || strides[nb - 2] == dims[nb - 1]);
        if (total != rows * cols || !dense_rows || (rows > 1 && (nb < 2 || dims[nb - 1] != cols)))
            throw ferrum::error("cudnn: unexpected layout of RNN " + std::string(what) + " " + std::to_string(id) +
                                " in the weight space (expected " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " row-major)");
    }

    static void pack_weights(const weights& p, cache& c) {
        const Index H = p.hidden, in = p.in;
        c.host_w.assign(c.w_bytes / sizeof(T), T(0));
        for (Index gate = 0; gate < Gates; ++gate) {
            const auto s = static_cast<std::size_t>(gate);
            std::copy(p.w_ih + gate * H * in, p.w_ih + (gate + 1) * H * in, c.host_w.data() + c.w_off[s]);
            std::copy(p.w_hh + gate * H * H, p.w_hh + (gate + 1) * H * H, c.host_w.data() + c.w_off[s + Gates]);
            std::copy(p.b_ih + gate * H, p.b_ih + (gate + 1) * H, c.host_w.data() + c.b_off[s]);
            std::copy(p.b_hh + gate * H, p.b_hh + (gate + 1) * H, c.host_w.data() + c.b_off[s + Gates]);
        }
    }
};

}  // namespace ferrum::backend::cudnn_detail
