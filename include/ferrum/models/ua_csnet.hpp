// UA-CSNet (Yang et al., "Metallicities of 20 Million Giant Stars Based on Gaia XP spectra"): [Fe/H] and its
// uncertainty from 60-pixel XP spectra scaled at 550 nm and their errors. [Fe/H] branch FC 256-64-16-8-1
// (ReLU), whose 8-wide Z feeds the uncertainty branch (errors -> FC 16, concat with Z, FC 8 -> 1); loss
// eq. 12, the cost-sensitive Gaussian NLL with the variance floored at epsilon = 0.02 (eqs. 7, 10), costs
// from the (BP-RP)_0 x [Fe/H] histogram (eq. 11: M = 10, N = 15, gamma = 0.5); L2 1e-5; batch 512; lr 1e-3.
// Only the summary of the paper was at hand. It says the concatenation is "32" wide, which the
// stated widths (8 + 16 = 24) do not give: we build 24 and expose error_width to change it.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/models/detail/giants_common.hpp"
#include "ferrum/nn/dense.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/regularization.hpp"
#include "ferrum/spectra/xp_spectra.hpp"
#include "ferrum/stats/cost_sensitive_weights.hpp"
#include "ferrum/train/trainer.hpp"

namespace ferrum::models {

/// Architecture of UA-CSNet.
struct ua_csnet_options {
    std::size_t pixels = 60;
    std::vector<std::size_t> feh_widths{256, 64, 16, 8};  ///< the last width is Z
    std::size_t error_width = 16;
    std::size_t uncertainty_width = 8;
    double epsilon = 0.02;  ///< variance floor (dex^2) of eq. 10: sigma >= sqrt(epsilon) = 0.141 dex
};
FERRUM_OPTIONS(ua_csnet_options, pixels, feh_widths, error_width, uncertainty_width, epsilon)

/// Training settings (the paper's values as defaults, except the epoch budget, which is ours).
struct ua_csnet_training_options {
    bool cost_sensitive = true;      ///< eq. 11 costs; false: every cost 1 (the unweighted baseline)
    cost_sensitive_options costs{};  ///< M = 10, N = 15, gamma = 0.5
    double l2 = 1e-5;                ///< Keras-style L2 on the kernels
    std::size_t batch_size = 512;
    double learning_rate = 1e-3;
    int max_epochs = 200;
    int patience = 20;
    double validation_fraction = 0.1;
    std::uint64_t seed = 1;
    unsigned threads = 0;  ///< 0: the hardware's cores
    bool progress = progress_enabled_by_default();
};

/// \brief UA-CSNet: a two-input network (scaled spectrum, scaled errors) -> ([Fe/H], ln sigma^2).
/// Inputs are standardised per pixel with the training set's mean and spread (stored in the model file);
/// [Fe/H] stays in dex, so epsilon keeps the paper's meaning.
/// Use it as `ua_csnet`; the class template exists so that a translation unit compiles it (and the
/// training path it pulls in) only when it uses it.
/// \tparam Scalar the network's number type: float (the only one supported)
template <class Scalar = float>
class basic_ua_csnet {
    static_assert(std::is_same_v<Scalar, float>, "ua_csnet computes in float: use ua_csnet");
    // nlohmann::json and Eigen's vectors spelt dependent on Scalar (the same types): the bodies in this class
    // are then compiled only where they are used, not in every translation unit that includes it.
    template <class E>
    using dependent = std::conditional_t<std::is_same_v<Scalar, float>, E, E>;
    using json = dependent<nlohmann::json>;
    using vector_f = dependent<Eigen::VectorXf>;
    using vector_d = dependent<Eigen::VectorXd>;

public:
    using ua_csnet = basic_ua_csnet;
    using net_type = nn::functional<Scalar>;  // = nn::functional<float>, spelt dependent (compile cost)

    explicit basic_ua_csnet(ua_csnet_options o = {}, std::uint64_t seed = 1) : opt_(std::move(o)), seed_(seed) {
        if (opt_.pixels == 0 || opt_.feh_widths.empty() || opt_.error_width == 0 || opt_.uncertainty_width == 0)
            throw value_error("ua_csnet: pixels and every width must be positive");
        if (!(opt_.epsilon > 0)) throw value_error("ua_csnet: epsilon must be > 0");
        build();
    }

