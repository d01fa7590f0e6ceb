// The C++ side shared by bench_nn.cpp (CPU backend) and bench_gpu.cpp (cuDNN backend): the paper's GRU
// regressor (Monti et al. 2025: GRU 2->20->16->8, dropout 0.2/0.2/0.1, dense 8->1), the synthetic data
// both train on and one weighted-MSE Adam step; paper_gru.py is its PyTorch twin.
#pragma once

#include <algorithm>
#include <cstddef>
#include <random>

#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/sequential.hpp"

namespace ferrum_bench {

/// n sequences of `steps` x 2 inputs ~ N(0, 1), targets ~ N(-1.5, 0.5), weights ~ U(0.5, 1.5):
/// throughput of dense arithmetic does not depend on the values.
template <class T>
struct gru_data {
    gru_data(std::size_t n, std::size_t steps_) : steps(steps_) {
        std::mt19937_64 gen(7);
        std::normal_distribution<float> N01(0.f, 1.f);
        x = xt::xtensor<T, 3>::from_shape({n, steps, 2});
        for (auto& v : x) v = N01(gen);
        y.resize(static_cast<Eigen::Index>(n));
        w.resize(static_cast<Eigen::Index>(n));
        for (std::size_t i = 0; i < n; ++i) {
            y[static_cast<Eigen::Index>(i)] = 0.5f * N01(gen) - 1.5f;
            w[static_cast<Eigen::Index>(i)] = 0.5f + std::uniform_real_distribution<float>(0, 1)(gen);
        }
    }
    /// Sequences [i0, i1) as a batch.
    xt::xtensor<T, 3> slice(std::size_t i0, std::size_t i1) const {
        xt::xtensor<T, 3> b = xt::xtensor<T, 3>::from_shape({i1 - i0, steps, 2});
        std::copy(x.data() + i0 * steps * 2, x.data() + i1 * steps * 2, b.data());
        return b;
    }

    std::size_t steps;
    xt::xtensor<T, 3> x;
    ferrum::nn::output_vector<T> y, w;
};

/// The paper's architecture on backend B, parameters from seed 1.
template <class T, class B = ferrum::default_backend>
ferrum::nn::sequential<T, B> make_paper_gru() {
    namespace nn = ferrum::nn;
    nn::sequential<T, B> model;
    model.add(nn::gru<T, B>(2, 20, true)).add(nn::dropout<T, B>(0.2)).add(nn::gru<T, B>(20, 16, true));
    model.add(nn::dropout<T, B>(0.2)).add(nn::gru<T, B>(16, 8)).add(nn::dropout<T, B>(0.1)).add(nn::dense<T, B>(8, 1));
    model.reset_parameters(1);
    return model;
}

/// One training step on sequences [i, i1): forward, weighted MSE, backward, Adam; returns the loss.
template <class T, class B>
double train_step(ferrum::nn::sequential<T, B>& model, ferrum::nn::adam<T>& opt,
                  const ferrum::nn::parameter_list<T>& params, const gru_data<T>& data, std::size_t i, std::size_t i1) {
    namespace nn = ferrum::nn;
    const auto xb = data.slice(i, i1);
    model.zero_grad();
    const auto yhat = model.forward(xb, {}, nn::mode::training);
    const auto len = static_cast<Eigen::Index>(i1 - i);
    const Eigen::Map<const nn::output_vector<T>> yh(yhat.data(), len);
    const auto l = nn::mse_loss(yh, data.y.segment(static_cast<Eigen::Index>(i), len),
                                data.w.segment(static_cast<Eigen::Index>(i), len));
    xt::xtensor<T, 2> g = xt::xtensor<T, 2>::from_shape({i1 - i, 1});
    std::copy(l.grad.data(), l.grad.data() + l.grad.size(), g.data());
    model.backward(g);
    opt.step(params);
    return static_cast<double>(l.value);
}

}  // namespace ferrum_bench
