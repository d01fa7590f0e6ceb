// FITPACK splines: univariate_spline (curfit) and periodic_spline (percur) against SciPy 1.10's
// UnivariateSpline / splrep(per=1) vectors, plus analytic checks for the other degrees, ties and errors.
#include <catch2/catch.hpp>

#include <ferrum/spline.hpp>

#include <Eigen/Dense>
#include <xtensor/xadapt.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "reference.hpp"

using ferrum_test::load_reference;
using ferrum_test::max_rel_error;
using ferrum_test::vec;

namespace {

/// sum (w_i (y_i - f(x_i)))^2 evaluated directly: the objective the fit reports as residual().
double weighted_sse(const ferrum::fitpack_spline& f, const std::vector<double>& x, const std::vector<double>& y,
                    const std::vector<double>& w) {
    double s = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double r = (w.empty() ? 1.0 : w[i]) * (y[i] - f(x[i]));
        s += r * r;
    }
    return s;
}

/// Weighted least-squares polynomial of degree k (Eigen QR on a scaled Vandermonde matrix): the
/// independent answer for s >= fp0, where curfit returns that polynomial.
std::vector<double> polyfit_values(const std::vector<double>& x, const std::vector<double>& y,
                                   const std::vector<double>& w, int k, const std::vector<double>& q) {
    const double lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
    const auto u = [&](double v) { return (2.0 * v - lo - hi) / (hi - lo); };
    Eigen::MatrixXd A(x.size(), k + 1);
    Eigen::VectorXd b(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        for (int j = 0; j <= k; ++j) A(i, j) = w[i] * std::pow(u(x[i]), j);
        b(i) = w[i] * y[i];
    }
    const Eigen::VectorXd c = A.colPivHouseholderQr().solve(b);
    std::vector<double> out;
    for (const double v : q) {
        double s = 0.0;
        for (int j = k; j >= 0; --j) s = s * u(v) + c(j);
        out.push_back(s);
    }
    return out;
}

struct noisy_curve {
    std::vector<double> x, y, w;
};

noisy_curve make_curve(int m, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> ux(0.0, 2.0), us(0.02, 0.1);
    std::normal_distribution<double> nz(0.0, 1.0);
    noisy_curve c;
    for (int i = 0; i < m; ++i) c.x.push_back(ux(rng));
    std::sort(c.x.begin(), c.x.end());
    for (const double x : c.x) {
        const double sig = us(rng);
        c.y.push_back(std::sin(3.0 * x) + 0.3 * x * x + sig * nz(rng));
        c.w.push_back(1.0 / sig);
    }
    return c;
}

noisy_curve shuffled(const noisy_curve& c, unsigned seed) {
    std::vector<std::size_t> order(c.x.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    noisy_curve out;
    for (const auto i : order) {
        out.x.push_back(c.x[i]);
        out.y.push_back(c.y[i]);
        out.w.push_back(c.w[i]);
    }
    return out;
}

std::vector<double> linspace(double a, double b, int n) {
    std::vector<double> v(n);
    for (int i = 0; i < n; ++i) v[i] = a + (b - a) * i / (n - 1);
    return v;
}

}  // namespace

TEST_CASE("univariate_spline equals SciPy's UnivariateSpline (curfit) for every oracle fit", "[fitpack]") {
    const auto ref = load_reference("smoothing_spline_fitpack.json");
    int fits = 0;
    for (const auto& cs : ref.at("cases")) {
        const auto x = vec(cs.at("x")), y = vec(cs.at("y")), w = vec(cs.at("w")), q = vec(cs.at("query"));
        for (const auto& f : cs.at("fits")) {
            const bool unweighted = f.contains("unweighted") && f.at("unweighted").get<bool>();
            const double s = f.at("s").get<double>();
            INFO(cs.at("name").get<std::string>() << " s=" << s << (unweighted ? " unweighted" : " weighted"));
            const auto u = ferrum::univariate_spline(x, y, unweighted ? std::vector<double>{} : w, 3, s);
            const auto knots = vec(f.at("knots"));
            REQUIRE(u.knots().size() == knots.size());
            CHECK(max_rel_error(u.knots(), knots) <= 1e-9);
            CHECK(max_rel_error(u.coeffs(), vec(f.at("coeffs"))) <= 1e-9);
            CHECK(u.residual() == Approx(f.at("residual").get<double>()).epsilon(1e-9));
            CHECK(max_rel_error(u(q), vec(f.at("values"))) <= 1e-9);
            // the reported residual is the objective itself
            CHECK(weighted_sse(u, x, y, unweighted ? std::vector<double>{} : w) == Approx(u.residual()).epsilon(1e-9));
            ++fits;
        }
    }
    CHECK(fits >= 4);
}