    const ua_csnet_options& options() const noexcept { return opt_; }
    bool trained() const noexcept { return trained_; }
    net_type& network() noexcept { return net_; }

    /// \brief Trains on stars `train_idx` of `x` with labels `feh` and dereddened colours `bp_rp0` (for
    /// the eq. 11 costs). A stratified validation share of them drives early stopping.
    train::training_history fit(const std::vector<spectra::xp_pixels>& x, const std::vector<double>& feh,
                                const std::vector<double>& bp_rp0, std::vector<std::size_t> train_idx = {},
                                const ua_csnet_training_options& t = {}) {
        if (x.size() != feh.size() || x.size() != bp_rp0.size())
            throw value_error("ua_csnet::fit: one spectrum, one [Fe/H] and one (BP-RP)_0 per star are needed");
        if (train_idx.empty()) train_idx = detail::all_indices(x.size());
        if (train_idx.size() < 20) throw value_error("ua_csnet::fit: at least 20 training stars are needed");
        for (auto i : train_idx) {
            if (i >= x.size()) throw value_error("ua_csnet::fit: index out of range");
            check_pixels(x[i], i);
            if (!std::isfinite(feh[i]) || !std::isfinite(bp_rp0[i]))
                throw value_error("ua_csnet::fit: star " + std::to_string(i) + " has a non-finite label or colour");
        }
        flux_.fit(flux_rows(x), train_idx);
        err_.fit(error_rows(x), train_idx);
        std::vector<double> cost(x.size(), 1.0);
        if (t.cost_sensitive) {
            std::vector<double> cx, cy;
            for (auto i : train_idx) {
                cx.push_back(bp_rp0[i]);
                cy.push_back(feh[i]);
            }
            const auto c = cost_sensitive_weights(cx, cy, t.costs);
            for (std::size_t k = 0; k < train_idx.size(); ++k) cost[train_idx[k]] = c[k];
        }
        auto [tr, va] = train::stratified_holdout(train_idx, feh, t.validation_fraction);
        net_.reset_parameters(t.seed);
        net_.set_num_threads(t.threads);
        adapter a{*this, x, feh, cost, t};
        auto hist = detail::fit_giant_network(
            a, tr, va, {t.learning_rate, t.max_epochs, t.batch_size, t.seed, t.patience, t.progress});
        trained_ = true;
        test_inputs_ = inputs(x, {train_idx.front(), train_idx[train_idx.size() / 2]});
        make_self_test({x[train_idx.front()], x[train_idx[train_idx.size() / 2]]});
        return hist;
    }

    /// \brief [Fe/H] and sigma = sqrt(max(epsilon, e^{ln sigma^2})) for every spectrum. Const (nn's const
    /// predict: every buffer belongs to this call), so one model serves many threads at once; `threads` is
    /// this call's thread count (0: the network's own).
    std::vector<giant_prediction> predict(const std::vector<spectra::xp_pixels>& x, unsigned threads = 0) const {
        if (!trained_) throw value_error("ua_csnet::predict: the model is not trained");
        std::vector<giant_prediction> out(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) check_pixels(x[i], i);
        const std::size_t chunk = 4096;
        for (std::size_t lo = 0; lo < x.size(); lo += chunk) {
            std::vector<std::size_t> b;
            for (std::size_t i = lo; i < std::min(x.size(), lo + chunk); ++i) b.push_back(i);
            const auto o = evaluate(x, b, threads);
            for (std::size_t k = 0; k < b.size(); ++k) {
                auto& p = out[b[k]];
                p.value = o(k, 0);
                p.sigma_model = std::sqrt(std::max(opt_.epsilon, std::exp(double(o(k, 1)))));
                p.sigma = p.sigma_model;
            }
        }
        return out;
    }

