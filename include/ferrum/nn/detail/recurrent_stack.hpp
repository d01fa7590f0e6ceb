// What GRU and LSTM layers share: a stack of recurrent layers with their own widths, optionally
// bidirectional (Schuster & Paliwal 1997) with Keras's merge modes, over masked (variable-length) chunks.
// The reverse direction reads each sample from its own last valid step back to step 0 (Keras masking,
// PyTorch pack_padded_sequence): its input is the sequence reversed within each sample's length, so the
// same one-direction kernels serve both directions on every backend.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// How a bidirectional layer combines its two directions (Keras Bidirectional's merge_mode): concat
/// stacks [forward; reverse] features (PyTorch's bidirectional output), sum adds them, mul multiplies
/// them element-wise, ave takes their mean.
enum class merge_mode {
    concat,
    sum,
    mul,
    ave
};

constexpr std::string_view to_string(merge_mode m) noexcept {
    switch (m) {
        case merge_mode::concat: return "concat";
        case merge_mode::sum: return "sum";
        case merge_mode::mul: return "mul";
        case merge_mode::ave: return "ave";
    }
    return "concat";
}

/// Parses a name written by to_string (Keras's spelling); throws ferrum::value_error for anything else.
inline merge_mode merge_mode_from_string(std::string_view name) {
    for (auto m : {merge_mode::concat, merge_mode::sum, merge_mode::mul, merge_mode::ave})
        if (to_string(m) == name) return m;
    throw value_error("unknown merge mode '" + std::string(name) + "' (known: concat, sum, mul, ave)");
}

namespace detail {

/// dst = src with each sample's first len_b steps in reverse order (steps past len_b stay where they are).
/// It is its own inverse.
template <class T>
void reverse_within_lengths(const matrix<T>& src, matrix<T>& dst, const chunk_info& ctx) {
    const Eigen::Index B = ctx.batch, S = ctx.steps;
    dst.resize(src.rows(), src.cols());
    if (!ctx.lengths) {
        for (Eigen::Index t = 0; t < S; ++t) dst.middleCols(t * B, B) = src.middleCols((S - 1 - t) * B, B);
        return;
    }
    for (Eigen::Index b = 0; b < B; ++b) {
        const Eigen::Index len = (*ctx.lengths)[static_cast<std::size_t>(b)];
        for (Eigen::Index t = 0; t < S; ++t) dst.col(t * B + b) = src.col((t < len ? len - 1 - t : t) * B + b);
    }
}

/// Kernels with an infer(weights, x, ctx, cache, sequence) entry (the CPU's) run it when no backward pass
/// follows; the others (cuDNN's) run forward.
template <class K, class T, class = void>
struct has_infer : std::false_type {};
template <class K, class T>
struct has_infer<K, T,
                 std::void_t<decltype(K::infer(std::declval<const typename K::weights&>(), std::declval<const matrix<T>&>(),
                                               std::declval<const chunk_info&>(), std::declval<typename K::cache&>(),
                                               true))>> : std::true_type {};

/// \brief A stack of recurrent layers of one cell type (Kernels: a backend's gru_kernels or lstm_kernels,
/// Gates: 3 or 4 stacked gate blocks), uni- or bidirectional. Derived (gru, lstm) names the layer type.
/// Layer k has the PyTorch parameters weight_ih_l{k} [G H_k, in_k], weight_hh_l{k} [G H_k, H_k],
/// bias_ih_l{k}, bias_hh_l{k} [G H_k] and, when bidirectional, the same with the suffix _reverse;
/// in_k is the merged width of layer k-1 (2 H_{k-1} for concat, as PyTorch's stacked bidirectional RNNs).
template <class Derived, class T, class Kernels, std::size_t Gates>
class recurrent_stack {
public:
    using value_type = T;
    /// Per-chunk scratch memory (owned by the model's pass, not by the layer).
    struct cache {
        std::vector<typename Kernels::cache> dirs;  ///< layer k, direction d at k * directions + d
        std::vector<matrix<T>> x_rev;               ///< layer k's input reversed within lengths
        std::vector<matrix<T>> y_rev;               ///< layer k's reverse states put back in time order
        std::vector<matrix<T>> merged;              ///< layer k's merged output (input of layer k + 1)
        std::vector<matrix<T>> dx;                  ///< gradient flowing into layer k (k >= 1)
        matrix<T> dy_fwd, dy_rev, dy_rev_t, dx_rev, dx_rev_t;
    };

    std::size_t input_size() const noexcept { return input_; }
    const std::vector<std::size_t>& hidden_sizes() const noexcept { return hidden_; }
    std::size_t num_layers() const noexcept { return hidden_.size(); }
    bool return_sequences() const noexcept { return return_sequences_; }
    bool bidirectional() const noexcept { return merge_.has_value(); }
    /// The merge mode of a bidirectional layer (nullopt: one direction).
    std::optional<nn::merge_mode> merge() const noexcept { return merge_; }

