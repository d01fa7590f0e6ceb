// Convolutional layers against PyTorch 1.13 (tests/data/reference/conv_layers.json, made by
// tools/make_conv_reference.py): conv1d (valid, same, causal; stride, dilation, bias), batch_norm (training
// statistics and running update, inference, per-chunk statistics), max/avg pooling over time and global
// pooling on a ragged batch, each sample computed by PyTorch on its own valid steps; output, dx and every
// parameter gradient to 1e-10 (double) and 2e-5 (float) of the largest value. Plus finite differences
// through a stack that changes the number of steps (with an activation layer), padding independence and a model-file round trip.
// The graph nodes `add` (residual sum) and `concat` of sequences, with padded max pooling, in a small
// InceptionTime module with a ResNet shortcut against PyTorch (tests/data/reference/graph_nodes.json, made by
// tools/make_graph_reference.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "ferrum/nn.hpp"
#include "finite_differences.hpp"
#include "layer_oracle_case.hpp"
#include "reference.hpp"

namespace {

/// One PyTorch case (tests/support/layer_oracle_case.hpp), and for batch_norm PyTorch's running update from
/// the whole batch.
template <class T>
void check_conv_case(const nlohmann::json& c, double tol) {
    ferrum_test::layer_oracle_case<T> t(c);
    t.check(tol);
    if (c.contains("running_mean_after")) {
        const auto& bn = ferrum::nn::get<ferrum::nn::batch_norm<T>>(t.model.layer(0));
        CHECK(ferrum_test::max_scaled_error(ferrum_test::values_of(bn.running_mean()),
                                            ferrum_test::vec(c["running_mean_after"])) < tol);
        CHECK(ferrum_test::max_scaled_error(ferrum_test::values_of(bn.running_var()),
                                            ferrum_test::vec(c["running_var_after"])) < tol);
        CHECK(bn.num_batches_tracked() == 1);
    }
}

}  // namespace

TEMPLATE_TEST_CASE("convolutional layers equal PyTorch: output, dx and every parameter gradient", "[nn][conv]", float,
                   double) {
    const auto ref = ferrum_test::load_reference("reference/conv_layers.json");
    const double tol = std::is_same_v<TestType, double> ? 1e-10 : 2e-5;
    REQUIRE(ref["cases"].size() >= 14);
    for (const auto& c : ref["cases"]) check_conv_case<TestType>(c, tol);
}

TEST_CASE("a conv / batch_norm / pooling stack that changes the steps matches finite differences", "[nn][conv]") {
    namespace nn = ferrum::nn;
    nn::functional<double> m;
    const auto in = m.input("x", 3, true);
    auto h = m.add("c1", nn::conv1d<double>(3, 4, 3, nn::conv_padding::same, 1, 1, true, 1), in);
    h = m.add("bn", nn::batch_norm<double>(4), h);
    h = m.add("tanh", nn::activation_layer<double>(nn::activation::tanh), h);
    h = m.add("c2", nn::conv1d<double>(4, 5, 3, nn::conv_padding::valid, 2, 1, true, 2), h);
    h = m.add("pool", nn::max_pool1d<double>(2, 1), h);
    h = m.add("c3", nn::conv1d<double>(5, 4, 2, nn::conv_padding::causal, 1, 2, false, 3), h);
    h = m.add("avg", nn::avg_pool1d<double>(2), h);
    h = m.add("gap", nn::global_average_pooling<double>(), h);
    m.add("out", nn::dense<double>(4, 2, nn::activation::linear, 4), h);
    const std::vector<std::size_t> lengths{12, 9, 8};
    xt::xtensor<double, 3> x = xt::xtensor<double, 3>::from_shape({3, 12, 3});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.7 * static_cast<double>(i) + 0.3);
    xt::xarray<double> g = xt::xarray<double>::from_shape({3, 2});
    for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = std::cos(1.3 * static_cast<double>(i));
    // in training mode: the batch statistics, and their gradients
    CHECK(ferrum_test::check_finite_differences(m, x, lengths, g, nn::mode::training, 3, 2) > 60);
}

