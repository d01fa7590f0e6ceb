// Parity with PyTorch: torch.nn.GRU x3 (20, 16, 8) + Linear(8, 1) on the last step (tests/data/gru_stack.json,
// made by ../shared/reference/make_reference.py). Prediction, loss and every gradient to 1e-10 in double;
// the float32 path to a stated relative tolerance.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "ferrum/nn/sequential.hpp"
#include "reference.hpp"

namespace {

using json = nlohmann::json;

using ferrum_test::flat;
std::vector<std::size_t> shape_of(const json& j) {
    std::vector<std::size_t> s;
    for (const json* p = &j; p->is_array(); p = &(*p)[0]) s.push_back(p->size());
    return s;
}

template <class T>
struct parity_case {
    json ref = ferrum_test::load_reference("gru_stack.json");
    ferrum::nn::sequential<T> model;
    std::size_t B = 0, S = 0, F = 0;
    xt::xtensor<T, 3> x;

    parity_case() {
        const auto xs = shape_of(ref["x"]);
        B = xs[0], S = xs[1], F = xs[2];
        const auto& layers = ref["gru"];
        for (std::size_t k = 0; k < layers.size(); ++k) {
            const auto wih = shape_of(layers[k]["weight_ih_l0"]["value"]);
            const auto whh = shape_of(layers[k]["weight_hh_l0"]["value"]);
            model.add(ferrum::nn::gru<T>(wih[1], whh[1], k + 1 < layers.size()));
        }
        const auto hw = shape_of(ref["head"]["weight"]["value"]);
        model.add(ferrum::nn::dense<T>(hw[1], hw[0]));
        for (auto& p : model.parameters()) {
            const auto dot = p.name.find('.');
            const std::size_t idx = std::stoul(p.name.substr(0, dot));
            const std::string name = p.name.substr(dot + 1);
            const json& src = idx < layers.size() ? layers[idx][name] : ref["head"][name];
            REQUIRE(shape_of(src["value"]) == p.shape);
            const auto v = flat(src["value"]);
            for (std::size_t i = 0; i < v.size(); ++i) p.value[i] = static_cast<T>(v[i]);
        }
        const auto xv = flat(ref["x"]);
        x = xt::xtensor<T, 3>::from_shape({B, S, F});
        for (std::size_t i = 0; i < xv.size(); ++i) x.data()[i] = static_cast<T>(xv[i]);
    }

    // loss = mean(sw (yhat - target)^2) and its gradient w.r.t. yhat, computed here from the definition
    std::pair<double, xt::xtensor<T, 2>> loss(const xt::xtensor<T, 2>& yhat) const {
        const auto tg = flat(ref["target"]), sw = flat(ref["sample_weight"]);
        double l = 0;
        xt::xtensor<T, 2> g = xt::xtensor<T, 2>::from_shape({B, 1});
        for (std::size_t b = 0; b < B; ++b) {
            const double r = static_cast<double>(yhat(b, 0)) - tg[b];
            l += sw[b] * r * r / static_cast<double>(B);
            g(b, 0) = static_cast<T>(2.0 * sw[b] * r / static_cast<double>(B));
        }
        return {l, g};
    }
};

template <class T>
void check_parity(double tol, std::size_t threads, std::size_t chunk) {
    parity_case<T> c;
    c.model.set_num_threads(threads);
    c.model.set_chunk_size(chunk);
    const auto yhat = c.model.forward(c.x, {}, ferrum::nn::mode::training);
    std::vector<double> y(yhat.begin(), yhat.end());
    CHECK(ferrum_test::max_scaled_error(y, flat(c.ref["yhat"])) < tol);
    const auto [l, g] = c.loss(yhat);
    const double want_loss = c.ref["loss"];
    CHECK(std::abs(l - want_loss) < tol * std::abs(want_loss));
    c.model.zero_grad();
    const auto gx = c.model.backward(g, true);
    CHECK(ferrum_test::max_scaled_error(std::vector<double>(gx.begin(), gx.end()), flat(c.ref["grad_x"])) < tol);
    const auto& layers = c.ref["gru"];
    for (auto& p : c.model.parameters()) {
        const auto dot = p.name.find('.');
        const std::size_t idx = std::stoul(p.name.substr(0, dot));
        const std::string name = p.name.substr(dot + 1);
        const json& src = idx < layers.size() ? layers[idx][name] : c.ref["head"][name];
        INFO(p.name);
        CHECK(ferrum_test::max_scaled_error(std::vector<double>(p.grad, p.grad + p.size()), flat(src["grad"])) < tol);
    }
}

}  // namespace

TEST_CASE("GRU stack + linear head equals PyTorch in float64", "[nn][gru][parity]") {
    // the max relative error (to each tensor's largest entry) is about 1e-15 here
    check_parity<double>(1e-10, 1, 64);
    check_parity<double>(1e-10, 2, 1);  // one sample per chunk, two threads: same mathematics
}

TEST_CASE("GRU stack + linear head equals PyTorch in float32 to 1e-5 relative", "[nn][gru][parity]") {
    check_parity<float>(1e-5, 2, 2);
}
