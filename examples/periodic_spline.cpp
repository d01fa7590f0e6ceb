// A phase-folded RR Lyrae light curve smoothed with FITPACK's periodic spline (SciPy's splrep(per=1))
// and, for comparison, the open-interval UnivariateSpline. Build: cmake --build <dir> --target periodic_spline
#include <ferrum/spline.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
    // 80 Gaia-like epochs of an RRab star: phases in [0, 1), G magnitudes with 0.02 mag errors.
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> uphase(0.0, 1.0);
    std::normal_distribution<double> noise(0.0, 0.02);
    const auto truth = [](double ph) {
        const double two_pi = 6.283185307179586;
        return 15.5 + 0.32 * std::cos(two_pi * ph) + 0.15 * std::cos(2 * two_pi * ph + 3.9) +
               0.10 * std::cos(3 * two_pi * ph + 1.9) + 0.06 * std::cos(4 * two_pi * ph + 6.0);
    };
    std::vector<double> phase, mag, weight;
    for (int i = 0; i < 80; ++i) {
        const double ph = uphase(rng);
        phase.push_back(ph);  // any order: the fit sorts
        mag.push_back(truth(ph) + noise(rng));
        weight.push_back(1.0 / 0.02);  // w = 1/sigma
    }

    // s = number of points: the expected chi^2 when 1/w is the noise level.
    const double s = static_cast<double>(phase.size());
    const ferrum::fitpack_spline periodic = ferrum::periodic_spline(phase, mag, weight, s, /*period=*/1.0);
    const ferrum::fitpack_spline open = ferrum::univariate_spline(phase, mag, weight, /*k=*/3, s);
    std::printf("periodic: %zu knots, residual %.2f (%s)\n", periodic.knots().size(), periodic.residual(),
                periodic.message().c_str());
    std::printf("open:     %zu knots, residual %.2f\n", open.knots().size(), open.residual());

    std::printf("\n phase    truth   periodic      open\n");
    for (const double ph : {0.0, 0.02, 0.25, 0.5, 0.75, 0.98, 1.0}) {
        std::printf("%6.2f  %7.4f  %9.4f  %8.4f\n", ph, truth(ph), periodic(ph), open(ph));
    }
    // The periodic fit joins up at the period's end (value and slope); the open fit does not have to.
    std::printf("\nf(1) - f(0):   periodic %+.2e   open %+.2e\n", periodic(1.0 - 1e-12) - periodic(0.0),
                open(1.0) - open(0.0));
    std::printf("f'(1) - f'(0): periodic %+.2e   open %+.2e\n",
                periodic.derivative(1.0 - 1e-12) - periodic.derivative(0.0),
                open.derivative(1.0) - open.derivative(0.0));
    return 0;
}