TEST_CASE("convolutional models: padded steps do not matter, running statistics, model files round-trip",
          "[nn][conv]") {
    namespace nn = ferrum::nn;
    nn::functional<float> m;
    const auto in = m.input("x", 2, true);
    auto h = m.add("c1", nn::conv1d<float>(2, 6, 5, nn::conv_padding::same, 1, 1, true, 1), in);
    h = m.add("bn1", nn::batch_norm<float>(6), h);
    h = m.add("relu", nn::activation_layer<float>(nn::activation::relu), h);
    h = m.add("c2", nn::conv1d<float>(6, 6, 3, nn::conv_padding::causal, 2, 2, true, 2), h);
    h = m.add("bn2", nn::batch_norm<float>(6, 1e-3, 0.3), h);
    h = m.add("mp", nn::max_pool1d<float>(2), h);
    h = m.add("gmp", nn::global_max_pooling<float>(), h);
    m.add("out", nn::dense<float>(6, 1, nn::activation::linear, 6), h);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({3, 16, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * static_cast<float>(i));
    const std::vector<std::size_t> lengths{16, 11, 6};
    // what lies past a sample's length changes nothing (not even NaN): in training (batch statistics) ...
    auto x2 = x;
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t t = lengths[b]; t < 16; ++t) x2(b, t, 0) = std::numeric_limits<float>::quiet_NaN();
    const auto trained = m.forward({x}, lengths, nn::mode::training);
    CHECK(xt::all(xt::equal(m.forward({x2}, lengths, nn::mode::training), trained)));
    m.forward({x}, lengths, nn::mode::training);  // three passes move the running statistics away from (0, 1)
    const auto& bn1 = nn::get<nn::batch_norm<float>>(m.layer(1));
    CHECK(bn1.num_batches_tracked() == 3);
    CHECK(std::abs(bn1.running_var()[0] - 1.0f) > 1e-3f);
    const auto y = m.predict({x}, lengths);
    // ... and in inference (running statistics)
    CHECK(xt::all(xt::equal(m.predict({x2}, lengths), y)));
    // sample 2 alone (cut at its own length) gives its batch result with the running statistics
    xt::xtensor<float, 3> x3 = xt::view(x, xt::range(2, 3), xt::range(0, 6), xt::all());
    CHECK(m.predict({x3})(0, 0) == Approx(y(2, 0)).epsilon(1e-5));
    // the model file (with its self-test vectors) round-trips weights and running statistics
    const auto doc = nn::model_to_json(m);
    auto back = nn::model_from_json<float>(doc, "conv.json");
    CHECK(xt::all(xt::equal(back.model.predict({x}, lengths), y)));
    CHECK(nn::get<nn::batch_norm<float>>(back.model.layer(1)).running_var() == bn1.running_var());
    // bad configurations and too-short sequences are value_errors with a sentence
    CHECK_THROWS_AS(nn::conv1d<float>(2, 3, 3, nn::conv_padding::same, 2), ferrum::value_error);
    CHECK_THROWS_AS(nn::conv1d<float>(2, 3, 0), ferrum::value_error);
    CHECK_THROWS_AS(nn::batch_norm<float>(3, 1e-5, 1.5), ferrum::value_error);
    CHECK_THROWS_AS(nn::max_pool1d<float>(0), ferrum::value_error);
    nn::functional<float> valid;
    const auto vi = valid.input("x", 2, true);
    valid.add("c", nn::conv1d<float>(2, 2, 4, nn::conv_padding::valid, 1, 2), vi);  // spans 7 steps
    CHECK(valid.predict({xt::xtensor<float, 3>(xt::zeros<float>({2, 8, 2}))}).shape()[1] == 2);
    CHECK_THROWS_AS(valid.predict({xt::xtensor<float, 3>(xt::zeros<float>({2, 6, 2}))}), ferrum::value_error);
    CHECK_THROWS_AS(valid.predict({xt::xtensor<float, 3>(xt::zeros<float>({2, 8, 2}))}, {8, 5}), ferrum::value_error);
    nlohmann::json bad = nn::conv1d<float>(2, 3, 3).config();
    bad["padding"] = "full";
    CHECK_THROWS_AS((nn::layer_registry<float, ferrum::default_backend>::instance().create("conv1d", bad)),
                    ferrum::value_error);
}