TEST_CASE("periodic_spline equals SciPy's splrep(per=1) (percur), in both input forms", "[fitpack]") {
    const auto ref = load_reference("smoothing_spline_periodic.json");
    for (const auto& cs : ref.at("cases")) {
        INFO(cs.at("name").get<std::string>());
        const auto x = vec(cs.at("x")), y = vec(cs.at("y")), w = vec(cs.at("w"));
        const auto q = vec(cs.at("query_phase")), want = vec(cs.at("values"));
        const double s = cs.at("s").get<double>();
        const double period = x.back() - x.front();
        const auto p = ferrum::periodic_spline(x, y, w, s, period);
        CHECK(p.periodic());
        CHECK(max_rel_error(p(q), want) <= 1e-9);
        CHECK(weighted_sse(p, std::vector<double>(x.begin(), x.end() - 1), std::vector<double>(y.begin(), y.end() - 1),
                           std::vector<double>(w.begin(), w.end() - 1)) == Approx(p.residual()).epsilon(1e-9));

        // the nominal period (the oracle's wrap point is x0 + 1.0, rounded)
        CHECK(max_rel_error(ferrum::periodic_spline(x, y, w, s, 1.0)(q), want) <= 1e-9);
        // a real phase just before the end is data, not the wrap marker
        {
            auto xn = std::vector<double>(x.begin(), x.end() - 1), yn = std::vector<double>(y.begin(), y.end() - 1);
            xn.push_back(x.front() + period * (1.0 - 1e-9));
            yn.push_back(y.front() + 0.01);
            // interpolated (to the conditioning of a 1e-9-wide step), so the point was used
            CHECK(ferrum::periodic_spline(xn, yn, {}, 0.0, period)(xn.back()) == Approx(yn.back()).margin(1e-5));
            xn.back() = x.front() + period * (1.0 - 1e-13);  // still data: one knot per phase plus the wrap
            CHECK(ferrum::periodic_spline(xn, yn, {}, 0.0, period).knots().size() == xn.size() + 1);
        }

        // phases form: drop the wrap point and let periodic_spline add it
        const std::vector<double> xp(x.begin(), x.end() - 1), yp(y.begin(), y.end() - 1), wp(w.begin(), w.end() - 1);
        const auto p2 = ferrum::periodic_spline(xp, yp, wp, s, period);
        CHECK(max_rel_error(p2(q), want) <= 1e-9);
        CHECK(max_rel_error(p2.knots(), p.knots()) <= 1e-12);

        // unsorted input is sorted first
        const noisy_curve sh = shuffled({xp, yp, wp}, 7);
        CHECK(max_rel_error(ferrum::periodic_spline(sh.x, sh.y, sh.w, s, period)(q), want) <= 1e-9);

        // evaluation wraps: one period later or earlier is the same point
        for (const double v : {0.013, 0.5, 0.987}) {
            CHECK(p(v + period) == Approx(p(v)).epsilon(1e-12));
            CHECK(p(v - 3 * period) == Approx(p(v)).epsilon(1e-12));
        }
    }
}

