// What the giant-star [Fe/H] models (UA-CSNet, the Bayesian MLP, the photometric parallax) share: the
// prediction record, the calibration check of predicted sigmas, per-column standardisation, a stratified
// hold-out, and networks stored as ferrum.nn.model documents with self-test vectors from real inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/stats/standardiser.hpp"
#include "ferrum/train/kfold.hpp"
#include "ferrum/train/trainer.hpp"

namespace ferrum::models {

/// \brief One star's prediction. `sigma` is the total; for MC-dropout models sigma^2 = sigma_dropout^2 +
/// sigma_model^2 (Fallows & Sanders 2022, eq. 5); for UA-CSNet sigma = sigma_model.
struct giant_prediction {
    double value = NAN;
    double sigma = NAN;
    double sigma_model = NAN;    ///< the network's predicted (aleatoric) sigma
    double sigma_dropout = 0.0;  ///< spread of the MC-dropout means (epistemic); 0 without MC dropout
};

/// \brief How honest predicted sigmas are: the fractions of |y - prediction| below 1 and 2 sigma
/// (0.683 and 0.954 for calibrated Gaussian errors), and the bias and scatter of the residuals.
struct calibration_result {
    std::size_t n = 0;
    double within_1sigma = NAN, within_2sigma = NAN;
    double bias = NAN, rms = NAN, median_sigma = NAN;
};

/// \brief The sums behind a calibration_result, added one star at a time (models::calibration, and the
/// ferrum-giants evaluate that reads its stars in passes): one copy of the formulas.
struct calibration_sums {
    std::size_t n = 0;
    double s1 = 0, s2 = 0, sb = 0, ss = 0;

