// Losses and L1/L2 penalties: values and gradients against PyTorch autograd (heteroscedastic_loss.json),
// analytic cases, and float64 central finite differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>

#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/regularization.hpp"
#include "reference.hpp"

using namespace ferrum::nn;
using vec = Eigen::VectorXd;

namespace {

template <class T>
output_vector<T> from_json(const nlohmann::json& j) {
    const auto v = j.get<std::vector<double>>();
    output_vector<T> out(static_cast<Eigen::Index>(v.size()));
    for (std::size_t i = 0; i < v.size(); ++i) out[static_cast<Eigen::Index>(i)] = static_cast<T>(v[i]);
    return out;
}

// |a - b| <= tol * max(1, |b|): relative for large values, absolute for small ones.
template <class A, class B>
void require_close(const A& got, const B& want, double tol) {
    REQUIRE(got.size() == want.size());
    for (Eigen::Index i = 0; i < got.size(); ++i) {
        INFO("index " << i << ": got " << got[i] << ", want " << want[i]);
        REQUIRE(std::abs(double(got[i]) - double(want[i])) <= tol * std::max(1.0, std::abs(double(want[i]))));
    }
}

void require_close(double got, double want, double tol) {
    INFO("got " << got << ", want " << want);
    REQUIRE(std::abs(got - want) <= tol * std::max(1.0, std::abs(want)));
}

// Central finite difference of f at x in every coordinate.
vec finite_difference(const std::function<double(const vec&)>& f, vec x, double h = 1e-6) {
    vec g(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const double xi = x[i];
        x[i] = xi + h;
        const double up = f(x);
        x[i] = xi - h;
        const double down = f(x);
        x[i] = xi;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

// A heteroscedastic loss's analytic gradients in the mean and in the log-variance, each against central
// differences of loss(mean, log_var).value in that argument alone.
template <class Loss>
void require_gradients_match_finite_differences(const Loss& loss, const vec& mu, const vec& lv, double tol) {
    const auto got = loss(mu, lv);
    require_close(got.grad_mean, finite_difference([&](const vec& p) { return loss(p, lv).value; }, mu), tol);
    require_close(got.grad_log_var, finite_difference([&](const vec& p) { return loss(mu, p).value; }, lv), tol);
}

vec uniform(std::mt19937_64& rng, Eigen::Index n, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    vec v(n);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = u(rng);
    return v;
}

}  // namespace

TEMPLATE_TEST_CASE("heteroscedastic losses equal PyTorch autograd", "[losses]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, double> ? 1e-10 : 2e-5;
    const auto ref = ferrum_test::load_reference("heteroscedastic_loss.json");
    const auto y = from_json<T>(ref.at("y"));
    const auto mu = from_json<T>(ref.at("mu"));
    const auto lv = from_json<T>(ref.at("log_var_pred"));
    const auto sd = from_json<T>(ref.at("sigma_data"));
    const auto cost = from_json<T>(ref.at("cost"));

    SECTION("robust loss with label errors (Fallows & Sanders eq. 3)") {
        const auto& r = ref.at("robust");
        const auto got = robust_heteroscedastic_loss(mu, lv, y, sd);
        require_close(double(got.value), r.at("loss").get<double>(), tol);
        require_close(got.grad_mean, from_json<double>(r.at("grad_mu")), tol);
        require_close(got.grad_log_var, from_json<double>(r.at("grad_log_var_pred")), tol);
    }
    SECTION("cost-sensitive Gaussian NLL with an error floor (UA-CSNet)") {
        const auto& r = ref.at("cost_sensitive_nll");
        const auto got = cost_sensitive_gaussian_nll(mu, lv, y, cost, static_cast<T>(r.at("eps").get<double>()));
        require_close(double(got.value), r.at("loss").get<double>(), tol);
        require_close(got.grad_mean, from_json<double>(r.at("grad_mu")), tol);
        require_close(got.grad_log_var, from_json<double>(r.at("grad_log_var_pred")), tol);
    }
}

TEST_CASE("weighted MSE follows Keras sample_weight semantics", "[losses]") {
    const vec pred = (vec(3) << 1, 2, 3).finished();
    const vec target = vec::Zero(3);
    const vec w = (vec(3) << 1, 2, 0).finished();
    // Keras: sum_i w_i r_i^2 / N. Here sum w = N = 3; the second case (sum w = 3.5) tells them apart.
    const auto mean = mse_loss(pred, target, w);
    CHECK(mean.value == Approx((1 * 1 + 2 * 4 + 0 * 9) / 3.0).epsilon(1e-15));
    require_close(mean.grad, vec((vec(3) << 2 * 1 * 1 / 3.0, 2 * 2 * 2 / 3.0, 0).finished()), 1e-15);
    const vec w2 = (vec(3) << 0.5, 1, 2).finished();
    CHECK(mse_loss(pred, target, w2).value == Approx((0.5 + 4 + 18) / 3.0).epsilon(1e-15));
    const auto sum = mse_loss(pred, target, w, reduction::sum);
    CHECK(sum.value == Approx(9.0).epsilon(1e-15));
    require_close(sum.grad, vec((vec(3) << 2, 8, 0).finished()), 1e-15);
    CHECK(mse_loss(pred, target).value == Approx(14.0 / 3).epsilon(1e-15));
}

TEST_CASE("loss gradients equal central finite differences (float64)", "[losses]") {
    std::mt19937_64 rng(7);
    const Eigen::Index n = 17;
    const vec y = uniform(rng, n, -2.5, 0.5);
    const vec mu = uniform(rng, n, -2.5, 0.5);
    const vec sd = uniform(rng, n, 0.0, 0.3);
    const vec w = uniform(rng, n, 0.5, 3.0);
    const double fd_tol = 1e-7;

    for (const reduction r : {reduction::mean, reduction::sum}) {
        SECTION(std::string("weighted MSE, ") + (r == reduction::mean ? "mean" : "sum")) {
            const auto got = mse_loss(mu, y, w, r);
            const auto fd = finite_difference([&](const vec& p) { return mse_loss(p, y, w, r).value; }, mu);
            require_close(got.grad, fd, fd_tol);
        }
        SECTION(std::string("robust heteroscedastic, ") + (r == reduction::mean ? "mean" : "sum")) {
            const vec lv = uniform(rng, n, -6.0, 1.0);
            require_gradients_match_finite_differences(
                [&](const vec& m, const vec& l) { return robust_heteroscedastic_loss(m, l, y, sd, w, r); }, mu, lv,
                fd_tol);
        }
        SECTION(std::string("cost-sensitive NLL, both sides of the floor, ") +
                (r == reduction::mean ? "mean" : "sum")) {
            const double eps = 0.02;
            // Keep every log-variance at least 0.05 away from the kink at ln(eps), where the derivative
            // jumps and a central difference straddling it would be meaningless.
            vec lv = uniform(rng, n, -6.0, 0.0);
            for (Eigen::Index i = 0; i < n; ++i)
                if (std::abs(lv[i] - std::log(eps)) < 0.05) lv[i] = std::log(eps) + 0.1;
            REQUIRE((lv.array() < std::log(eps)).any());
            REQUIRE((lv.array() > std::log(eps)).any());
            require_gradients_match_finite_differences(
                [&](const vec& m, const vec& l) { return cost_sensitive_gaussian_nll(m, l, y, w, eps, r); }, mu, lv,
                fd_tol);
        }
    }
}

TEST_CASE("cost-sensitive NLL: the error floor and its zero gradient (analytic)", "[losses]") {
    const double eps = 0.02;
    const vec mu = (vec(2) << 0.0, 0.0).finished();
    const vec y = (vec(2) << 1.0, 0.5).finished();
    const vec lv = (vec(2) << std::log(0.001), std::log(0.5)).finished();  // floored, not floored
    const vec c = (vec(2) << 2.0, 3.0).finished();
    const auto got = cost_sensitive_gaussian_nll(mu, lv, y, c, eps);
    const double want = 2.0 * (1.0 / (2 * eps) + 0.5 * std::log(eps)) + 3.0 * (0.25 / (2 * 0.5) + 0.5 * std::log(0.5));
    require_close(got.value, want, 1e-14);
    require_close(got.grad_mean, vec((vec(2) << -2.0 / eps, -3.0 * 0.5 / 0.5).finished()), 1e-14);
    CHECK(got.grad_log_var[0] == 0.0);
    require_close(got.grad_log_var[1], 3.0 * (0.5 - 0.25 / (2 * 0.5)), 1e-14);
    // mean reduction divides by N = 2; the unit-cost overload is c = 1.
    require_close(cost_sensitive_gaussian_nll(mu, lv, y, c, eps, reduction::mean).value, want / 2, 1e-14);
    require_close(cost_sensitive_gaussian_nll(mu, lv, y, eps).value,
                  cost_sensitive_gaussian_nll(mu, lv, y, vec::Ones(2), eps).value, 0.0);
}

TEST_CASE("robust loss: limits that have closed forms", "[losses]") {
    // sigma_data = 0 reduces to the Gaussian NLL in log-variance form: 0.5 r^2 e^-s + 0.5 s.
    const vec mu = (vec(2) << 0.3, -1.0).finished();
    const vec y = (vec(2) << 1.0, -1.5).finished();
    const vec lv = (vec(2) << -1.0, 2.0).finished();
    const auto nll = robust_heteroscedastic_loss(mu, lv, y, vec::Zero(2));
    const double want = 0.5 * (0.5 * 0.49 * std::exp(1.0) - 0.5 + 0.5 * 0.25 * std::exp(-2.0) + 1.0);
    require_close(nll.value, want, 1e-14);
    // A huge predicted variance must not overflow: s = log_var exactly, gradient 0.5/N - tiny.
    const vec big = (vec(2) << 800.0, 800.0).finished();
    const auto b = robust_heteroscedastic_loss(mu, big, y, vec::Constant(2, 0.1));
    require_close(b.value, 400.0, 1e-14);
    require_close(b.grad_log_var, vec::Constant(2, 0.25), 1e-14);
}

TEST_CASE("Fallows & Sanders weight W = |[Fe/H]| + C (eq. 11)", "[losses]") {
    const vec feh = (vec(3) << -2.0, 0.3, 0.0).finished();
    require_close(fallows_sanders_weight(feh), vec((vec(3) << 2.5, 0.8, 0.5).finished()), 0.0);
    require_close(fallows_sanders_weight(feh, 1.0), vec((vec(3) << 3.0, 1.3, 1.0).finished()), 0.0);
    CHECK_THROWS_AS(fallows_sanders_weight(feh, -0.1), ferrum::value_error);
    const Eigen::VectorXf fehf = feh.cast<float>();
    CHECK(fallows_sanders_weight(fehf)[0] == 2.5f);
}

TEST_CASE("losses refuse bad input instead of returning NaN", "[losses]") {
    const vec a = vec::Constant(3, 0.5), b = vec::Zero(3), two = vec::Zero(2);
    CHECK_THROWS_AS(mse_loss(a, two), ferrum::value_error);
    CHECK_THROWS_AS(mse_loss(vec(), vec()), ferrum::value_error);
    CHECK_THROWS_AS(mse_loss(a, b, (vec(3) << 1, -1, 1).finished()), ferrum::value_error);
    vec nan = a;
    nan[1] = std::nan("");
    CHECK_THROWS_AS(mse_loss(nan, b), ferrum::value_error);
    CHECK_THROWS_AS(robust_heteroscedastic_loss(a, b, b, (vec(3) << 0.1, -0.1, 0.1).finished()), ferrum::value_error);
    CHECK_THROWS_AS(robust_heteroscedastic_loss(a, nan, b, b), ferrum::value_error);
    CHECK_THROWS_AS(cost_sensitive_gaussian_nll(a, b, b, 0.0), ferrum::value_error);
    CHECK_THROWS_AS(cost_sensitive_gaussian_nll(a, b, b, two), ferrum::value_error);
    // A log-variance so negative that exp(-s) overflows is reported, not returned as inf.
    CHECK_THROWS_AS(robust_heteroscedastic_loss(a, vec::Constant(3, -800.0), b, b), ferrum::value_error);
}

// --- L1/L2 penalties -----------------------------------------------------------------------------

namespace {

struct toy_net {
    std::vector<double> kernel{1.0, -2.0, 0.0}, recurrent{0.5, -0.25}, bias{-3.0};
    std::vector<double> gk = std::vector<double>(3, 1.0), gr = std::vector<double>(2, 1.0),
                        gb = std::vector<double>(1, 1.0);
    parameter_list<double> params() {
        return {{"rnn.weight_ih", {3}, parameter_role::kernel, kernel.data(), gk.data()},
                {"rnn.weight_hh", {2}, parameter_role::recurrent, recurrent.data(), gr.data()},
                {"rnn.bias", {1}, parameter_role::bias, bias.data(), gb.data()}};
    }
};

}  // namespace

TEST_CASE("regularizer: Keras L1L2 values and gradients per role (analytic)", "[penalty]") {
    toy_net net;
    const regularizer reg{0.1, 0.01, 0.2, 0.3, 0.05, 0.5};
    // 0.1*3 + 0.01*5 + 0.2*0.75 + 0.3*0.3125 + 0.05*3 + 0.5*9
    const double penalty = reg.apply(net.params());
    require_close(penalty, 5.24375, 1e-15);
    require_close(Eigen::Map<vec>(net.gk.data(), 3), vec((vec(3) << 1.12, 0.86, 1.0).finished()), 1e-15);
    require_close(Eigen::Map<vec>(net.gr.data(), 2), vec((vec(2) << 1.5, 0.65).finished()), 1e-15);
    CHECK(net.gb[0] == Approx(-2.05).epsilon(1e-15));
    // penalty() leaves gradients alone.
    require_close(reg.penalty(net.params()), 5.24375, 1e-15);
    CHECK(net.gb[0] == Approx(-2.05).epsilon(1e-15));

    // Roles are separate: a kernel-only penalty leaves recurrent and bias gradients untouched.
    toy_net k;
    const double pk = regularizer{0.0, 1.0}.apply(k.params());
    require_close(pk, 5.0, 1e-15);
    CHECK(k.gr == std::vector<double>{1.0, 1.0});
    CHECK(k.gb == std::vector<double>{1.0});

    CHECK_THROWS_AS((regularizer{-0.1}.apply(net.params())), ferrum::value_error);
}

TEST_CASE("regularizer: gradient equals finite differences of the penalty", "[penalty]") {
    const regularizer reg{0.3, 0.2, 0.1, 0.4, 0.2, 0.7};
    std::mt19937_64 rng(11);
    toy_net net;
    for (auto* v : {&net.kernel, &net.recurrent, &net.bias})
        for (auto& x : *v) x = std::uniform_real_distribution<double>(0.1, 1.0)(rng) * (rng() % 2 ? 1 : -1);
    toy_net before = net;
    reg.apply(net.params());
    for (auto [w, g, g0] :
         {std::tuple{&net.kernel, &net.gk, &before.gk}, std::tuple{&net.recurrent, &net.gr, &before.gr},
          std::tuple{&net.bias, &net.gb, &before.gb}}) {
        for (std::size_t i = 0; i < w->size(); ++i) {
            const double h = 1e-6, x = (*w)[i];
            (*w)[i] = x + h;
            const double up = reg.penalty(net.params());
            (*w)[i] = x - h;
            const double down = reg.penalty(net.params());
            (*w)[i] = x;
            require_close((*g)[i] - (*g0)[i], (up - down) / (2 * h), 1e-8);
        }
    }
}

TEST_CASE("regularizer works on float parameters", "[penalty]") {
    std::vector<float> w{1.0f, -2.0f}, g{0.0f, 0.0f};
    parameter_list<float> ps{{"dense.weight", {1, 2}, parameter_role::kernel, w.data(), g.data()}};
    CHECK(regularizer{0.5, 0.25}.apply(ps) == Approx(0.5 * 3 + 0.25 * 5));
    CHECK(g[0] == Approx(0.5 + 0.5));
    CHECK(g[1] == Approx(-0.5 - 1.0));
}