    /// \brief The model file, version 2 of the envelope {"format": "ferrum.model", "version": 2, "kind":
    /// "ua_csnet"}: the architecture "options", the "preprocessing" as data (the resampling the spectra come
    /// from, the per-pixel standardisers of flux and flux error with their clip, epsilon, the outputs), the
    /// "network" as an nn model document (with its own test vector on standardised inputs) and a
    /// "self_test" from raw inputs: two spectra's pixels and errors with the predicted [Fe/H] and sigma,
    /// re-run at load through preprocessing and network.
    json to_json() {  // not const: nn::model_to_json takes the network by reference
        if (!trained_) throw value_error("ua_csnet::to_json: the model is not trained");
        json pre{{"resampling", resampling_json()},
                           {"flux", flux_.to_json()},
                           {"flux_error", err_.to_json()},
                           {"epsilon", opt_.epsilon},
                           {"outputs", {"feh", "sigma"}}};
        return {{"format", "ferrum.model"}, {"version", 2},
                {"kind", "ua_csnet"},       {"options", json(opt_)},
                {"preprocessing", pre},     {"network", detail::network_document(net_, {}, test_inputs_)},
                {"self_test", self_test_}};
    }
    void save(const std::string& path) { write_file_atomically(path, to_json().dump()); }

    /// \brief Reads a model file: version 2 (to_json()) or version 1, the ferrum.nn.model document earlier
    /// builds wrote (converted in memory: its network test vector is re-run, then raw-input self-test vectors
    /// are made from it, so saving writes version 2). With `verify` the self-test is re-run (input_error on
    /// mismatch: a corrupted file, or a build whose preprocessing or network computes otherwise).
    static ua_csnet from_json(const json& j, const std::string& where = "<model>", bool verify = true) {
        return detail::read_model_document(where, "UA-CSNet model file", [&] {
            if (j.value("format", "") != "ferrum.model") return from_json_v1(j, where, verify);
            detail::check_envelope(j, "ua_csnet", where);
            const auto& pre = j.at("preprocessing");
            const auto o = options_from_json<ua_csnet_options>(j.at("options"), where, missing_option::error,
                                                               "options.");
            ua_csnet m(o);
            m.net_ = detail::network_from_document(j.at("network"), where, verify);
            m.flux_ = standardiser::from_json(pre.at("flux"), 0.0, "preprocessing.flux");
            m.err_ = standardiser::from_json(pre.at("flux_error"), 0.0, "preprocessing.flux_error");
            if (m.flux_.mean.size() != o.pixels || m.err_.mean.size() != o.pixels)
                throw input_error(where, 0, "preprocessing.flux", "standardisation has the wrong number of pixels");
            if (pre.at("resampling") != m.resampling_json())
                throw input_error(where, 0, "preprocessing.resampling",
                                  "differs from this build's XP resampling (" + m.resampling_json().dump() + ")");
            if (pre.at("epsilon").template get<double>() != o.epsilon)
                throw input_error(where, 0, "preprocessing.epsilon", "differs from options.epsilon");
            m.test_inputs_ = detail::document_test_inputs(j.at("network"));
            m.self_test_ = j.at("self_test");
            m.trained_ = true;
            if (verify) m.verify_self_test(where);
            return m;
        });
    }
    static ua_csnet load(const std::string& path, bool verify = true) {
        return from_json(read_json_file(path, "model file"), path, verify);
    }

    /// Re-runs the self-test spectra (raw pixels and errors) through preprocessing and network; throws
    /// input_error naming `where` when a prediction differs from the file's by more than its tolerance.
    void verify_self_test(const std::string& where) const {
        std::vector<spectra::xp_pixels> x;
        for (const auto& s : self_test_.at("spectra")) {
            spectra::xp_pixels p;
            p.flux = s.at("flux").template get<std::vector<double>>();
            p.flux_error = s.at("flux_error").template get<std::vector<double>>();
            x.push_back(std::move(p));
        }
        const auto want = self_test_.at("outputs").template get<std::vector<std::vector<double>>>();
        const double tol = self_test_.at("tolerance").template get<double>();
        if (want.size() != x.size()) throw input_error(where, 0, "self_test.outputs", "needs one output per spectrum");
        std::vector<giant_prediction> got;
        try {
            got = predict(x, 1);
        } catch (const value_error& e) {
            throw input_error(where, 0, "self_test.spectra", e.what());
        }
        for (std::size_t i = 0; i < x.size(); ++i)
            detail::check_self_test_output(where, i, {got[i].value, got[i].sigma}, want[i], tol);
    }

private:
    json resampling_json() const {
        const spectra::xp_resample_options r;
        return {{"lambda_min", r.lambda_min},
                {"lambda_max", r.lambda_max},
                {"pixels", opt_.pixels},
                {"scale_wavelength", r.scale_wavelength},
                {"statistic", "median"}};
    }