    /// One star: label y, prediction `value` with sigma `sigma`, compared with sqrt(sigma^2 + extra^2).
    void add(double y, double value, double sigma, double extra) noexcept {
        const double s = std::sqrt(sigma * sigma + extra * extra);
        const double r = y - value;
        s1 += std::abs(r) < s;
        s2 += std::abs(r) < 2 * s;
        sb += r;
        ss += r * r;
        ++n;
    }
    /// The result of the stars added (n > 0), with their median sigma found by the caller.
    calibration_result result(double median_sigma) const noexcept {
        calibration_result c;
        const double m = double(n);
        c.n = n;
        c.within_1sigma = s1 / m;
        c.within_2sigma = s2 / m;
        c.bias = -sb / m;  // mean(prediction - y)
        c.rms = std::sqrt(ss / m);
        c.median_sigma = median_sigma;
        return c;
    }
};

/// \brief Calibration of `pred` against `y`. With `extra_sigma` (e.g. the labels' own errors) the
/// residual is compared with sqrt(sigma^2 + extra^2). `idx` selects stars (empty: all).
inline calibration_result calibration(const std::vector<double>& y, const std::vector<giant_prediction>& pred,
                                      const std::vector<double>& extra_sigma = {},
                                      const std::vector<std::size_t>& idx = {}) {
    if (y.size() != pred.size() || (!extra_sigma.empty() && extra_sigma.size() != y.size()))
        throw value_error("calibration: y, predictions (and extra_sigma) must have the same length");
    std::vector<std::size_t> use = idx;
    if (use.empty()) {
        use.resize(y.size());
        std::iota(use.begin(), use.end(), std::size_t{0});
    }
    calibration_sums sums;
    std::vector<double> sig;
    for (auto i : use) {
        if (i >= y.size()) throw value_error("calibration: index out of range");
        if (!std::isfinite(pred[i].value) || !std::isfinite(pred[i].sigma)) continue;
        sums.add(y[i], pred[i].value, pred[i].sigma, extra_sigma.empty() ? 0.0 : extra_sigma[i]);
        sig.push_back(pred[i].sigma);
    }
    if (sums.n == 0) throw value_error("calibration: no star with a finite prediction");
    std::nth_element(sig.begin(), sig.begin() + std::ptrdiff_t(sig.size() / 2), sig.end());
    return sums.result(sig[sig.size() / 2]);
}

namespace detail {

/// The factor k with fraction(|r_i| < sqrt(k^2 sigma_i^2 + e_i^2)) = 0.6827 (residual r, predicted sigma,
/// label error e), by bisection in log k over [0.05, 20]; 1 when fewer than 20 stars or when the label
/// errors alone already decide the fraction.
inline double coverage_scale(const std::vector<double>& r, const std::vector<double>& sigma,
                             const std::vector<double>& e) {
    const std::size_t n = r.size();
    if (n < 20) return 1.0;
    auto frac = [&](double k) {
        std::size_t in = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const double s = k * sigma[j];
            in += std::abs(r[j]) < std::sqrt(s * s + e[j] * e[j]);
        }
        return double(in) / double(n);
    };
    double lo = 0.05, hi = 20.0;
    if (frac(lo) > 0.6827 || frac(hi) < 0.6827) return 1.0;
    for (int it = 0; it < 50; ++it) {
        const double mid = std::sqrt(lo * hi);
        (frac(mid) < 0.6827 ? lo : hi) = mid;
    }
    return std::sqrt(lo * hi);
}

inline std::vector<std::size_t> all_indices(std::size_t n) {
    std::vector<std::size_t> v(n);
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
}

/// The network as a ferrum.nn.model document (loadable with nn::load_model too), with `preprocessing`
/// and one test vector computed from `test_inputs` (real, standardised inputs: a loaded file re-runs them).
template <class Dummy = void>  // a template: compiled only where it is used
inline nlohmann::json network_document(nn::functional<float>& net, const nlohmann::json& preprocessing,
                                       const std::vector<xt::xtensor<float, 2>>& test_inputs) {
    nn::save_options o;
    o.preprocessing = preprocessing;
    return nn::model_to_json(net, o, std::vector<nn::input_view<float>>(test_inputs.begin(), test_inputs.end()));
}

/// The envelope of a version-2 giants model file: format "ferrum.model", version 2, kind `kind`, and the
/// fields {options, preprocessing, network, self_test} (metadata optional); anything else is an input_error.
inline void check_envelope(const nlohmann::json& j, const std::string& kind, const std::string& where) {
    if (j.at("version") != 2)
        throw input_error(where, 0, "version",
                          "unsupported version " + j.at("version").dump() + " (this build reads 1 and 2)");
    if (j.at("kind") != kind)
        throw input_error(where, 0, "kind", "is " + j.at("kind").dump() + ", not \"" + kind + "\"");
    for (const auto& [k, v] : j.items())
        if (k != "format" && k != "version" && k != "kind" && k != "options" && k != "preprocessing" &&
            k != "network" && k != "self_test" && k != "metadata")
            throw input_error(where, 0, k, "is not a field of a version-2 " + kind + " model file");
}

/// Throws input_error when self-test output `i` (`got`) differs from the file's (`want`) by more than `tol`.
inline void check_self_test_output(const std::string& where, std::size_t i, const std::vector<double>& got,
                                   const std::vector<double>& want, double tol) {
    if (want.size() != got.size())
        throw input_error(where, 0, "self_test.outputs", "output " + std::to_string(i) + " has the wrong length");
    for (std::size_t k = 0; k < got.size(); ++k)
        if (!(std::abs(got[k] - want[k]) <= tol * std::max(1.0, std::abs(want[k]))))
            throw input_error(where, 0, "self_test",
                              "output " + std::to_string(i) + "[" + std::to_string(k) + "] is " +
                                  std::to_string(got[k]) + ", the file says " + std::to_string(want[k]) +
                                  " (corrupted file, or a build whose preprocessing or network computes otherwise)");
}

/// Reads a document of network_document(); with `verify` re-runs its test vector (input_error on mismatch).
template <class Dummy = void>  // a template: compiled only where it is used
inline nn::functional<float> network_from_document(const nlohmann::json& j, const std::string& where, bool verify) {
    return nn::model_from_json<float>(j, where, verify).model;
}

/// The architecture options of a model file: the fields of its "preprocessing" object other than the
/// `learnt` ones, plus `derived` (fields stored elsewhere in the file), read strictly: every field must be
/// there and an unknown one is an input_error naming it ("preprocessing.epsilon").
template <class Options>
Options architecture_from(const nlohmann::json& preprocessing, std::initializer_list<const char*> learnt,
                          const nlohmann::json& derived, const std::string& where) {
    nlohmann::json arch = preprocessing;
    for (const char* name : learnt) arch.erase(name);
    arch.update(derived);
    return options_from_json<Options>(arch, where, missing_option::error, "preprocessing.");
}

/// Runs `read` (which builds a model from a file's JSON), turning a JSON type or key error and a
/// value_error into an input_error naming the file: the one way a giants model file is refused.
template <class Read>
auto read_model_document(const std::string& where, const char* what, Read&& read) -> decltype(read()) {
    try {
        return read();
    } catch (const nlohmann::json::exception& e) {
        throw input_error(where, 0, "", std::string("malformed ") + what + ": " + e.what());
    } catch (const value_error& e) {
        throw input_error(where, 0, "", e.what());
    }
}

/// The inputs of a document's first test vector (so a loaded model can be saved again with the same).
inline std::vector<xt::xtensor<float, 2>> document_test_inputs(const nlohmann::json& j) {
    std::vector<xt::xtensor<float, 2>> out;
    std::string at;
    const nlohmann::json* vectors = nn::detail::self_test_of(j, at);  // "self_test" (v2) or "test_vectors" (v1)
    if (!vectors || !vectors->is_array() || vectors->empty()) return out;
    for (const auto& a : (*vectors)[0].at("inputs")) {
        const std::size_t rows = a.size(), cols = rows ? a[0].size() : 0;
        xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({rows, cols});
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < cols; ++c) t(r, c) = a[r].at(c).get<float>();
        out.push_back(std::move(t));
    }
    return out;
}

