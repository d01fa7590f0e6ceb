// Adam against torch.optim.Adam (adam.json and literals from PyTorch 1.13), the Keras epsilon-hat form
// against its closed form, clip_grad_norm against torch.nn.utils.clip_grad_norm_'s formula, and
// bit-identical checkpoint/resume of the optimiser state.
#include <catch2/catch.hpp>

#include <cmath>
#include <regex>

#include "ferrum/nn/optim.hpp"
#include "reference.hpp"

using namespace ferrum::nn;

namespace {

// The hyper-parameters adam.json was made with, read from its `about` sentence when it states them.
adam_options options_from_about(const std::string& about) {
    adam_options o;
    o.lr = 0.01;
    o.eps = 1e-7;
    std::smatch m;
    const std::string num = "([0-9.eE+-]+)";
    if (std::regex_search(about, m, std::regex("lr=" + num))) o.lr = std::stod(m[1]);
    if (std::regex_search(about, m, std::regex("eps=" + num))) o.eps = std::stod(m[1]);
    if (std::regex_search(about, m, std::regex("betas=\\(" + num + ", *" + num + "\\)"))) {
        o.beta1 = std::stod(m[1]);
        o.beta2 = std::stod(m[2]);
    }
    return o;
}

// The adam.json objective f(p) = sum((A p)^2) + sum(sin p); gradient 2 A^T A p + cos p.
template <class T>
struct quadratic_sine {
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> A;
    void gradient(const T* p, T* g) const {
        const Eigen::Index n = A.cols();
        const Eigen::Map<const output_vector<T>> pv(p, n);
        Eigen::Map<output_vector<T>>(g, n) = T(2) * (A.transpose() * (A * pv)) + pv.array().cos().matrix();
    }
};

template <class T>
quadratic_sine<T> load_objective(const nlohmann::json& ref) {
    const auto rows = ref.at("A").get<std::vector<std::vector<double>>>();
    quadratic_sine<T> f;
    f.A.resize(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.at(0).size()));
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < rows[i].size(); ++j)
            f.A(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<T>(rows[i][j]);
    return f;
}

}  // namespace

TEMPLATE_TEST_CASE("adam equals torch.optim.Adam on adam.json", "[adam]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-5;
    const auto ref = ferrum_test::load_reference("adam.json");
    const auto f = load_objective<T>(ref);
    const auto p0 = ref.at("p0").get<std::vector<double>>();
    std::vector<T> p(p0.begin(), p0.end()), g(p.size());
    adam<T> opt(options_from_about(ref.at("about").get<std::string>()));
    const parameter_list<T> params{{"p", {p.size()}, parameter_role::kernel, p.data(), g.data()}};
    std::size_t step = 0;
    for (const auto& want : ref.at("trajectory")) {
        f.gradient(p.data(), g.data());
        opt.step(params);
        ++step;
        const auto w = want.get<std::vector<double>>();
        REQUIRE(w.size() == p.size());
        for (std::size_t i = 0; i < p.size(); ++i) {
            INFO("step " << step << " element " << i << ": " << p[i] << " vs " << w[i]);
            REQUIRE(std::abs(double(p[i]) - w[i]) <= tol * std::max(1.0, std::abs(w[i])));
        }
    }
    CHECK(opt.step_count() == static_cast<std::int64_t>(step));
    CHECK(step > 0);
}

TEST_CASE("adam keeps state per parameter: splitting a tensor changes nothing", "[adam]") {
    const auto ref = ferrum_test::load_reference("adam.json");
    const auto f = load_objective<double>(ref);
    const auto p0 = ref.at("p0").get<std::vector<double>>();
    const adam_options o = options_from_about(ref.at("about").get<std::string>());
    std::vector<double> a(p0), ga(a.size()), b(p0), gb(b.size());
    const std::size_t half = a.size() / 2;
    adam<double> whole(o), split(o);
    const parameter_list<double> pa{{"p", {a.size()}, parameter_role::kernel, a.data(), ga.data()}};
    const parameter_list<double> pb{
        {"p.0", {half}, parameter_role::kernel, b.data(), gb.data()},
        {"p.1", {b.size() - half}, parameter_role::bias, b.data() + half, gb.data() + half}};
    for (int s = 0; s < 20; ++s) {
        f.gradient(a.data(), ga.data());
        f.gradient(b.data(), gb.data());
        whole.step(pa);
        split.step(pb);
    }
    CHECK(a == b);
}