    /// Self-test vectors from raw spectra: their pixels and errors and this model's predictions.
    void make_self_test(const std::vector<spectra::xp_pixels>& raw) {
        json spectra = json::array(), outputs = json::array();
        const auto p = predict(raw, 1);
        for (std::size_t i = 0; i < raw.size(); ++i) {
            spectra.push_back({{"flux", raw[i].flux}, {"flux_error", raw[i].flux_error}});
            outputs.push_back({p[i].value, p[i].sigma});
        }
        self_test_ = {{"spectra", spectra}, {"outputs", outputs}, {"tolerance", 1e-5}};
    }

    /// Version 1: a ferrum.nn.model document whose preprocessing holds the architecture and the standardisers.
    static ua_csnet from_json_v1(const json& j, const std::string& where, bool verify) {
        const auto& pre = j.at("preprocessing");
        if (pre.value("model", "") != "ua_csnet")
            throw input_error(where, 0, "preprocessing.model", "not a UA-CSNet model file");
        const auto o = detail::architecture_from<ua_csnet_options>(
            pre, {"model", "resampling", "flux", "flux_error", "outputs"},
            {{"pixels", pre.at("resampling").at("pixels")}}, where);
        ua_csnet m(o);
        m.net_ = detail::network_from_document(j, where, verify);
        m.flux_ = standardiser::from_json(pre.at("flux"), 0.0, "preprocessing.flux");
        m.err_ = standardiser::from_json(pre.at("flux_error"), 0.0, "preprocessing.flux_error");
        if (m.flux_.mean.size() != o.pixels || m.err_.mean.size() != o.pixels)
            throw input_error(where, 0, "preprocessing.flux", "standardisation has the wrong number of pixels");
        m.test_inputs_ = detail::document_test_inputs(j);
        m.trained_ = true;
        // raw spectra for the version-2 self-test: the network test vector's standardised inputs mapped back
        std::vector<spectra::xp_pixels> raw;
        if (m.test_inputs_.size() == 2)
            for (std::size_t r = 0; r < m.test_inputs_[0].shape()[0]; ++r) {
                spectra::xp_pixels p;
                for (std::size_t k = 0; k < o.pixels; ++k) {
                    p.flux.push_back(m.flux_.mean[k] + double(m.test_inputs_[0](r, k)) * m.flux_.scale[k]);
                    p.flux_error.push_back(m.err_.mean[k] + double(m.test_inputs_[1](r, k)) * m.err_.scale[k]);
                }
                raw.push_back(std::move(p));
            }
        m.make_self_test(raw);
        return m;
    }

    struct adapter {
        ua_csnet& m;
        const std::vector<spectra::xp_pixels>& x;
        const std::vector<double>& y;
        const std::vector<double>& cost;
        const ua_csnet_training_options& t;

        nn::parameter_list<float> parameters() { return m.net_.parameters(); }
        float train_step(const std::vector<std::size_t>& batch) {
            m.net_.zero_grad();
            const auto out = m.forward(x, batch, nn::mode::training);
            const auto l = m.loss(out, batch, y, cost);
            m.net_.backward(detail::two_output_gradient(l));
            nn::regularizer reg;
            reg.kernel_l2 = t.l2;
            auto params = m.net_.parameters();
            const float pen = reg.apply(params);
            return (l.value + pen) / float(batch.size());
        }
        float validation_loss(const std::vector<std::size_t>& idx) {
            double s = 0;
            for (std::size_t lo = 0; lo < idx.size(); lo += 4096) {
                std::vector<std::size_t> b(idx.begin() + std::ptrdiff_t(lo),
                                           idx.begin() + std::ptrdiff_t(std::min(idx.size(), lo + 4096)));
                s += m.loss(m.forward(x, b, nn::mode::inference), b, y, cost).value;
            }
            return float(s / double(idx.size()));
        }
    };

    nn::heteroscedastic_loss_result<float> loss(const xt::xarray<float>& out, const std::vector<std::size_t>& b,
                                                const std::vector<double>& y, const std::vector<double>& cost) const {
        const auto n = Eigen::Index(b.size());
        vector_f mu(n), lv(n), target(n), c(n);
        for (Eigen::Index k = 0; k < n; ++k) {
            mu[k] = out(std::size_t(k), 0);
            lv[k] = out(std::size_t(k), 1);
            target[k] = float(y[b[std::size_t(k)]]);
            c[k] = float(cost[b[std::size_t(k)]]);
        }
        return nn::cost_sensitive_gaussian_nll(mu, lv, target, c, float(opt_.epsilon), nn::reduction::sum);
    }

