// Layers and models of ferrum::nn against central finite differences in float64 (every parameter and the
// input), and behaviour checks with independent oracles: variable lengths against truncated sequences,
// dropout statistics, thread-count independence, error handling.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/sequential.hpp"

namespace nn = ferrum::nn;

namespace {

std::mt19937_64& rng() {
    static std::mt19937_64 g(12345);
    return g;
}
template <std::size_t N>
xt::xtensor<double, N> random_tensor(std::array<std::size_t, N> shape, double scale = 1.0) {
    xt::xtensor<double, N> x = xt::xtensor<double, N>::from_shape(shape);
    std::normal_distribution<double> d(0.0, scale);
    for (auto& v : x) v = d(rng());
    return x;
}

/// Compares analytic gradients (parameters, and optionally the input) of loss = sum(c * output) with central
/// differences. `loss()` runs a forward pass and returns the loss; `grads()` runs forward+backward and returns
/// the input gradient. Returns the largest error relative to each tensor's largest gradient.
double fd_check(nn::parameter_list<double> params, const std::function<double()>& loss,
                const std::function<xt::xarray<double>()>& grads, double* input = nullptr, std::size_t n_input = 0) {
    for (auto& p : params) std::fill(p.grad, p.grad + p.size(), 0.0);
    const xt::xarray<double> gx = grads();
    const double h = 1e-5;
    double worst = 0;
    auto check = [&](double* v, std::size_t n, const double* g, const std::string& name) {
        double scale = 0, err = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double keep = v[i];
            v[i] = keep + h;
            const double lp = loss();
            v[i] = keep - h;
            const double lm = loss();
            v[i] = keep;
            const double fd = (lp - lm) / (2 * h);
            scale = std::max(scale, std::abs(fd));
            err = std::max(err, std::abs(fd - g[i]));
        }
        const double rel = err / std::max(scale, 1e-12);
        INFO(name << ": max abs error " << err << ", scale " << scale);
        CHECK(rel < 1e-7);
        worst = std::max(worst, rel);
    };
    for (auto& p : params) check(p.value, p.size(), p.grad, p.name);
    if (input) {
        REQUIRE(gx.size() == n_input);
        check(input, n_input, gx.data(), "input");
    }
    return worst;
}

double dot(const xt::xarray<double>& a, const xt::xarray<double>& c) {
    REQUIRE(a.size() == c.size());
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a.data()[i] * c.data()[i];
    return s;
}

}  // namespace

TEST_CASE("dense layer: every activation matches finite differences", "[nn][dense][gradient]") {
    for (auto act : {nn::activation::linear, nn::activation::relu, nn::activation::tanh, nn::activation::sigmoid,
                     nn::activation::softplus}) {
        INFO(nn::to_string(act));
        nn::sequential<double> m;
        m.add(nn::dense<double>(5, 4, act, 3)).add(nn::dense<double>(4, 2, act, 4));
        auto x = random_tensor<2>({7, 5});
        const auto c = random_tensor<2>({7, 2});
        auto loss = [&] { return dot(m.forward(x), c); };
        auto grads = [&] {
            m.forward(x, {}, nn::mode::training);
            return m.backward(c, true);
        };
        fd_check(m.parameters(), loss, grads, x.data(), x.size());
    }
}

TEST_CASE("activations equal their definitions", "[nn][dense]") {
    nn::sequential<double> m;
    m.add(nn::dense<double>(1, 1, nn::activation::softplus));
    auto p = m.parameters();
    p[0].value[0] = 1.0;
    p[1].value[0] = 0.0;
    xt::xtensor<double, 2> x = {{-800.0}, {-3.0}, {0.0}, {2.5}, {800.0}};
    const auto y = m.predict(x);
    CHECK(y(0, 0) == Approx(0.0).margin(1e-300));
    CHECK(y(1, 0) == Approx(std::log1p(std::exp(-3.0))).epsilon(1e-15));
    CHECK(y(2, 0) == Approx(std::log(2.0)).epsilon(1e-15));
    CHECK(y(3, 0) == Approx(std::log1p(std::exp(2.5))).epsilon(1e-15));
    CHECK(y(4, 0) == Approx(800.0).epsilon(1e-15));  // no overflow
    CHECK(nn::activation_from_string("sigmoid") == nn::activation::sigmoid);
    CHECK_THROWS_AS(nn::activation_from_string("swish"), ferrum::value_error);
}