/// Settings of the training run both giant networks share.
struct giants_run {
    double learning_rate;
    int max_epochs;
    std::size_t batch_size;
    std::uint64_t seed;
    int patience;
    bool progress;
};

/// Adam at the given rate and the trainer's loop with early stopping on `va` (best weights restored).
template <class Adapter>
train::training_history fit_giant_network(Adapter& a, const std::vector<std::size_t>& tr,
                                          const std::vector<std::size_t>& va, const giants_run& r) {
    nn::adam_options ao;
    ao.lr = r.learning_rate;
    nn::adam<float> optimizer(ao);
    train::trainer_options to;
    to.max_epochs = r.max_epochs;
    to.batch_size = r.batch_size;
    to.seed = r.seed;
    to.patience = r.patience;
    to.progress = r.progress;
    to.handle_sigint = false;
    return train::fit(a, optimizer, tr, va, to);
}

/// d loss / d (mu, ln sigma^2) laid out as the (batch, 2) output gradient of a two-output network.
inline xt::xarray<float> two_output_gradient(const nn::heteroscedastic_loss_result<float>& l) {
    const auto n = std::size_t(l.grad_mean.size());
    xt::xarray<float> g = xt::xarray<float>::from_shape({n, std::size_t(2)});
    for (std::size_t k = 0; k < n; ++k) {
        g(k, 0) = l.grad_mean[Eigen::Index(k)];
        g(k, 1) = l.grad_log_var[Eigen::Index(k)];
    }
    return g;
}

/// Copies rows `idx[lo, hi)` of `rows` (each `width` values) into a (hi - lo, width) tensor through `f`.
template <class Rows, class F>
xt::xtensor<float, 2> gather_rows(const Rows& rows, const std::vector<std::size_t>& idx, std::size_t width, F&& f) {
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({idx.size(), width});
    for (std::size_t k = 0; k < idx.size(); ++k)
        for (std::size_t j = 0; j < width; ++j) t(k, j) = static_cast<float>(f(rows[idx[k]], j));
    return t;
}

}  // namespace detail
}  // namespace ferrum::models