TEST_CASE("periodic spline joins up: value and first two derivatives equal at both ends", "[fitpack]") {
    const auto ref = load_reference("smoothing_spline_periodic.json");
    for (const auto& cs : ref.at("cases")) {
        const auto x = vec(cs.at("x")), y = vec(cs.at("y")), w = vec(cs.at("w"));
        for (int k = 1; k <= 5; ++k) {
            for (const double s : {cs.at("s").get<double>(), 0.3 * cs.at("s").get<double>(), 0.0}) {
                INFO(cs.at("name").get<std::string>() << " k=" << k << " s=" << s);
                const auto p = ferrum::periodic_spline(x, y, w, s, x.back() - x.front(), k);
                const auto& t = p.full_knots();
                const double a = t[k], b = t[t.size() - k - 1];
                CHECK(b - a == Approx(x.back() - x.front()).epsilon(1e-14));
                // evaluate the raw pieces (no wrapping) at both ends of the base interval
                for (int nu = 0; nu <= std::min(2, k - 1); ++nu) {
                    const auto d = ferrum::detail::differentiate({t, p.coeffs(), k}, nu);
                    const double fa = ferrum::detail::spline_value(d.t, d.c, d.k, a);
                    const double fb = ferrum::detail::spline_value(d.t, d.c, d.k, b);
                    INFO("derivative " << nu << ": " << fa << " vs " << fb);
                    CHECK(std::fabs(fa - fb) <= 1e-9 * (1.0 + std::fabs(fa)));
                }
                if (s == 0.0) {  // interpolates every phase
                    for (std::size_t i = 0; i + 1 < x.size(); ++i) CHECK(p(x[i]) == Approx(y[i]).epsilon(1e-9));
                    CHECK(p.status() == ferrum::fitpack_status::interpolating);
                }
            }
        }
    }
}

TEST_CASE("degrees 1..5: s = 0 interpolates, a huge s gives the least-squares polynomial", "[fitpack]") {
    const auto c = make_curve(40, 11);
    const auto q = linspace(-0.1, 2.1, 57);  // includes extrapolation on both sides
    for (int k = 1; k <= 5; ++k) {
        INFO("k=" << k);
        const auto interp = ferrum::univariate_spline(c.x, c.y, c.w, k, 0.0);
        CHECK(interp.status() == ferrum::fitpack_status::interpolating);
        CHECK(interp.residual() <= 1e-20);
        CHECK(interp.knots().size() == c.x.size() - k + 1);
        for (std::size_t i = 0; i < c.x.size(); ++i)
            CHECK(interp(c.x[i]) == Approx(c.y[i]).epsilon(1e-10).margin(1e-12));

        const auto poly = ferrum::univariate_spline(c.x, c.y, c.w, k, 1e12);
        CHECK(poly.status() == ferrum::fitpack_status::polynomial);
        CHECK(poly.knots() == std::vector<double>{c.x.front(), c.x.back()});
        const auto want = polyfit_values(c.x, c.y, c.w, k, q);
        const auto got = poly(q);
        for (std::size_t i = 0; i < q.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-9).margin(1e-10));
        CHECK(poly.residual() == Approx(weighted_sse(poly, c.x, c.y, c.w)).epsilon(1e-9));

        // an intermediate s is met to FITPACK's tolerance |fp - s| < 0.001 s
        const double s = 0.5 * static_cast<double>(c.x.size());
        const auto mid = ferrum::univariate_spline(c.x, c.y, c.w, k, s);
        CHECK(mid.ok());
        CHECK(std::fabs(mid.residual() - s) <= 1e-3 * s);
        CHECK(weighted_sse(mid, c.x, c.y, c.w) == Approx(mid.residual()).epsilon(1e-9));
    }
}