TEST_CASE("gru: one layer returning sequences, with variable lengths, matches finite differences",
          "[nn][gru][gradient]") {
    nn::sequential<double> m;
    m.add(nn::gru<double>(3, 4, true, 11));
    auto x = random_tensor<3>({4, 6, 3});
    const std::vector<std::size_t> lengths{6, 3, 1, 5};
    const auto c = random_tensor<3>({4, 6, 4});
    auto loss = [&] { return dot(m.forward_sequence(x, lengths), c); };
    auto grads = [&] {
        m.forward_sequence(x, lengths, nn::mode::training);
        return m.backward(c, true);
    };
    fd_check(m.parameters(), loss, grads, x.data(), x.size());
    // outputs past a sample's length are zero, and so is the input gradient there
    const auto y = m.forward_sequence(x, lengths);
    CHECK(y(2, 1, 0) == 0.0);
    CHECK(y(1, 5, 3) == 0.0);
    const auto gx = grads();
    CHECK(gx(1, 4, 2) == 0.0);
}

TEST_CASE("gru stack (PyTorch-style num_layers) with last-state output matches finite differences",
          "[nn][gru][gradient]") {
    nn::sequential<double> m;
    m.add(nn::gru<double>(2, std::vector<std::size_t>{5, 3}, false, 5))
        .add(nn::dense<double>(3, 2, nn::activation::tanh, 6));
    auto x = random_tensor<3>({3, 7, 2});
    const std::vector<std::size_t> lengths{7, 2, 4};
    const auto c = random_tensor<2>({3, 2});
    auto loss = [&] { return dot(m.forward(x, lengths), c); };
    auto grads = [&] {
        m.forward(x, lengths, nn::mode::training);
        return m.backward(c, true);
    };
    fd_check(m.parameters(), loss, grads, x.data(), x.size());
    const auto names = m.parameters();
    CHECK(names[4].name == "0.weight_ih_l1");
    CHECK(names[4].shape == std::vector<std::size_t>{9, 5});
    CHECK(names[5].role == nn::parameter_role::recurrent);
}

TEST_CASE("the paper's stack with dropout (fixed masks) matches finite differences", "[nn][dropout][gradient]") {
    nn::sequential<double> m;
    m.add(nn::gru<double>(2, 5, true)).add(nn::dropout<double>(0.3)).add(nn::gru<double>(5, 4, true));
    m.add(nn::dropout<double>(0.3))
        .add(nn::gru<double>(4, 3))
        .add(nn::dropout<double>(0.2))
        .add(nn::dense<double>(3, 1));
    m.reset_parameters(99);
    m.set_chunk_size(2);  // several chunks and threads: masks must not depend on the split
    auto x = random_tensor<3>({5, 6, 2});
    const std::vector<std::size_t> lengths{6, 6, 2, 5, 1};
    const auto c = random_tensor<2>({5, 1});
    auto replay = [&] {
        for (std::size_t i = 0; i < m.num_layers(); ++i)
            if (auto* d = nn::get_if<nn::dropout<double>>(&m.layer(i))) d->set_draw(7);
    };
    auto loss = [&] {
        replay();
        return dot(m.forward(x, lengths, nn::mode::training), c);
    };
    auto grads = [&] {
        replay();
        m.forward(x, lengths, nn::mode::training);
        return m.backward(c, true);
    };
    fd_check(m.parameters(), loss, grads, x.data(), x.size());
    // a sampled mask really changes the output
    replay();
    const auto train = m.forward(x, lengths, nn::mode::training);
    const auto infer = m.predict(x, lengths);
    CHECK(std::abs(train(0, 0) - infer(0, 0)) + std::abs(train(3, 0) - infer(3, 0)) > 1e-6);
}

