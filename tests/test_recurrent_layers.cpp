// LSTM and bidirectional GRU/LSTM layers against PyTorch 1.13 (tests/data/reference/recurrent_layers.json, made
// by tools/make_recurrent_reference.py): ragged batches (pack_padded_sequence), outputs, every parameter
// gradient and dx, in float64 (1e-10) and float32 (1e-5, relative to each tensor's largest entry); a
// finite-difference check that does not rely on PyTorch; model files round-trip.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/lstm.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/sequential.hpp"
#include "reference.hpp"

namespace {

using json = nlohmann::json;
namespace nn = ferrum::nn;

template <class T>
nn::any_layer<T, ferrum::backend::cpu> recurrent_layer_of(const json& c, std::uint64_t seed = 0) {
    std::optional<nn::merge_mode> m;
    if (!c["merge_mode"].is_null()) m = nn::merge_mode_from_string(c["merge_mode"].get<std::string>());
    const auto in = c["input_size"].get<std::size_t>();
    const auto hidden = c["hidden_sizes"].get<std::vector<std::size_t>>();
    const bool seq = c["return_sequences"];
    if (c["type"] == "lstm") return nn::lstm<T, ferrum::backend::cpu>(in, hidden, seq, seed, m);
    return nn::gru<T, ferrum::backend::cpu>(in, hidden, seq, seed, m);
}

/// One oracle case as a one-layer sequential model with PyTorch's parameters.
template <class T>
struct recurrent_case {
    const json& c;
    nn::sequential<T, ferrum::backend::cpu> model;
    xt::xtensor<T, 3> x;
    std::vector<std::size_t> lengths;

    explicit recurrent_case(const json& cs) : c(cs) {
        model.add(recurrent_layer_of<T>(c));
        const auto params = model.parameters();
        REQUIRE(params.size() == c["params"].size());
        for (std::size_t i = 0; i < params.size(); ++i) {
            const json& p = c["params"][i];
            REQUIRE(params[i].name == "0." + p["name"].get<std::string>());
            REQUIRE(params[i].shape == p["shape"].get<std::vector<std::size_t>>());
            const auto v = ferrum_test::vec(p["value"]);
            for (std::size_t k = 0; k < v.size(); ++k) params[i].value[k] = static_cast<T>(v[k]);
        }
        const auto xs = c["x_shape"].get<std::vector<std::size_t>>();
        x = xt::xtensor<T, 3>::from_shape({xs[0], xs[1], xs[2]});
        const auto xv = ferrum_test::vec(c["x"]);
        std::transform(xv.begin(), xv.end(), x.begin(), [](double v) { return static_cast<T>(v); });
        lengths = c["lengths"].get<std::vector<std::size_t>>();
    }

    bool sequences() const { return c["return_sequences"].get<bool>(); }

    std::vector<double> forward(nn::mode m = nn::mode::training) {
        if (sequences()) {
            const auto y = model.forward_sequence(x, lengths, m);
            return {y.begin(), y.end()};
        }
        const auto y = model.forward(x, lengths, m);
        return {y.begin(), y.end()};
    }

    /// d(sum(y * upstream)) / dx after forward(); parameter gradients land in model.parameters().
    std::vector<double> backward() {
        model.zero_grad();
        const auto u = ferrum_test::vec(c["upstream"]);
        const auto ys = c["y_shape"].get<std::vector<std::size_t>>();
        xt::xarray<T> gx;
        if (sequences()) {
            auto g = xt::xtensor<T, 3>::from_shape({ys[0], ys[1], ys[2]});
            std::transform(u.begin(), u.end(), g.begin(), [](double v) { return static_cast<T>(v); });
            gx = model.backward(g, true);
        } else {
            auto g = xt::xtensor<T, 2>::from_shape({ys[0], ys[1]});
            std::transform(u.begin(), u.end(), g.begin(), [](double v) { return static_cast<T>(v); });
            gx = model.backward(g, true);
        }
        return {gx.begin(), gx.end()};
    }

    double loss() {
        const auto y = forward(nn::mode::inference);
        const auto u = ferrum_test::vec(c["upstream"]);
        double l = 0;
        for (std::size_t i = 0; i < y.size(); ++i) l += y[i] * u[i];
        return l;
    }
};

template <class T>
void check_recurrent_case(const json& c, double tol, std::size_t threads, std::size_t chunk) {
    INFO(c["name"].get<std::string>() << " threads " << threads << " chunk " << chunk);
    recurrent_case<T> rc(c);
    rc.model.set_num_threads(threads);
    rc.model.set_chunk_size(chunk);
    CHECK(ferrum_test::max_scaled_error(rc.forward(), ferrum_test::vec(c["y"])) < tol);
    CHECK(ferrum_test::max_scaled_error(rc.backward(), ferrum_test::vec(c["dx"])) < tol);
    const auto params = rc.model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        INFO(params[i].name);
        const std::vector<double> g(params[i].grad, params[i].grad + params[i].size());
        CHECK(ferrum_test::max_scaled_error(g, ferrum_test::vec(c["params"][i]["grad"])) < tol);
    }
}

const json& recurrent_reference() {
    static const json j = ferrum_test::load_reference("reference/recurrent_layers.json");
    return j;
}

std::filesystem::path recurrent_temp_dir() {
    const auto d = std::filesystem::temp_directory_path() /
                   ("ferrum_recurrent_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(d);
    return d;
}

}  // namespace