TEST_CASE("unsorted x is sorted; ties merge into one point without changing the objective", "[fitpack]") {
    auto c = make_curve(30, 5);
    // duplicate three x values with different y and weights
    const std::vector<std::size_t> dup = {4, 12, 25};
    auto x = c.x, y = c.y, w = c.w;
    for (const auto i : dup) {
        x.push_back(c.x[i]);
        y.push_back(c.y[i] + 0.07);
        w.push_back(0.5 * c.w[i]);
    }
    // merged by hand: weight sqrt(w1^2 + w2^2), y at the w^2-weighted mean, scatter C
    auto xm = c.x, ym = c.y, wm = c.w;
    double scatter = 0.0;
    for (const auto i : dup) {
        const double w1 = c.w[i] * c.w[i], w2 = 0.25 * c.w[i] * c.w[i];
        const double ybar = (w1 * c.y[i] + w2 * (c.y[i] + 0.07)) / (w1 + w2);
        scatter += w1 * (c.y[i] - ybar) * (c.y[i] - ybar) + w2 * (c.y[i] + 0.07 - ybar) * (c.y[i] + 0.07 - ybar);
        ym[i] = ybar;
        wm[i] = std::sqrt(w1 + w2);
    }
    const auto q = linspace(0.0, 2.0, 41);
    for (const double s : {10.0, 30.0, 1e9}) {
        INFO("s=" << s);
        const auto tied = ferrum::univariate_spline(x, y, w, 3, s);
        const auto merged = ferrum::univariate_spline(xm, ym, wm, 3, s - scatter);
        CHECK(max_rel_error(tied(q), merged(q)) <= 1e-12);
        CHECK(tied.residual() == Approx(merged.residual() + scatter).epsilon(1e-12));
        // residual() is the objective over the original (unmerged) points
        CHECK(tied.residual() == Approx(weighted_sse(tied, x, y, w)).epsilon(1e-9));
    }
    // the polynomial limit equals the least-squares polynomial of all original points
    const auto poly = ferrum::univariate_spline(x, y, w, 3, 1e9);
    const auto want = polyfit_values(x, y, w, 3, q);
    const auto got = poly(q);
    for (std::size_t i = 0; i < q.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-9));
    // s below the tie scatter: the best any spline can do is interpolate the means
    const auto tight = ferrum::univariate_spline(x, y, w, 3, 0.0);
    CHECK(tight.status() == ferrum::fitpack_status::interpolating);
    CHECK(tight.residual() == Approx(scatter).epsilon(1e-9));

    // shuffled input gives the same fit
    const noisy_curve sh = shuffled({x, y, w}, 3);
    const auto a = ferrum::univariate_spline(x, y, w, 3, 20.0),
               b = ferrum::univariate_spline(sh.x, sh.y, sh.w, 3, 20.0);
    CHECK(a.knots() == b.knots());
    CHECK(max_rel_error(a(q), b(q)) <= 1e-12);
}

TEST_CASE("evaluation: xtensor queries, derivatives, NaN queries", "[fitpack]") {
    const auto c = make_curve(50, 2);
    const auto u = ferrum::univariate_spline(c.x, c.y, c.w, 3, 50.0);
    const auto q = linspace(0.05, 1.95, 20);
    const auto xq = xt::adapt(q, std::array<std::size_t, 1>{q.size()});
    const xt::xtensor<double, 1> vt = u(xq);
    const auto vv = u(q);
    for (std::size_t i = 0; i < q.size(); ++i) CHECK(vt(i) == vv[i]);
    // derivatives against central finite differences
    for (const double v : q) {
        const double h = 1e-5;
        CHECK(u.derivative(v, 1) == Approx((u(v + h) - u(v - h)) / (2 * h)).epsilon(1e-6).margin(1e-6));
        CHECK(u.derivative(v, 2) ==
              Approx((u.derivative(v + h, 1) - u.derivative(v - h, 1)) / (2 * h)).epsilon(1e-5).margin(1e-5));
    }
    CHECK_THROWS_AS(u.derivative(0.5, 4), ferrum::value_error);
    // xtensor (and float) inputs fit the same spline as std::vector<double>
    const xt::xtensor<double, 1> xt_x = xt::adapt(c.x, std::array<std::size_t, 1>{c.x.size()});
    const xt::xtensor<double, 1> xt_y = xt::adapt(c.y, std::array<std::size_t, 1>{c.y.size()});
    const auto ux = ferrum::univariate_spline(xt_x, xt_y, c.w, 3, 50.0);
    CHECK(ux.coeffs() == u.coeffs());
    const auto px = ferrum::periodic_spline(xt_x / 2.0, xt_y, std::vector<double>{}, 50.0, 1.0);
    std::vector<double> half;
    for (const double v : c.x) half.push_back(v / 2.0);
    CHECK(px.coeffs() == ferrum::periodic_spline(half, c.y, {}, 50.0, 1.0).coeffs());
    const std::vector<float> xf(c.x.begin(), c.x.end());
    const std::vector<double> xd(xf.begin(), xf.end());  // the float values, widened
    CHECK(ferrum::univariate_spline(xf, c.y, c.w, 3, 50.0).coeffs() ==
          ferrum::univariate_spline(xd, c.y, c.w, 3, 50.0).coeffs());
    CHECK_THROWS_WITH(u(std::vector<double>{0.1, std::numeric_limits<double>::quiet_NaN()}), Catch::Contains("x[1]"));
    CHECK_THROWS_AS(u(std::numeric_limits<double>::infinity()), ferrum::value_error);
    const auto p = ferrum::periodic_spline(c.x, c.y, c.w, 50.0, 2.0);
    CHECK_THROWS_WITH(p(std::vector<double>{0.3, 0.2, -HUGE_VAL}), Catch::Contains("x[2]"));
}