TEST_CASE("two-input functional model (UA-CSNet uncertainty branch) matches finite differences",
          "[nn][functional][gradient]") {
    nn::functional<double> m;
    const auto spec = m.input("spectrum", 6);
    const auto err = m.input("errors", 3);
    const auto z = m.add("z", nn::dense<double>(6, 8, nn::activation::tanh, 1), spec);
    const auto e16 = m.add("e16", nn::dense<double>(3, 4, nn::activation::softplus, 2), err);
    const auto cat = m.concat("cat", {z, e16});
    const auto h = m.add("fc8", nn::dense<double>(12, 8, nn::activation::sigmoid, 3), cat);
    m.add("out", nn::dense<double>(8, 1, nn::activation::linear, 4), h);
    auto xs = random_tensor<2>({5, 6});
    auto xe = random_tensor<2>({5, 3});
    const xt::xarray<double> c = random_tensor<2>({5, 1});
    auto loss = [&] { return dot(m.forward({xs, xe}), c); };
    std::vector<xt::xarray<double>> gin;
    auto grads = [&] {
        m.forward({xs, xe}, {}, nn::mode::training);
        gin = m.backward(c, true);
        return gin[0];
    };
    fd_check(m.parameters(), loss, grads, xs.data(), xs.size());
    // the second input's gradient too
    REQUIRE(gin.size() == 2);
    const xt::xarray<double> ge = gin[1];
    for (std::size_t i = 0; i < xe.size(); ++i) {
        const double keep = xe.data()[i];
        xe.data()[i] = keep + 1e-5;
        const double lp = loss();
        xe.data()[i] = keep - 1e-5;
        const double lm = loss();
        xe.data()[i] = keep;
        CHECK(ge.data()[i] == Approx((lp - lm) / 2e-5).margin(1e-8));
    }
    CHECK(m.parameters()[0].name == "z.weight");
}

TEST_CASE("sequence and tabular inputs joined: GRU last state + error features", "[nn][functional][gradient]") {
    nn::functional<double> m;
    const auto seq = m.input("light_curve", 2, true);
    const auto tab = m.input("errors", 2);
    const auto g = m.add("gru", nn::gru<double>(2, 4, false, 8), seq);
    const auto cat = m.concat("cat", {g, tab});
    m.add("head", nn::dense<double>(6, 1, nn::activation::linear, 9), cat);
    auto xs = random_tensor<3>({3, 5, 2});
    auto xt_ = random_tensor<2>({3, 2});
    const std::vector<std::size_t> lengths{5, 3, 4};
    const xt::xarray<double> c = random_tensor<2>({3, 1});
    auto loss = [&] { return dot(m.forward({xs, xt_}, lengths), c); };
    auto grads = [&] {
        m.forward({xs, xt_}, lengths, nn::mode::training);
        return m.backward(c, true)[0];
    };
    fd_check(m.parameters(), loss, grads, xs.data(), xs.size());
}

TEST_CASE("variable lengths: the last state is the state at each sample's own last step", "[nn][gru]") {
    nn::sequential<double> m;
    m.add(nn::gru<double>(2, std::vector<std::size_t>{6, 4}, false, 3));
    auto x = random_tensor<3>({3, 8, 2});
    const std::vector<std::size_t> lengths{8, 3, 5};
    for (std::size_t t = 3; t < 8; ++t) x(1, t, 0) = std::nan("");  // padding is never read
    const auto y = m.forward(x, lengths);
    for (std::size_t b = 0; b < 3; ++b) {
        xt::xtensor<double, 3> one = xt::xtensor<double, 3>::from_shape({1, lengths[b], 2});
        for (std::size_t t = 0; t < lengths[b]; ++t)
            for (std::size_t f = 0; f < 2; ++f) one(0, t, f) = x(b, t, f);
        const auto alone = m.forward(one);
        for (std::size_t h = 0; h < 4; ++h) CHECK(y(b, h) == Approx(alone(0, h)).epsilon(1e-13));
    }
}