TEST_CASE("LSTM and bidirectional GRU/LSTM equal PyTorch in float64", "[nn][lstm][bidirectional][parity]") {
    const auto& cases = recurrent_reference()["cases"];
    REQUIRE(cases.size() >= 13);
    for (const auto& c : cases) check_recurrent_case<double>(c, 1e-10, 1, 64);
    // one sample per chunk on two threads: the reversal within lengths must not depend on the chunking
    for (const auto& c : cases) check_recurrent_case<double>(c, 1e-10, 2, 1);
}

TEST_CASE("LSTM and bidirectional GRU/LSTM equal PyTorch in float32 to 1e-5 relative",
          "[nn][lstm][bidirectional][parity]") {
    for (const auto& c : recurrent_reference()["cases"]) check_recurrent_case<float>(c, 1e-5, 2, 2);
}

TEST_CASE("bidirectional LSTM gradients equal central finite differences", "[nn][lstm][bidirectional]") {
    // independent of PyTorch: d sum(y * upstream) / d theta by (L(theta + h) - L(theta - h)) / 2h
    const auto& cases = recurrent_reference()["cases"];
    for (const auto& c : cases) {
        const std::string name = c["name"];
        if (name != "bilstm_mul_last" && name != "bilstm_2layer_concat_sequences") continue;
        INFO(name);
        recurrent_case<double> rc(c);
        rc.forward();
        const auto dx = rc.backward();
        const double h = 1e-6;
        for (auto& p : rc.model.parameters()) {
            for (std::size_t k = 0; k < p.size(); k += 7) {
                const double v = p.value[k], analytic = p.grad[k];
                p.value[k] = v + h;
                const double lp = rc.loss();
                p.value[k] = v - h;
                const double lm = rc.loss();
                p.value[k] = v;
                INFO(p.name << "[" << k << "]");
                CHECK((lp - lm) / (2 * h) == Approx(analytic).margin(1e-7).epsilon(1e-6));
            }
        }
        for (std::size_t b = 0; b < rc.lengths.size(); ++b)
            for (std::size_t t = 0; t < rc.x.shape(1); t += 2)
                for (std::size_t f = 0; f < rc.x.shape(2); ++f) {
                    const double v = rc.x(b, t, f);
                    rc.x(b, t, f) = v + h;
                    const double lp = rc.loss();
                    rc.x(b, t, f) = v - h;
                    const double lm = rc.loss();
                    rc.x(b, t, f) = v;
                    const double analytic = dx[(b * rc.x.shape(1) + t) * rc.x.shape(2) + f];
                    INFO("x[" << b << "," << t << "," << f << "]");
                    CHECK((lp - lm) / (2 * h) == Approx(analytic).margin(1e-7).epsilon(1e-6));
                }
    }
}

TEST_CASE("bidirectional layers: merge widths, reverse parameter names, bad configurations",
          "[nn][lstm][bidirectional]") {
    const nn::lstm<double, ferrum::backend::cpu> bi(3, {5, 4}, false, 1, nn::merge_mode::concat);
    CHECK(bi.output_shape({3, true}).features == 8);
    CHECK(bi.storage().specs()[4].name == "weight_ih_l0_reverse");
    CHECK(bi.storage().specs()[8].shape == std::vector<std::size_t>{16, 10});  // layer 1 reads [fwd; rev]
    const nn::gru<float, ferrum::backend::cpu> ave(3, 6, true, 1, nn::merge_mode::ave);
    CHECK(ave.output_shape({3, true}).features == 6);
    CHECK(ave.output_shape({3, true}).sequence);
    CHECK_THROWS_AS(nn::merge_mode_from_string("average"), ferrum::value_error);
    auto cfg = bi.config();
    cfg["merge_mode"] = "product";
    CHECK_THROWS_AS((nn::lstm<double, ferrum::backend::cpu>::from_config(cfg)), ferrum::value_error);
    // a one-direction layer writes exactly the fields GRU model files always had
    const nn::gru<float, ferrum::backend::cpu> uni(3, 6);
    CHECK(uni.config() == json({{"input_size", 3}, {"hidden_sizes", {6}}, {"return_sequences", false}}));
}

TEST_CASE("LSTM and bidirectional models round-trip through model files", "[nn][lstm][bidirectional][model_io]") {
    const auto dir = recurrent_temp_dir();
    nn::sequential<float, ferrum::backend::cpu> m;
    m.add(nn::lstm<float, ferrum::backend::cpu>(2, {6, 5}, true, 3, nn::merge_mode::sum));
    m.add(nn::gru<float, ferrum::backend::cpu>(5, 4, true, 4, nn::merge_mode::concat));
    m.add(nn::lstm<float, ferrum::backend::cpu>(8, 3, true, 5));
    m.add(nn::gru<float, ferrum::backend::cpu>(3, 2, false, 6, nn::merge_mode::mul));
    nn::save_model(dir / "m.json", m);
    auto back = nn::load_sequential<float, ferrum::backend::cpu>(dir / "m.json");  // verifies its test vectors
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({3, 9, 2});
    std::mt19937 g(7);
    std::normal_distribution<float> d;
    for (auto& v : x) v = d(g);
    const std::vector<std::size_t> lengths{9, 4, 1};
    CHECK(xt::all(xt::equal(m.predict(x, lengths), back.predict(x, lengths))));
    const auto j = nlohmann::json::parse(std::ifstream(dir / "m.json"));
    CHECK(j["architecture"]["layers"][0]["type"] == "lstm");
    CHECK(j["architecture"]["layers"][1]["merge_mode"] == "concat");
    CHECK(j["parameters"].contains("0.weight_hh_l1_reverse"));
    std::filesystem::remove_all(dir);
}