TEST_CASE("bad input is refused with value_error naming the problem", "[fitpack]") {
    using ferrum::value_error;
    const std::vector<double> x = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}, y = {1, 2, 1, 3, 2, 1};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // too few points for the degree (m <= k), also after merging ties
    CHECK_THROWS_AS(ferrum::univariate_spline({0.0, 0.5, 1.0}, {1, 2, 3}, {}, 3, 1.0), value_error);
    CHECK_THROWS_AS(ferrum::univariate_spline({0.0, 0.0, 1.0, 1.0, 1.0}, {1, 2, 3, 4, 5}, {}, 2, 1.0), value_error);
    CHECK_NOTHROW(ferrum::univariate_spline({0.0, 0.5, 1.0, 1.5}, {1, 2, 3, 1}, {}, 3, 1.0));
    CHECK_THROWS_AS(ferrum::univariate_spline(x, y, {}, 0, 1.0), value_error);
    CHECK_THROWS_AS(ferrum::univariate_spline(x, y, {}, 6, 1.0), value_error);
    CHECK_THROWS_AS(ferrum::univariate_spline(x, y, {}, 3, -1.0), value_error);
    CHECK_THROWS_AS(ferrum::univariate_spline(x, y, {}, 3, nan), value_error);
    CHECK_THROWS_WITH(ferrum::univariate_spline({0.0, 0.1, nan, 0.3, 0.4}, {1, 2, 3, 4, 5}, {}, 3, 1.0),
                      Catch::Contains("x[2]"));
    CHECK_THROWS_WITH(ferrum::univariate_spline(x, {1, 2, 1, nan, 2, 1}, {}, 3, 1.0), Catch::Contains("y[3]"));
    CHECK_THROWS_WITH(ferrum::univariate_spline(x, y, {1, 1, 1, 1, 0, 1}, 3, 1.0), Catch::Contains("w[4]"));
    CHECK_THROWS_WITH(ferrum::univariate_spline(x, y, {1, -1, 1, 1, 1, 1}, 3, 1.0), Catch::Contains("w[1]"));
    CHECK_THROWS_WITH(ferrum::univariate_spline(x, y, {1, 1, 1, 1, 1, HUGE_VAL}, 3, 1.0), Catch::Contains("w[5]"));
    CHECK_THROWS_AS(ferrum::univariate_spline(x, {1, 2}, {}, 3, 1.0), value_error);
    CHECK_THROWS_AS(ferrum::univariate_spline(x, y, {1, 2}, 3, 1.0), value_error);

    CHECK_THROWS_AS(ferrum::periodic_spline(x, y, {}, 1.0, 0.0), value_error);
    CHECK_THROWS_AS(ferrum::periodic_spline(x, y, {}, 1.0, -1.0), value_error);
    CHECK_THROWS_AS(ferrum::periodic_spline(x, y, {}, 1.0, nan), value_error);
    CHECK_THROWS_WITH(ferrum::periodic_spline(x, y, {}, 1.0, 0.3), Catch::Contains("period"));
    CHECK_THROWS_AS(ferrum::periodic_spline({0.1, 0.4, 0.7}, {1, 2, 3}, {}, 1.0, 1.0), value_error);
    CHECK_THROWS_AS(ferrum::periodic_spline(x, y, {}, -0.5, 1.0), value_error);
    CHECK_THROWS_WITH(ferrum::periodic_spline(x, {1, 2, nan, 3, 2, 1}, {}, 1.0, 1.0), Catch::Contains("y[2]"));
}