TEST_CASE("results do not depend on the number of threads", "[nn][threads]") {
    nn::sequential<float> m;
    m.add(nn::gru<float>(2, 8, true))
        .add(nn::dropout<float>(0.2))
        .add(nn::gru<float>(8, 4))
        .add(nn::dense<float>(4, 1));
    m.reset_parameters(5);
    m.set_chunk_size(3);
    xt::xtensor<float, 3> x = xt::cast<float>(random_tensor<3>({20, 9, 2}));
    xt::xtensor<float, 2> c = xt::cast<float>(random_tensor<2>({20, 1}));
    std::vector<std::vector<float>> grads;
    std::vector<float> outputs;
    CHECK(m.num_threads() == 0);  // the default: the hardware's cores (issue #15 item 6)
    for (std::size_t threads : {1, 2, 3, 0}) {
        m.set_num_threads(threads);
        for (std::size_t i = 0; i < m.num_layers(); ++i)
            if (auto* d = nn::get_if<nn::dropout<float>>(&m.layer(i))) d->set_draw(0);
        m.zero_grad();
        const auto y = m.forward(x, {}, nn::mode::training);
        m.backward(c);
        std::vector<float> g;
        for (auto& p : m.parameters()) g.insert(g.end(), p.grad, p.grad + p.size());
        grads.push_back(g);
        outputs.push_back(y(17, 0));
    }
    CHECK(grads[0] == grads[1]);
    CHECK(grads[0] == grads[2]);
    CHECK(grads[0] == grads[3]);
    CHECK(outputs[0] == outputs[1]);
    CHECK(outputs[0] == outputs[2]);
    CHECK(outputs[0] == outputs[3]);
}

namespace {

/// The identity (dense 1 -> 1 with weight 1, bias 0) followed by dropout at rate 0.25: its output is the mask.
nn::sequential<double> mask_model() {
    nn::sequential<double> m;
    m.add(nn::dense<double>(1, 1)).add(nn::dropout<double>(0.25, 42));
    auto p = m.parameters();
    p[0].value[0] = 1.0;
    p[1].value[0] = 0.0;
    return m;
}

/// Checks that every value of `y` is 0 or 1/0.75 and that a fraction 0.25 of 20000 are 0: binomial, sd 61.
template <class Y>
void check_masks_of_rate_quarter(const Y& y) {
    std::size_t dropped = 0;
    for (double v : y) {
        CHECK((v == 0.0 || v == Approx(1.0 / 0.75).epsilon(1e-15)));
        dropped += v == 0.0;
    }
    CHECK(std::abs(static_cast<double>(dropped) - 5000.0) < 300.0);
}

}  // namespace

TEST_CASE("dropout: inverted scaling, rate, inference identity, MC sampling", "[nn][dropout]") {
    auto m = mask_model();
    xt::xtensor<double, 2> x = xt::ones<double>({20000, 1});
    check_masks_of_rate_quarter(m.forward(x, {}, nn::mode::training));
    const auto infer = m.predict(x);
    CHECK(xt::all(xt::equal(infer, 1.0)));
    const auto a = m.forward(x, {}, nn::mode::mc_dropout);
    const auto b = m.forward(x, {}, nn::mode::mc_dropout);
    CHECK_FALSE(xt::all(xt::equal(a, b)));
    // same seed and draw: same mask
    auto& d = std::get<nn::dropout<double>>(m.layer(1));
    d.set_draw(1);
    const auto a2 = m.forward(x, {}, nn::mode::mc_dropout);
    CHECK(xt::all(xt::equal(a, a2)));
    CHECK_THROWS_AS(nn::dropout<double>(1.0), ferrum::value_error);
}

TEST_CASE("misuse is reported with ferrum::value_error", "[nn][errors]") {
    nn::sequential<double> m;
    CHECK_THROWS_AS(m.add(nn::dropout<double>(0.1)), ferrum::value_error);
    m.add(nn::gru<double>(2, 3));
    CHECK_THROWS_AS(m.add(nn::dense<double>(4, 1)), ferrum::value_error);  // gru gives 3 features
    m.add(nn::dense<double>(3, 1));
    xt::xtensor<double, 3> wrong = xt::zeros<double>({2, 4, 3});
    CHECK_THROWS_AS(m.forward(wrong), ferrum::value_error);
    xt::xtensor<double, 3> x = xt::zeros<double>({2, 4, 2});
    CHECK_THROWS_AS(m.forward(x, {4, 0}), ferrum::value_error);
    CHECK_THROWS_AS(m.forward(x, {4, 5}), ferrum::value_error);
    CHECK_THROWS_AS(m.forward(x, {4}), ferrum::value_error);
    nn::sequential<double> fresh;
    fresh.add(nn::dense<double>(2, 1));
    xt::xtensor<double, 2> g = xt::zeros<double>({2, 1});
    CHECK_THROWS_AS(fresh.backward(g), ferrum::value_error);
    CHECK_THROWS_AS(nn::gru<double>(0, 3), ferrum::value_error);
}