TEST_CASE("adam weight_decay is PyTorch's L2-in-gradient", "[adam]") {
    // torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1) in float64, loss
    // sum((p - t)^2) + sum(sin p), p0 = [0.5, -1.5, 2], t = [1, 2, -1]; PyTorch 1.13 printed with %.17g.
    const double want[5][3] = {{0.59999998619117323, -1.4000000001412576, 1.9000000001728952},
                               {0.58077227409913601, -1.3002617618944368, 1.8001137623699941},
                               {0.53668326806333111, -1.2009709759313565, 1.7004143512896961},
                               {0.51046253604197189, -1.1023179706591868, 1.6009730836435621},
                               {0.51857066380102801, -1.0044943584755612, 1.5018600592643381}};
    const double t[3] = {1.0, 2.0, -1.0};
    std::vector<double> p{0.5, -1.5, 2.0}, g(3);
    adam_options o;
    o.lr = 0.1;
    o.beta1 = 0.8;
    o.beta2 = 0.99;
    o.weight_decay = 0.1;
    adam<double> opt(o);
    const parameter_list<double> ps{{"p", {3}, parameter_role::kernel, p.data(), g.data()}};
    for (int s = 0; s < 5; ++s) {
        for (int i = 0; i < 3; ++i) g[i] = 2 * (p[i] - t[i]) + std::cos(p[i]);
        opt.step(ps);
        for (int i = 0; i < 3; ++i) CHECK(std::abs(p[i] - want[s][i]) <= 1e-12);
    }
}

TEST_CASE("adam epsilon: PyTorch form and Keras' epsilon-hat form (closed form)", "[adam]") {
    // With a constant gradient g, m_t = (1-b1^t) g and v_t = (1-b2^t) g^2, so each step moves p by
    //   PyTorch: lr g / (|g| + eps)
    //   Keras:   lr sqrt(1-b2^t) g / (sqrt(1-b2^t) |g| + eps)   (eps scaled by sqrt(1-b2^t))
    // A large eps makes the two differ visibly.
    const double lr = 0.05, eps = 0.1, b1 = 0.9, b2 = 0.999;
    const double g0[2] = {0.5, -2.0};
    for (const bool keras : {false, true}) {
        adam_options o;
        o.lr = lr;
        o.eps = eps;
        o.keras_epsilon = keras;
        adam<double> opt(o);
        std::vector<double> p{1.0, 1.0}, g(2), expect{1.0, 1.0};
        const parameter_list<double> ps{{"w", {2}, parameter_role::kernel, p.data(), g.data()}};
        for (int t = 1; t <= 6; ++t) {
            g = {g0[0], g0[1]};
            opt.step(ps);
            const double c2 = std::sqrt(1 - std::pow(b2, t));
            for (int i = 0; i < 2; ++i) {
                expect[i] -= keras ? lr * c2 * g0[i] / (c2 * std::abs(g0[i]) + eps)
                                   : lr * g0[i] / (std::abs(g0[i]) + eps);
                INFO((keras ? "keras" : "pytorch") << " step " << t << " element " << i);
                CHECK(p[i] == Approx(expect[i]).epsilon(1e-13));
            }
        }
        (void)b1;
    }
}

TEST_CASE("adam refuses a different parameter list, missing buffers and non-finite steps", "[adam]") {
    std::vector<double> w(6, 1.0), g(6, 0.5), b(2, 0.0), gb(2, 0.1);
    adam<double> opt;
    const parameter_list<double> ps{{"w", {2, 3}, parameter_role::kernel, w.data(), g.data()},
                                    {"b", {2}, parameter_role::bias, b.data(), gb.data()}};
    opt.step(ps);
    const auto before = w;

    auto reshaped = ps;
    reshaped[0].shape = {3, 2};
    CHECK_THROWS_AS(opt.step(reshaped), ferrum::value_error);
    auto renamed = ps;
    renamed[1].name = "bias";
    CHECK_THROWS_AS(opt.step(renamed), ferrum::value_error);
    CHECK_THROWS_AS(opt.step(parameter_list<double>{ps[0]}), ferrum::value_error);
    auto no_grad = ps;
    no_grad[1].grad = nullptr;
    CHECK_THROWS_AS(opt.step(no_grad), ferrum::value_error);
    g[4] = std::nan("");
    CHECK_THROWS_AS(opt.step(ps), ferrum::value_error);
    CHECK(w == before);  // nothing written by a refused step
    CHECK(opt.step_count() == 1);
    CHECK_THROWS_AS(adam<double>(adam_options{-1.0}), ferrum::value_error);
    CHECK_THROWS_AS(opt.set_lr(std::nan("")), ferrum::value_error);
    opt.set_lr(0.5);
    CHECK(opt.lr() == 0.5);

    // A first step that fails does not adopt its list.
    adam<double> fresh;
    CHECK_THROWS_AS(fresh.step(no_grad), ferrum::value_error);
    g[4] = 0.5;
    fresh.step(reshaped);
    CHECK(fresh.step_count() == 1);
    // set_lr takes effect on the next step: lr = 0 moves nothing.
    fresh.set_lr(0.0);
    const auto frozen = w;
    fresh.step(reshaped);
    CHECK(w == frozen);
    CHECK(fresh.step_count() == 2);
}