TEST_CASE("periodic: a large s gives the weighted mean; ties merge as in curfit", "[fitpack]") {
    const std::vector<double> ph = {0.05, 0.2, 0.2, 0.41, 0.6, 0.77, 0.9}, y = {1.0, 2.0, 2.4, 0.5, -1.0, 0.2, 0.8};
    const std::vector<double> w = {1.0, 2.0, 1.0, 1.5, 1.0, 0.5, 1.0};
    const auto p = ferrum::periodic_spline(ph, y, w, 1e9, 1.0);
    CHECK(p.status() == ferrum::fitpack_status::polynomial);
    double sw = 0.0, swy = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        sw += w[i] * w[i];
        swy += w[i] * w[i] * y[i];
    }
    for (const double v : {0.0, 0.3, 0.95, 1.7}) CHECK(p(v) == Approx(swy / sw).epsilon(1e-12));
    CHECK(p.residual() == Approx(weighted_sse(p, ph, y, w)).epsilon(1e-12));
    const auto interp = ferrum::periodic_spline(ph, y, w, 0.0, 1.0);
    const double ybar = (4.0 * 2.0 + 1.0 * 2.4) / 5.0;
    CHECK(interp(0.2) == Approx(ybar).epsilon(1e-10));
    CHECK(interp(0.41) == Approx(0.5).epsilon(1e-10));
    CHECK(interp.residual() == Approx(4.0 * (2.0 - ybar) * (2.0 - ybar) + (2.4 - ybar) * (2.4 - ybar)).epsilon(1e-10));
}

TEST_CASE("s too small: SciPy's ier=3 (maxit) fit is returned with its status", "[fitpack]") {
    // SciPy 1.10: UnivariateSpline(x, y, k=3, s=1e-5) warns "maximal number of iterations ... s too small"
    // (ier=3, _data[-1]) and returns these knots/coefficients/residual.
    const std::vector<double> x = {0.055, 0.092, 0.15,  0.188, 0.275, 0.298, 0.392, 0.423, 0.433,
                                   0.562, 0.6,   0.633, 0.657, 0.669, 0.683, 0.729, 0.814, 0.967};
    const std::vector<double> y = {0.056,  0.777,  0.84,   1.003,  1.12,   0.673, 0.945, 1.185, 0.026,
                                   -0.747, -0.894, -0.358, -0.679, -0.442, -0.6,  -0.88, -0.9,  -0.514};
    const std::vector<double> knots = {0.055, 0.15, 0.188, 0.275, 0.298, 0.392, 0.423, 0.433,
                                       0.562, 0.6,  0.633, 0.657, 0.669, 0.683, 0.729, 0.967};
    const std::vector<double> coeffs = {
        0.056000073069811626, 1.1209488569771262,  0.6926243114212914,  1.0570730912601596,   1.6494216530591808,
        0.13697237076105448,  -0.6463262797670224, 2.315574959515032,   -5.503854256889062,   0.401081539911047,
        -1.324406712643561,   0.06872465443717002, -0.9390125587965577, -0.30378173877733405, -0.8831238445311824,
        -0.8615621299723534,  -1.016886855000152,  -0.5140002728601432};
    const auto u = ferrum::univariate_spline(x, y, {}, 3, 1e-5);
    CHECK(u.status() == ferrum::fitpack_status::max_iterations);
    CHECK_FALSE(u.ok());
    CHECK(u.message().find("s too small") != std::string::npos);
    CHECK(max_rel_error(u.knots(), knots) <= 1e-9);
    CHECK(max_rel_error(u.coeffs(), coeffs) <= 1e-9);
    CHECK(u.residual() == Approx(1.0264477865979738e-05).epsilon(1e-9));
}