namespace {

/// A layer written outside the library, as a user would: y = a * x + b with one (a, b) per feature.
template <class T = double, class Backend = ferrum::backend::cpu>
class feature_affine {
public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "test_feature_affine";
    struct cache {};

    explicit feature_affine(std::size_t features) : n_(features) {
        store_.declare("scale", {n_}, nn::parameter_role::kernel);
        store_.declare("shift", {n_}, nn::parameter_role::bias);
        reset_parameters(0);
    }
    nn::io_shape output_shape(nn::io_shape in) const {
        if (static_cast<std::size_t>(in.features) != n_) throw ferrum::value_error("feature_affine: wrong width");
        return in;
    }
    nlohmann::json config() const { return {{"features", n_}}; }
    static feature_affine from_config(const nlohmann::json& j) {
        return feature_affine(nn::config_field<std::size_t>(j, "features"));
    }
    nn::parameter_storage<T>& storage() noexcept { return store_; }
    const nn::parameter_storage<T>& storage() const noexcept { return store_; }
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 g(seed);
        std::normal_distribution<double> d(0.0, 0.3);
        for (std::size_t i = 0; i < n_; ++i) store_.values()[i] = T(1 + d(g));
        for (std::size_t i = n_; i < 2 * n_; ++i) store_.values()[i] = T(d(g));
    }
    void forward(const nn::matrix<T>& x, nn::matrix<T>& y, cache&, const nn::chunk_info&) const {
        const T* a = store_.values().data();
        y.resize(x.rows(), x.cols());
        for (Eigen::Index f = 0; f < x.rows(); ++f) y.row(f).array() = x.row(f).array() * a[f] + a[n_ + f];
    }
    void backward(const nn::matrix<T>& x, const nn::matrix<T>&, const nn::matrix<T>& dy, nn::matrix<T>* dx, T* grad,
                  cache&, const nn::chunk_info&) const {
        const T* a = store_.values().data();
        for (Eigen::Index f = 0; f < x.rows(); ++f) {
            grad[f] += (dy.row(f).array() * x.row(f).array()).sum();
            grad[n_ + f] += dy.row(f).sum();
        }
        if (dx) {
            dx->resize(dy.rows(), dy.cols());
            for (Eigen::Index f = 0; f < dy.rows(); ++f) dx->row(f) = dy.row(f) * a[f];
        }
    }

private:
    std::size_t n_;
    nn::parameter_storage<T> store_;
};

nn::sequential<float> dropout_stack() {
    nn::sequential<float> m;
    m.add(nn::gru<float>(2, 8, true)).add(nn::dropout<float>(0.3)).add(nn::gru<float>(8, 4));
    m.add(nn::dropout<float>(0.3)).add(nn::dense<float>(4, 2));
    m.reset_parameters(23);
    m.set_chunk_size(3);  // several chunks
    return m;
}

}  // namespace