    void check_pixels(const spectra::xp_pixels& p, std::size_t i) const {
        if (p.flux.size() != opt_.pixels || p.flux_error.size() != opt_.pixels)
            throw value_error("ua_csnet: spectrum " + std::to_string(i) + " has " + std::to_string(p.flux.size()) +
                              " pixels, the model takes " + std::to_string(opt_.pixels));
        for (std::size_t k = 0; k < opt_.pixels; ++k)
            if (!std::isfinite(p.flux[k]) || !std::isfinite(p.flux_error[k]))
                throw value_error("ua_csnet: spectrum " + std::to_string(i) + " pixel " + std::to_string(k) +
                                  " is not finite");
    }

    static std::vector<std::vector<double>> flux_rows(const std::vector<spectra::xp_pixels>& x) {
        std::vector<std::vector<double>> r;
        r.reserve(x.size());
        for (const auto& p : x) r.push_back(p.flux);
        return r;
    }
    static std::vector<std::vector<double>> error_rows(const std::vector<spectra::xp_pixels>& x) {
        std::vector<std::vector<double>> r;
        r.reserve(x.size());
        for (const auto& p : x) r.push_back(p.flux_error);
        return r;
    }

    std::vector<xt::xtensor<float, 2>> inputs(const std::vector<spectra::xp_pixels>& x,
                                              const std::vector<std::size_t>& b) const {
        return {detail::gather_rows(x, b, opt_.pixels,
                                    [&](const spectra::xp_pixels& p, std::size_t j) { return flux_(p.flux[j], j); }),
                detail::gather_rows(x, b, opt_.pixels, [&](const spectra::xp_pixels& p, std::size_t j) {
                    return err_(p.flux_error[j], j);
                })};
    }

    xt::xarray<float> forward(const std::vector<spectra::xp_pixels>& x, const std::vector<std::size_t>& b, nn::mode m) {
        const auto in = inputs(x, b);
        return net_.forward({nn::input_view<float>(in[0]), nn::input_view<float>(in[1])}, {}, m);
    }

    /// The network's outputs for stars `b` without changing the model (prediction, self-tests).
    xt::xarray<float> evaluate(const std::vector<spectra::xp_pixels>& x, const std::vector<std::size_t>& b,
                               unsigned threads = 0) const {
        const auto in = inputs(x, b);
        return net_.predict({nn::input_view<float>(in[0]), nn::input_view<float>(in[1])}, {}, nn::mode::inference, 0,
                            threads);
    }

    void build() {
        auto s = net_.input("spectrum", opt_.pixels);
        auto e = net_.input("errors", opt_.pixels);
        std::size_t in = opt_.pixels;
        for (std::size_t k = 0; k < opt_.feh_widths.size(); ++k) {
            s = net_.add("feh" + std::to_string(k), nn::dense<float>(in, opt_.feh_widths[k], nn::activation::relu), s);
            in = opt_.feh_widths[k];
        }
        const auto feh = net_.add("feh_out", nn::dense<float>(in, 1), s);
        const auto eh = net_.add("err0", nn::dense<float>(opt_.pixels, opt_.error_width, nn::activation::relu), e);
        const auto z = net_.concat("z_errors", {s, eh});
        const auto u = net_.add(
            "unc0", nn::dense<float>(in + opt_.error_width, opt_.uncertainty_width, nn::activation::relu), z);
        const auto lv = net_.add("unc_out", nn::dense<float>(opt_.uncertainty_width, 1), u);
        net_.set_output(net_.concat("output", {feh, lv}));
        net_.reset_parameters(seed_);
    }

    ua_csnet_options opt_;
    std::uint64_t seed_;
    net_type net_;
    bool trained_ = false;
    standardiser flux_, err_;
    std::vector<xt::xtensor<float, 2>> test_inputs_;
    json self_test_;
};

/// UA-CSNet (see basic_ua_csnet).
using ua_csnet = basic_ua_csnet<>;

}  // namespace ferrum::models
