// Test helper: a one-input nn model's parameter and input gradients against central finite differences of
// loss = sum(y * g); a padded step (past its sample's length) must have a zero input gradient.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/nn/detail/block.hpp"

namespace ferrum_test {

/// Checks every `param_stride`-th parameter and every `x_stride`-th element of x (batch x steps x features)
/// against (loss(v + eps) - loss(v - eps)) / (2 eps), eps = 1e-6, forward in `mode`. Returns how many it
/// checked.
template <class Model>
int check_finite_differences(Model& m, xt::xtensor<double, 3>& x, const std::vector<std::size_t>& lengths,
                             const xt::xarray<double>& g, ferrum::nn::mode mode, std::size_t param_stride,
                             std::size_t x_stride) {
    auto loss = [&] {
        const auto y = m.forward({x}, lengths, mode);
        double l = 0;
        for (std::size_t i = 0; i < y.size(); ++i) l += y.data()[i] * g.data()[i];
        return l;
    };
    loss();
    m.zero_grad();
    const auto dx = m.backward(g, true).at(0);
    const double eps = 1e-6;
    int checked = 0;
    for (auto& p : m.parameters())
        for (std::size_t i = 0; i < p.size(); i += param_stride) {
            const double v = p.value[i];
            p.value[i] = v + eps;
            const double up = loss();
            p.value[i] = v - eps;
            const double down = loss();
            p.value[i] = v;
            INFO(p.name << "[" << i << "]");
            CHECK(p.grad[i] == Approx((up - down) / (2 * eps)).margin(1e-7).epsilon(1e-6));
            ++checked;
        }
    const std::size_t steps = x.shape(1), features = x.shape(2);
    for (std::size_t i = 0; i < x.size(); i += x_stride) {
        const double v = x.data()[i];
        x.data()[i] = v + eps;
        const double up = loss();
        x.data()[i] = v - eps;
        const double down = loss();
        x.data()[i] = v;
        const std::size_t b = i / (steps * features), t = (i / features) % steps;
        INFO("x[" << i << "]");
        if (t >= lengths[b]) CHECK(dx.data()[i] == 0.0);  // a padded step: no effect, zero gradient
        else CHECK(dx.data()[i] == Approx((up - down) / (2 * eps)).margin(1e-7).epsilon(1e-6));
        ++checked;
    }
    return checked;
}

}  // namespace ferrum_test