TEST_CASE("a user's own layer: registered, trained through, saved and loaded", "[nn][layer][model_io]") {
    using affine = feature_affine<double>;
    REQUIRE(nn::register_layer<affine>());
    nn::functional<double> m;
    const auto in = m.input("x", 3, true);
    const auto d = m.add("dense", nn::dense<double>(3, 4, nn::activation::tanh, 5), in);
    const auto a = m.add("affine", affine(4), d);
    const auto g = m.add("gru", nn::gru<double>(4, 3), a);
    m.reset_parameters(8);
    m.set_chunk_size(2);
    auto x = random_tensor<3>({5, 4, 3});
    const std::vector<std::size_t> lengths{4, 2, 4, 1, 3};

    // forward of the affine node against y = scale * tanh(W x + b) + shift written out here
    m.set_output(a);
    const auto y = m.forward({x}, lengths);
    auto params = m.parameters();
    REQUIRE(params[2].name == "affine.scale");
    REQUIRE(params[3].name == "affine.shift");
    const double *W = params[0].value, *bd = params[1].value, *sc = params[2].value, *sh = params[3].value;
    for (std::size_t b = 0; b < 5; ++b)
        for (std::size_t t = 0; t < lengths[b]; ++t)
            for (std::size_t o = 0; o < 4; ++o) {
                double s = bd[o];
                for (std::size_t i = 0; i < 3; ++i) s += W[o * 3 + i] * x(b, t, i);
                CHECK(y(b, t, o) == Approx(sc[o] * std::tanh(s) + sh[o]).epsilon(1e-13).margin(1e-15));
            }
    m.set_output(g);

    // every parameter (the custom layer's included) and the input against central differences
    const auto c = random_tensor<2>({5, 3});
    auto loss = [&] { return dot(m.forward({x}, lengths), c); };
    auto grads = [&] {
        m.forward({x}, lengths, nn::mode::training);
        return m.backward(c, true)[0];
    };
    fd_check(m.parameters(), loss, grads, x.data(), x.size());

    // the model file names the layer by its type and rebuilds it through the registry; the self-test passes
    const auto path = std::filesystem::temp_directory_path() /
                      ("ferrum_custom_layer_" + std::to_string(std::random_device{}()) + ".json");
    nn::save_model(path, m);
    auto back = nn::load_model<double, ferrum::backend::cpu>(path);  // verify = true re-runs the test vectors
    std::filesystem::remove(path);
    const auto doc = nn::model_to_json(back.model);
    CHECK(doc["architecture"]["layers"][1]["type"] == "test_feature_affine");
    CHECK(doc["architecture"]["layers"][1]["features"] == 4);
    CHECK(nn::get_if<affine>(&back.model.layer(1)) != nullptr);
    CHECK(nn::get_if<nn::dense<double, ferrum::backend::cpu>>(&back.model.layer(1)) == nullptr);
    CHECK(xt::all(xt::equal(back.model.predict({x}, lengths), m.predict({x}, lengths))));
}

TEST_CASE("predict is const and equals forward in inference mode bit for bit", "[nn][predict]") {
    auto m = dropout_stack();
    m.set_num_threads(2);
    xt::xtensor<float, 3> x = xt::cast<float>(random_tensor<3>({10, 7, 2}));
    const std::vector<std::size_t> lengths{7, 3, 7, 1, 5, 6, 7, 2, 7, 4};
    const auto& cm = m;
    const xt::xtensor<float, 2> p = cm.predict(x, lengths);
    const xt::xtensor<float, 2> f = m.forward(x, lengths, nn::mode::inference);
    CHECK(xt::all(xt::equal(p, f)));
    // a functional model with two inputs and a concat
    nn::functional<double> g;
    const auto s = g.input("seq", 2, true);
    const auto t = g.input("tab", 3);
    const auto h = g.add("gru", nn::gru<double>(2, 4), s);
    const auto e = g.add("dense", nn::dense<double>(3, 2, nn::activation::relu), t);
    g.add("head", nn::dense<double>(6, 1), g.concat("cat", {h, e}));
    g.reset_parameters(3);
    g.set_chunk_size(4);
    const auto xs = random_tensor<3>({9, 5, 2});
    const auto xt_ = random_tensor<2>({9, 3});
    const std::vector<std::size_t> len2{5, 1, 2, 5, 3, 4, 5, 5, 2};
    const auto& cg = g;
    CHECK(xt::all(xt::equal(cg.predict({xs, xt_}, len2), g.forward({xs, xt_}, len2))));
}

TEST_CASE("one const model serves several threads at once", "[nn][predict][threads]") {
    const auto m = dropout_stack();
    xt::xtensor<float, 3> xa = xt::cast<float>(random_tensor<3>({40, 9, 2}));
    xt::xtensor<float, 3> xb = xt::cast<float>(random_tensor<3>({33, 6, 2}));
    const auto serial_a = m.predict(xa);
    const auto serial_b = m.predict(xb, {}, nn::mode::mc_dropout, 11);
    xt::xtensor<float, 2> par_a, par_b;
    for (int round = 0; round < 5; ++round) {
        std::thread ta([&] { par_a = m.predict(xa); });
        std::thread tb([&] { par_b = m.predict(xb, {}, nn::mode::mc_dropout, 11); });
        ta.join();
        tb.join();
        CHECK(xt::all(xt::equal(par_a, serial_a)));
        CHECK(xt::all(xt::equal(par_b, serial_b)));
    }
}

