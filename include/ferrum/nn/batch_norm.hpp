// Batch normalisation over channels (Ioffe & Szegedy 2015, Algorithm 1), as torch.nn.BatchNorm1d on
// (batch, channels[, time]): training normalises with the batch's mean and biased variance over every valid
// step of every sample and updates running statistics with the unbiased variance,
// running = (1 - momentum) running + momentum batch; inference and Monte-Carlo dropout use the running
// statistics. Padded steps of a masked sequence are left out of the statistics, output zeros and get zero
// gradient (PyTorch's BatchNorm1d on the valid steps alone).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ferrum/backend/cpu/conv_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief Batch normalisation of the features (channels) of tables or sequences; parameters weight [C]
/// (ones) and bias [C] (zeros) as torch.nn.BatchNorm1d(C, eps, momentum), running statistics in the model
/// file's layer config.
///
/// The engine runs a batch in chunks of `chunk_size` samples (default 64) that never wait for each other,
/// so in training each chunk is normalised with its own statistics ("ghost batch normalisation", Hoffer et
/// al. 2017): identical to PyTorch when the batch fits one chunk, per sub-batch of chunk_size samples
/// otherwise (set_chunk_size(batch) for PyTorch's whole-batch statistics). The running statistics are
/// always updated once per training forward pass from the whole batch's mean and unbiased variance (the
/// chunks' moments combined in sample order), before the next forward pass or any read of them.
/// CPU kernels on every backend (host memory). \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class batch_norm {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::batch_norm is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "batch_norm";
    using cache = backend::conv_cpu::batch_norm_cache<T>;

    explicit batch_norm(std::size_t channels, double eps = 1e-5, double momentum = 0.1)
        : channels_(channels), eps_(eps), momentum_(momentum) {
        if (channels == 0) throw value_error("batch_norm: channels must be positive");
        if (!(eps > 0.0)) throw value_error("batch_norm: eps must be positive");
        if (!(momentum >= 0.0 && momentum <= 1.0)) throw value_error("batch_norm: momentum must be in [0, 1]");
        store_.declare("weight", {channels_}, parameter_role::kernel);
        store_.declare("bias", {channels_}, parameter_role::bias);
        reset_parameters(0);
    }

    std::size_t channels() const noexcept { return channels_; }
    double eps() const noexcept { return eps_; }
    double momentum() const noexcept { return momentum_; }

    /// PyTorch's initialisation: weight 1, bias 0, running mean 0, running variance 1 (no seed needed).
    void reset_parameters(std::uint64_t) {
        for (std::size_t i = 0; i < channels_; ++i) {
            store_.values()[i] = T(1);
            store_.values()[channels_ + i] = T(0);
        }
        std::lock_guard<std::mutex> lock(stats_.mutex);
        stats_.mean.assign(channels_, T(0));
        stats_.var.assign(channels_, T(1));
        stats_.pending.clear();
        stats_.batches = 0;
    }

    /// The running statistics (after folding in the last training pass).
    std::vector<T> running_mean() const { return statistics().first; }
    std::vector<T> running_var() const { return statistics().second; }
    /// Training forward passes counted so far (PyTorch's num_batches_tracked).
    std::uint64_t num_batches_tracked() const {
        fold();
        std::lock_guard<std::mutex> lock(stats_.mutex);
        return stats_.batches;
    }
    /// Sets the running statistics (e.g. from an imported model); variances must be >= 0.
    void set_running_statistics(const std::vector<T>& mean, const std::vector<T>& var) {
        if (mean.size() != channels_ || var.size() != channels_)
            throw value_error("batch_norm: running statistics need " + std::to_string(channels_) + " values each");
        for (std::size_t i = 0; i < channels_; ++i)
            if (!std::isfinite(mean[i]) || !std::isfinite(var[i]) || var[i] < T(0))
                throw value_error("batch_norm: running statistic " + std::to_string(i) +
                                  " is not finite or a variance is negative");
        std::lock_guard<std::mutex> lock(stats_.mutex);
        stats_.mean = mean;
        stats_.var = var;
        stats_.pending.clear();
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const {
        if (static_cast<std::size_t>(in.features) != channels_)
            throw value_error("batch_norm: input has " + std::to_string(in.features) + " features, layer expects " +
                              std::to_string(channels_));
        return in;
    }

    std::uint64_t begin_forward(mode) {
        fold();
        return 0;
    }

    nlohmann::json config() const {
        const auto [mean, var] = statistics();
        return {{"channels", channels_}, {"eps", eps_},        {"momentum", momentum_},
                {"running_mean", mean},  {"running_var", var}, {"num_batches_tracked", num_batches_tracked()}};
    }
    static batch_norm from_config(const nlohmann::json& j) {
        batch_norm b(config_field<std::size_t>(j, "channels"), config_field<double>(j, "eps"),
                     config_field<double>(j, "momentum"));
        b.set_running_statistics(config_field<std::vector<T>>(j, "running_mean"),
                                 config_field<std::vector<T>>(j, "running_var"));
        b.stats_.batches = config_field<std::uint64_t>(j, "num_batches_tracked");
        return b;
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        const T* p = store_.values().data();
        if (ctx.run_mode == mode::training) {
            auto m = backend::conv_cpu::batch_norm_forward<T>(p, p + channels_, nullptr, nullptr, eps_, true, x, ctx, y,
                                                              c);
            m.first_sample = ctx.first_sample;
            std::lock_guard<std::mutex> lock(stats_.mutex);
            stats_.pending.push_back(std::move(m));
            return;
        }
        const auto [mean, var] = statistics();
        backend::conv_cpu::batch_norm_forward<T>(p, p + channels_, mean.data(), var.data(), eps_, false, x, ctx, y, c);
    }
    void backward(const matrix<T>&, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info&) const {
        backend::conv_cpu::batch_norm_backward(store_.values().data(), dy, grad, grad + channels_, dx, c);
    }

private:
    /// Running statistics and the moments of the chunks of the last training pass not yet folded in.
    /// Copying a layer copies the values (a mutex is not copyable).
    struct running_statistics {
        std::vector<T> mean, var;
        std::vector<backend::conv_cpu::moments> pending;
        std::uint64_t batches = 0;
        mutable std::mutex mutex;
        running_statistics() = default;
        running_statistics(const running_statistics& o) { *this = o; }
        running_statistics& operator=(const running_statistics& o) {
            if (this == &o) return *this;
            std::scoped_lock lock(mutex, o.mutex);
            mean = o.mean, var = o.var, pending = o.pending, batches = o.batches;
            return *this;
        }
    };

    std::pair<std::vector<T>, std::vector<T>> statistics() const {
        fold();
        std::lock_guard<std::mutex> lock(stats_.mutex);
        return {stats_.mean, stats_.var};
    }

    /// Folds the pending chunk moments into the running statistics: the batch's mean and unbiased variance
    /// from the chunks' (count, mean, M2) in sample order (Chan, Golub & LeVeque 1983), then one momentum
    /// step. A batch of fewer than two valid values per channel leaves the variance as it is.
    void fold() const {
        std::lock_guard<std::mutex> lock(stats_.mutex);
        auto& pend = stats_.pending;
        if (pend.empty()) return;
        std::sort(pend.begin(), pend.end(),
                  [](const auto& a, const auto& b) { return a.first_sample < b.first_sample; });
        double n = 0;
        for (const auto& m : pend) n += m.count;
        for (std::size_t ch = 0; ch < channels_; ++ch) {
            double mean = 0, m2 = 0;
            for (const auto& m : pend) mean += m.count * m.mean[ch];
            mean /= n;
            for (const auto& m : pend) m2 += m.m2[ch] + m.count * (m.mean[ch] - mean) * (m.mean[ch] - mean);
            const double r = momentum_;
            stats_.mean[ch] = static_cast<T>((1 - r) * static_cast<double>(stats_.mean[ch]) + r * mean);
            if (n > 1)
                stats_.var[ch] = static_cast<T>((1 - r) * static_cast<double>(stats_.var[ch]) + r * m2 / (n - 1));
        }
        ++stats_.batches;
        pend.clear();
    }

    std::size_t channels_;
    double eps_, momentum_;
    parameter_storage<T> store_;
    mutable running_statistics stats_;
};

}  // namespace ferrum::nn