namespace {

/// tools/make_graph_reference.py's graph: an inception module (three branches, one a padded max pool,
/// concatenated) and a three-input residual sum.
template <class T>
ferrum::nn::functional<T> inception_residual_graph() {
    namespace nn = ferrum::nn;
    nn::functional<T> m;
    const auto x = m.input("x", 3, true);
    auto a = m.add("a", nn::conv1d<T>(3, 4, 3, nn::conv_padding::same), x);
    a = m.add("a_relu", nn::activation_layer<T>(nn::activation::relu), a);
    const auto b = m.add("b", nn::conv1d<T>(3, 4, 5, nn::conv_padding::same), x);
    auto p = m.add("pool", nn::max_pool1d<T>(3, 1, 1), x);
    p = m.add("pconv", nn::conv1d<T>(3, 4, 1), p);
    const auto c = m.concat("cat", {a, b, p});
    const auto h = m.add("h", nn::conv1d<T>(12, 5, 3, nn::conv_padding::same), c);
    const auto s = m.add("s", nn::conv1d<T>(3, 5, 1), x);
    const auto s2 = m.add("s2", nn::conv1d<T>(3, 5, 1, nn::conv_padding::valid, 1, 1, false), x);
    auto r = m.sum("res", {h, s, s2});
    r = m.add("relu", nn::activation_layer<T>(nn::activation::relu), r);
    r = m.add("gap", nn::global_average_pooling<T>(), r);
    m.add("out", nn::dense<T>(5, 2), r);
    return m;
}

}  // namespace

TEMPLATE_TEST_CASE("graph nodes add and concat (an inception module with a residual) equal PyTorch", "[nn][conv]",
                   float, double) {
    namespace nn = ferrum::nn;
    using T = TestType;
    const auto ref = ferrum_test::load_reference("reference/graph_nodes.json");
    const double tol = std::is_same_v<T, double> ? 1e-10 : 2e-5;
    auto m = inception_residual_graph<T>();
    auto params = m.parameters();
    REQUIRE(params.size() == ref["params"].size());
    for (const auto& want : ref["params"]) {
        const auto name = want["name"].get<std::string>();
        const auto it = std::find_if(params.begin(), params.end(), [&](const auto& q) { return q.name == name; });
        REQUIRE(it != params.end());
        CHECK(it->shape == want["shape"].get<std::vector<std::size_t>>());
        const auto v = ferrum_test::vec(want["value"]);
        REQUIRE(v.size() == it->size());
        for (std::size_t i = 0; i < v.size(); ++i) it->value[i] = static_cast<T>(v[i]);
    }
    const auto shape = ref["shape"].get<std::vector<std::size_t>>();
    const auto lengths = ref["lengths"].get<std::vector<std::size_t>>();
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({shape[0], shape[1], shape[2]});
    const auto xv = ferrum_test::vec(ref["x"]);
    REQUIRE(xv.size() == x.size());
    for (std::size_t i = 0; i < xv.size(); ++i) x.data()[i] = static_cast<T>(xv[i]);
    const auto y = m.forward({x}, lengths, nn::mode::training);
    CHECK(ferrum_test::max_scaled_error(ferrum_test::values_of(y), ferrum_test::vec(ref["output"])) < tol);
    xt::xarray<T> g = xt::xarray<T>::from_shape(ref["output_shape"].get<std::vector<std::size_t>>());
    const auto gv = ferrum_test::vec(ref["grad_output"]);
    REQUIRE(gv.size() == g.size());
    for (std::size_t i = 0; i < gv.size(); ++i) g.data()[i] = static_cast<T>(gv[i]);
    m.zero_grad();
    const auto dx = m.backward(g, true);
    CHECK(ferrum_test::max_scaled_error(ferrum_test::values_of(dx.at(0)), ferrum_test::vec(ref["dx"])) < tol);
    for (const auto& want : ref["params"])
        for (const auto& q : m.parameters())
            if (q.name == want["name"].get<std::string>()) {
                INFO(q.name);
                CHECK(ferrum_test::max_scaled_error(std::vector<double>(q.grad, q.grad + q.size()),
                                                    ferrum_test::vec(want["grad"])) < tol);
            }
    // inference equals the training pass (no batch statistics here), the model file round-trips the graph
    CHECK(ferrum_test::max_scaled_error(ferrum_test::values_of(m.predict({x}, lengths)), ferrum_test::values_of(y)) <
          tol);
    const auto doc = nn::model_to_json(m);
    auto back = nn::model_from_json<T>(doc, "graph.json");
    CHECK(xt::all(xt::equal(back.model.predict({x}, lengths), m.predict({x}, lengths))));
    // a sum of nodes of different shapes is a value_error naming the node
    nn::functional<T> bad;
    const auto bi = bad.input("x", 3, true);
    const auto b4 = bad.add("c4", nn::conv1d<T>(3, 4, 1), bi);
    CHECK_THROWS_WITH(bad.sum("res", {bi, b4}), Catch::Contains("add 'res'"));
    CHECK_THROWS_AS(bad.sum("one", {bi}), ferrum::value_error);
    CHECK_THROWS_AS(nn::max_pool1d<T>(3, 1, 2), ferrum::value_error);  // padding past half the kernel
}