TEST_CASE("MC-dropout predict is a function of its seed", "[nn][predict][dropout]") {
    auto m = dropout_stack();
    xt::xtensor<float, 3> x = xt::cast<float>(random_tensor<3>({12, 5, 2}));
    const auto a = m.predict(x, {}, nn::mode::mc_dropout, 1);
    const auto a2 = m.predict(x, {}, nn::mode::mc_dropout, 1);
    const auto b = m.predict(x, {}, nn::mode::mc_dropout, 2);
    const auto det = m.predict(x);
    CHECK(xt::all(xt::equal(a, a2)));
    CHECK_FALSE(xt::all(xt::equal(a, b)));
    CHECK_FALSE(xt::all(xt::equal(a, det)));
    // independent of the thread count, and the model's own dropout draws are untouched
    m.set_num_threads(3);
    CHECK(xt::all(xt::equal(m.predict(x, {}, nn::mode::mc_dropout, 1), a)));
    for (std::size_t i = 0; i < m.num_layers(); ++i)
        if (const auto* d = nn::get_if<nn::dropout<float>>(&m.layer(i))) CHECK(d->draw() == 0);
}

TEST_CASE("MC-dropout predict with sample keys: a sample's masks follow its key, not its batch",
          "[nn][predict][dropout]") {
    auto m = dropout_stack();  // chunks of 3: samples move between chunks below
    xt::xtensor<float, 3> x = xt::cast<float>(random_tensor<3>({12, 5, 2}));
    std::vector<std::uint64_t> keys(12);
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = 5937173300407375616ULL + 977 * i;  // source_id-like
    const auto whole = m.predict(x, {}, nn::mode::mc_dropout, 1, 0, keys);
    // the same samples in another order and in sub-batches, with their keys: each row is the same bits
    const std::vector<std::size_t> order{7, 2, 11, 0, 5, 9, 1, 4, 10, 3, 8, 6};
    for (std::size_t split : {std::size_t(12), std::size_t(5), std::size_t(1)}) {
        for (std::size_t lo = 0; lo < order.size(); lo += split) {
            const std::size_t n = std::min(split, order.size() - lo);
            xt::xtensor<float, 3> xs = xt::zeros<float>({n, std::size_t(5), std::size_t(2)});
            std::vector<std::uint64_t> ks(n);
            for (std::size_t j = 0; j < n; ++j) {
                xt::view(xs, j) = xt::view(x, order[lo + j]);
                ks[j] = keys[order[lo + j]];
            }
            const auto part = m.predict(xs, {}, nn::mode::mc_dropout, 1, 0, ks);
            for (std::size_t j = 0; j < n; ++j)
                CHECK(xt::all(xt::equal(xt::view(part, j), xt::view(whole, order[lo + j]))));
        }
    }
    // by position (no keys) a sample moved to another place draws other masks: the keys are what changed
    const auto positional = m.predict(x, {}, nn::mode::mc_dropout, 1);
    CHECK_FALSE(xt::all(xt::equal(positional, whole)));
    CHECK_FALSE(xt::all(xt::equal(m.predict(x, {}, nn::mode::mc_dropout, 2, 0, keys), whole)));  // the seed counts
    CHECK_THROWS_AS(m.predict(x, {}, nn::mode::mc_dropout, 1, 0, std::vector<std::uint64_t>(11)), ferrum::value_error);

    // keyed masks still drop with probability p, for clustered ids as the archive's
    const auto d = mask_model();
    xt::xtensor<double, 2> ones = xt::ones<double>({20000, 1});
    std::vector<std::uint64_t> ids(20000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = 4295806720ULL + 3 * i;
    check_masks_of_rate_quarter(d.predict(ones, {}, nn::mode::mc_dropout, 3, 0, ids));
}