TEMPLATE_TEST_CASE("adam checkpoint: save/restore mid-run gives a bit-identical trajectory", "[adam]", float, double) {
    using T = TestType;
    const auto ref = ferrum_test::load_reference("adam.json");
    const auto f = load_objective<T>(ref);
    const auto p0 = ref.at("p0").get<std::vector<double>>();
    adam_options o;
    o.lr = 0.03;
    o.weight_decay = 0.01;
    o.keras_epsilon = true;

    std::vector<T> p(p0.begin(), p0.end()), g(p.size());
    const parameter_list<T> ps{{"p", {p.size()}, parameter_role::kernel, p.data(), g.data()}};
    adam<T> run(o);
    for (int s = 0; s < 7; ++s) {
        f.gradient(p.data(), g.data());
        run.step(ps);
    }
    // What a trainer writes to disk and reads back (text, not the in-memory object).
    const std::string saved = run.state_dict().dump();
    std::vector<T> q = p, gq(q.size());
    const parameter_list<T> qs{{"p", {q.size()}, parameter_role::kernel, q.data(), gq.data()}};
    adam<T> resumed;  // default options: load_state_dict must bring the saved ones back
    resumed.load_state_dict(nlohmann::json::parse(saved));
    CHECK(resumed.step_count() == 7);
    CHECK(resumed.lr() == o.lr);
    CHECK(resumed.options().keras_epsilon);
    for (int s = 0; s < 13; ++s) {
        f.gradient(p.data(), g.data());
        run.step(ps);
        f.gradient(q.data(), gq.data());
        resumed.step(qs);
    }
    CHECK(p == q);
    CHECK(run.state_dict() == resumed.state_dict());
}

TEST_CASE("adam load_state_dict refuses malformed states and leaves itself unchanged", "[adam]") {
    std::vector<double> w(3, 1.0), g(3, 0.5);
    const parameter_list<double> ps{{"w", {3}, parameter_role::kernel, w.data(), g.data()}};
    adam<double> opt;
    opt.step(ps);
    const auto good = opt.state_dict();

    auto short_m = good;
    short_m["params"][0]["m"] = {0.1, 0.2};
    auto no_step = good;
    no_step.erase("step");
    auto wrong_format = good;
    wrong_format["format"] = "ferrum.sgd";
    auto bad_beta = good;
    bad_beta["options"]["beta2"] = 1.0;
    for (const auto& bad : {short_m, no_step, wrong_format, bad_beta})
        CHECK_THROWS_AS(opt.load_state_dict(bad), ferrum::value_error);
    CHECK(opt.state_dict() == good);

    // A restored state is tied to its parameter list.
    adam<double> other;
    other.load_state_dict(good);
    std::vector<double> v(4, 1.0), gv(4, 0.5);
    CHECK_THROWS_AS(other.step({{"w", {4}, parameter_role::kernel, v.data(), gv.data()}}), ferrum::value_error);
}

TEST_CASE("clip_grad_norm equals torch.nn.utils.clip_grad_norm_ (analytic)", "[clip]") {
    // Gradients (3, 4) and (12): total 2-norm sqrt(9 + 16 + 144) = 13.
    std::vector<double> w1(2), w2(1), g1{3.0, 4.0}, g2{12.0};
    const parameter_list<double> ps{{"a", {2}, parameter_role::kernel, w1.data(), g1.data()},
                                    {"b", {1}, parameter_role::bias, w2.data(), g2.data()}};
    SECTION("clipped: scaled by max_norm / (total + 1e-6)") {
        CHECK(clip_grad_norm(ps, 6.5) == 13.0);
        const double c = 6.5 / (13.0 + 1e-6);
        CHECK(g1[0] == Approx(3 * c).epsilon(1e-15));
        CHECK(g1[1] == Approx(4 * c).epsilon(1e-15));
        CHECK(g2[0] == Approx(12 * c).epsilon(1e-15));
        CHECK(std::sqrt(g1[0] * g1[0] + g1[1] * g1[1] + g2[0] * g2[0]) < 6.5);
    }
    SECTION("max_norm equal to the norm still scales, by 13 / (13 + 1e-6)") {
        CHECK(clip_grad_norm(ps, 13.0) == 13.0);
        CHECK(g2[0] == Approx(12 * 13.0 / (13.0 + 1e-6)).epsilon(1e-15));
        CHECK(g2[0] < 12.0);
    }
    SECTION("not clipped: gradients untouched") {
        CHECK(clip_grad_norm(ps, 13.1) == 13.0);
        CHECK(g1 == std::vector<double>{3.0, 4.0});
        CHECK(g2 == std::vector<double>{12.0});
    }
    SECTION("non-finite norm and bad max_norm are refused, gradients untouched") {
        g2[0] = INFINITY;
        CHECK_THROWS_AS(clip_grad_norm(ps, 1.0), ferrum::value_error);
        CHECK(g1 == std::vector<double>{3.0, 4.0});
        g2[0] = 12.0;
        CHECK_THROWS_AS(clip_grad_norm(ps, -1.0), ferrum::value_error);
    }
    SECTION("empty list: norm 0") { CHECK(clip_grad_norm(parameter_list<double>{}, 1.0) == 0.0); }
    SECTION("float") {
        std::vector<float> fw(2), fg{3.0f, 4.0f};
        CHECK(clip_grad_norm(parameter_list<float>{{"f", {2}, parameter_role::kernel, fw.data(), fg.data()}}, 1.0f) ==
              Approx(5.0f));
        CHECK(fg[1] == Approx(0.8f));
    }
}
