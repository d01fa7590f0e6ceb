// Test helper: one oracle case of a layer (tools/make_*_reference.py: PyTorch 1.13) as a one-layer ferrum
// model — input "x" -> "layer", built by the layer registry from the case's type name and config, with the
// case's parameter values — and its check: forward (training or inference, as the case says), then backward
// of sum(output * grad_output); output, dx and every named parameter gradient against the case's values.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/nn.hpp"
#include "reference.hpp"

namespace ferrum_test {

template <class A>
std::vector<double> values_of(const A& a) {
    return std::vector<double>(a.begin(), a.end());
}

/// Case fields: shape [B, S, F], lengths, type, config, params [{name, shape, value, grad}], x, output,
/// output_shape, grad_output, dx; optional: training (default true), chunk_size.
template <class T>
struct layer_oracle_case {
    const nlohmann::json& c;
    ferrum::nn::functional<T> model;
    std::size_t B = 0, S = 0, F = 0;
    std::vector<std::size_t> lengths;
    xt::xtensor<T, 3> x;

    explicit layer_oracle_case(const nlohmann::json& cs) : c(cs) {
        const auto shape = c["shape"].get<std::vector<std::size_t>>();
        REQUIRE(shape.size() == 3);
        B = shape[0], S = shape[1], F = shape[2];
        lengths = c["lengths"].get<std::vector<std::size_t>>();
        const auto in = model.input("x", F, true);
        model.add("layer",
                  ferrum::nn::layer_registry<T, ferrum::default_backend>::instance().create(
                      c["type"].get<std::string>(), c["config"]),
                  in);
        if (c.contains("chunk_size")) model.set_chunk_size(c["chunk_size"].get<std::size_t>());
        auto params = model.parameters();
        REQUIRE(params.size() == c["params"].size());
        for (const auto& p : c["params"]) {
            const std::string name = "layer." + p["name"].get<std::string>();
            const auto it = std::find_if(params.begin(), params.end(), [&](const auto& r) { return r.name == name; });
            REQUIRE(it != params.end());
            CHECK(it->shape == p["shape"].get<std::vector<std::size_t>>());
            const auto v = vec(p["value"]);
            REQUIRE(v.size() == it->size());
            for (std::size_t i = 0; i < v.size(); ++i) it->value[i] = static_cast<T>(v[i]);
        }
        const auto xv = vec(c["x"]);
        x = xt::xtensor<T, 3>::from_shape({B, S, F});
        REQUIRE(xv.size() == x.size());
        for (std::size_t i = 0; i < xv.size(); ++i) x.data()[i] = static_cast<T>(xv[i]);
    }

    /// Output (and its shape), dx and every parameter gradient to `tol` of the largest expected value.
    void check(double tol) {
        const auto m = c.value("training", true) ? ferrum::nn::mode::training : ferrum::nn::mode::inference;
        const auto y = model.forward({x}, lengths, m);
        INFO(c["type"].get<std::string>() << " " << c["config"].dump().substr(0, 200));
        const auto out_shape = c["output_shape"].get<std::vector<std::size_t>>();
        CHECK(std::vector<std::size_t>(y.shape().begin(), y.shape().end()) == out_shape);
        CHECK(max_scaled_error(values_of(y), vec(c["output"])) < tol);
        const auto gv = vec(c["grad_output"]);
        xt::xarray<T> g = xt::xarray<T>::from_shape(out_shape);
        REQUIRE(g.size() == gv.size());
        for (std::size_t i = 0; i < gv.size(); ++i) g.data()[i] = static_cast<T>(gv[i]);
        model.zero_grad();
        const auto dx = model.backward(g, true);
        CHECK(max_scaled_error(values_of(dx.at(0)), vec(c["dx"])) < tol);
        for (const auto& p : model.parameters())
            for (const auto& want : c["params"])
                if ("layer." + want["name"].get<std::string>() == p.name) {
                    INFO(p.name);
                    CHECK(max_scaled_error(std::vector<double>(p.grad, p.grad + p.size()), vec(want["grad"])) < tol);
                }
    }
};

}  // namespace ferrum_test