    /// PyTorch's default initialisation, U(-1/sqrt(H_k), 1/sqrt(H_k)) for every tensor of layer k.
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        for (std::size_t k = 0; k < hidden_.size(); ++k) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_[k]));
            std::uniform_real_distribution<double> u(-bound, bound);
            const std::size_t first = offsets_[k * directions()];
            const std::size_t end = k + 1 < hidden_.size() ? offsets_[(k + 1) * directions()] : store_.size();
            for (std::size_t i = first; i < end; ++i) store_.values()[i] = static_cast<T>(u(gen));
        }
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(input_), true}; }
    io_shape output_shape(io_shape in) const {
        const std::string name = Derived::type_name;
        if (!in.sequence) throw value_error(name + ": input must be a sequence (batch, time, features)");
        if (static_cast<std::size_t>(in.features) != input_)
            throw value_error(name + ": input has " + std::to_string(in.features) + " features, layer expects " +
                              std::to_string(input_));
        return {static_cast<Eigen::Index>(width(hidden_.size() - 1)), return_sequences_};
    }

    /// Model-file fields besides the weights (a one-direction layer writes the same fields as before
    /// bidirectional layers existed, so older files and readers keep working).
    nlohmann::json config() const {
        nlohmann::json j = {{"input_size", input_}, {"hidden_sizes", hidden_}, {"return_sequences", return_sequences_}};
        if (merge_) {
            j["bidirectional"] = true;
            j["merge_mode"] = std::string(to_string(*merge_));
        }
        return j;
    }
    static Derived from_config(const nlohmann::json& j) {
        std::optional<nn::merge_mode> m;
        if (j.is_object() && j.contains("bidirectional") && config_field<bool>(j, "bidirectional"))
            m = merge_mode_from_string(config_field<std::string>(j, "merge_mode"));
        return Derived(config_field<std::size_t>(j, "input_size"),
                       config_field<std::vector<std::size_t>>(j, "hidden_sizes"),
                       config_field<bool>(j, "return_sequences"), 0, m);
    }

    /// Runs the stack over a chunk x (input x steps*batch); y is the last layer's (merged) state at each
    /// sample's own last step (features x batch) or at every step (return_sequences). For the reverse
    /// direction the "last" state is the one after reading step 0 (PyTorch's h_n). When no backward pass
    /// follows (predict), kernels that have one run their inference entry: the same bits, less memory.
    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        const std::size_t L = hidden_.size(), D = directions();
        const Eigen::Index B = ctx.batch;
        c.dirs.resize(L * D);
        if (D == 2) {
            c.x_rev.resize(L);
            c.y_rev.resize(L);
            c.merged.resize(L);
        }
        const matrix<T>* in = &x;
        for (std::size_t k = 0; k < L; ++k) {
            auto& f = c.dirs[k * D];
            const bool seq = k + 1 < L || return_sequences_;
            run(k, 0, *in, ctx, f, seq);
            if (D == 1) {
                if (seq) in = &f.states;
                else y = f.states.rightCols(B);  // carried states: each sample's own last step
                continue;
            }
            auto& r = c.dirs[k * D + 1];
            reverse_within_lengths(*in, c.x_rev[k], ctx);
            run(k, 1, c.x_rev[k], ctx, r, seq);
            if (seq) {
                reverse_within_lengths(r.states, c.y_rev[k], ctx);
                merge_outputs(f.states, c.y_rev[k], k + 1 < L ? c.merged[k] : y);
                in = &c.merged[k];
            } else {
                merge_outputs(f.states.rightCols(B), r.states.rightCols(B), y);
            }
        }
        if (D == 1 && return_sequences_) y = *in;
    }

    /// Backpropagation through time; accumulates into grad (laid out as storage()), writes dx if not null.
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        const std::size_t L = hidden_.size(), D = directions();
        const Eigen::Index B = ctx.batch;
        c.dx.resize(L);
        for (std::size_t k = L; k-- > 0;) {
            const bool top = k + 1 == L, seq = !top || return_sequences_;
            const matrix<T>& xin = k == 0 ? x : (D == 2 ? c.merged[k - 1] : c.dirs[k - 1].states);
            const matrix<T>& dout = top ? dy : c.dx[k + 1];
            matrix<T>* dxk = k > 0 ? &c.dx[k] : dx;
            auto& f = c.dirs[k * D];
            if (D == 1) {
                Kernels::backward(weights(k, 0), xin, ctx, f, seq ? &dout : nullptr, seq ? nullptr : &dout,
                                  grads(k, 0, grad), dxk);
                continue;
            }
            auto& r = c.dirs[k * D + 1];
            if (seq) split_gradient(dout, f.states, c.y_rev[k], c);
            else split_gradient(dout, f.states.rightCols(B), r.states.rightCols(B), c);
            if (seq) reverse_within_lengths(c.dy_rev, c.dy_rev_t, ctx);
            Kernels::backward(weights(k, 0), xin, ctx, f, seq ? &c.dy_fwd : nullptr, seq ? nullptr : &c.dy_fwd,
                              grads(k, 0, grad), dxk);
            Kernels::backward(weights(k, 1), c.x_rev[k], ctx, r, seq ? &c.dy_rev_t : nullptr, seq ? nullptr : &c.dy_rev,
                              grads(k, 1, grad), dxk ? &c.dx_rev : nullptr);
            if (dxk) {
                reverse_within_lengths(c.dx_rev, c.dx_rev_t, ctx);
                *dxk += c.dx_rev_t;
            }
        }
    }

protected:
    recurrent_stack(std::size_t input_size, std::vector<std::size_t> hidden_sizes, bool return_sequences,
                    std::uint64_t seed, std::optional<nn::merge_mode> merge)
        : input_(input_size), hidden_(std::move(hidden_sizes)), return_sequences_(return_sequences), merge_(merge) {
        const std::string name = Derived::type_name;
        if (input_ == 0) throw value_error(name + ": input_size must be positive");
        if (hidden_.empty()) throw value_error(name + ": at least one hidden size is needed");
        for (std::size_t k = 0; k < hidden_.size(); ++k) {
            const std::size_t H = hidden_[k], in = k == 0 ? input_ : width(k - 1), G = Gates;
            if (H == 0) throw value_error(name + ": hidden sizes must be positive");
            for (std::size_t d = 0; d < directions(); ++d) {
                const std::string l = "_l" + std::to_string(k) + (d == 1 ? "_reverse" : "");
                offsets_.push_back(store_.declare("weight_ih" + l, {G * H, in}, parameter_role::kernel));
                store_.declare("weight_hh" + l, {G * H, H}, parameter_role::recurrent);
                store_.declare("bias_ih" + l, {G * H}, parameter_role::bias);
                store_.declare("bias_hh" + l, {G * H}, parameter_role::bias);
            }
        }
        reset_parameters(seed);
    }

private:
    std::size_t directions() const noexcept { return merge_ ? 2 : 1; }

    /// Layer k, direction d over x. Without `seq` only each sample's last state is needed (in
    /// states.rightCols(batch), where forward also leaves it).
    void run(std::size_t k, std::size_t d, const matrix<T>& x, const chunk_info& ctx, typename Kernels::cache& c,
             bool seq) const {
        if constexpr (has_infer<Kernels, T>::value) {
            if (!ctx.needs_backward) {
                Kernels::infer(weights(k, d), x, ctx, c, seq);
                return;
            }
        }
        static_cast<void>(seq);
        Kernels::forward(weights(k, d), x, ctx, c);
    }
    /// Features of layer k's (merged) output.
    std::size_t width(std::size_t k) const noexcept {
        return merge_ == nn::merge_mode::concat ? 2 * hidden_[k] : hidden_[k];
    }

    template <class A, class R>
    void merge_outputs(const A& yf, const R& yr, matrix<T>& out) const {
        switch (*merge_) {
            case nn::merge_mode::concat:
                out.resize(2 * yf.rows(), yf.cols());
                out.topRows(yf.rows()) = yf;
                out.bottomRows(yf.rows()) = yr;
                break;
            case nn::merge_mode::sum: out = yf + yr; break;
            case nn::merge_mode::mul: out = yf.cwiseProduct(yr); break;
            case nn::merge_mode::ave: out = T(0.5) * (yf + yr); break;
        }
    }

    /// c.dy_fwd, c.dy_rev from dout, the gradient w.r.t. the merged output of one layer.
    template <class A, class R>
    void split_gradient(const matrix<T>& dout, const A& yf, const R& yr, cache& c) const {
        const Eigen::Index H = yf.rows();
        switch (*merge_) {
            case nn::merge_mode::concat:
                c.dy_fwd = dout.topRows(H);
                c.dy_rev = dout.bottomRows(H);
                break;
            case nn::merge_mode::sum:
                c.dy_fwd = dout;
                c.dy_rev = dout;
                break;
            case nn::merge_mode::mul:
                c.dy_fwd = dout.cwiseProduct(yr);
                c.dy_rev = dout.cwiseProduct(yf);
                break;
            case nn::merge_mode::ave:
                c.dy_fwd = T(0.5) * dout;
                c.dy_rev = c.dy_fwd;
                break;
        }
    }

    typename Kernels::weights weights(std::size_t k, std::size_t d) const noexcept {
        const T* p = store_.values().data() + offsets_[k * directions() + d];
        const std::size_t H = hidden_[k], in = k == 0 ? input_ : width(k - 1), G = Gates;
        return {p,
                p + G * H * in,
                p + G * H * (in + H),
                p + G * H * (in + H + 1),
                static_cast<Eigen::Index>(in),
                static_cast<Eigen::Index>(H)};
    }
    typename Kernels::grads grads(std::size_t k, std::size_t d, T* flat) const noexcept {
        T* p = flat + offsets_[k * directions() + d];
        const std::size_t H = hidden_[k], in = k == 0 ? input_ : width(k - 1), G = Gates;
        return {p, p + G * H * in, p + G * H * (in + H), p + G * H * (in + H + 1)};
    }

    std::size_t input_;
    std::vector<std::size_t> hidden_;
    bool return_sequences_;
    std::optional<nn::merge_mode> merge_;
    std::vector<std::size_t> offsets_;  ///< start of layer k, direction d at k * directions + d
    parameter_storage<T> store_;
};

}  // namespace detail
}  // namespace ferrum::nn
