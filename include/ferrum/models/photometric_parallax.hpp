// The two-stage colour model of Fallows & Sanders (2022). Stage 1: a Bayesian MLP predicts the pseudo-
// absolute magnitude M_J,pseudo = parallax 10^(0.2 J_c) (eq. 6; parallax in arcsec, i.e. 10^(0.2 M_J))
// from the 16 colours, cross-trained over 8 folds so every training star gets a prediction from a network
// that did not see it; the NN parallax (eq. 8) is combined with Gaia's by inverse variance; eq. 7 splits
// giants from dwarfs. Stage 2: the Bayesian MLP on 16 colours + 8 absolute magnitudes (with the combined
// parallax) gives [Fe/H]. The issue gives no form for eq. 7: giant_cut below is our stated choice.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/models/bnn_mlp.hpp"
#include "ferrum/photometry/colour_features.hpp"

namespace ferrum::models {

namespace detail {
/// The MC-dropout sample count of a model file: a whole number from 0 to 100000 (a damaged or hostile file's
/// -3 or 1e12 would loop for ever), else an input_error naming the file and `field`.
inline std::size_t mc_samples_from_json(const nlohmann::json& v, const std::string& where, const std::string& field) {
    try {
        const auto n = ::ferrum::detail::option_convert<std::size_t>(v, field);
        option_range(field.c_str(), n, 0, 100000);
        return n;
    } catch (const option_error& e) {
        throw input_error(where, 0, e.field(), e.message());
    }
}
}  // namespace detail

/// \brief Eq. 6 with the parallax in mas: M_J,pseudo = parallax 10^(0.2 J_c - 2) = 10^(0.2 M_J). Linear
/// in the parallax, so negative and noisy parallaxes are usable labels.
inline double pseudo_magnitude(double parallax_mas, double j_c) noexcept {
    return parallax_mas * std::pow(10.0, 0.2 * j_c - 2.0);
}

/// \brief Eq. 8: the parallax (mas) implied by a pseudo-magnitude at dereddened magnitude J_c.
inline double parallax_from_pseudo(double m_pseudo, double j_c) noexcept {
    return m_pseudo * std::pow(10.0, 2.0 - 0.2 * j_c);
}

/// A value with its error.
struct measurement {
    double value = NAN, error = NAN;
};

/// \brief Inverse-variance mean of two measurements; a missing one (NaN or error <= 0) is skipped.
inline measurement inverse_variance_mean(measurement a, measurement b) noexcept {
    const bool ua = std::isfinite(a.value) && a.error > 0 && std::isfinite(a.error);
    const bool ub = std::isfinite(b.value) && b.error > 0 && std::isfinite(b.error);
    if (!ua) return ub ? b : measurement{};
    if (!ub) return a;
    const double wa = 1 / (a.error * a.error), wb = 1 / (b.error * b.error);
    return {(wa * a.value + wb * b.value) / (wa + wb), 1 / std::sqrt(wa + wb)};
}

/// \brief Giant/dwarf split in the (J - Ks)_0, M_J,pseudo plane: giant when M_J,pseudo < a + b (J - Ks)_0.
/// Our choice (the paper's eq. 7 was not at hand): a = 10^(0.2 * 2) (M_J < 2 mag), b = 0.
struct giant_cut {
    double a = 2.5118864315095806;
    double b = 0.0;
    bool is_giant(double m_pseudo, double j_ks0) const noexcept { return m_pseudo < a + b * j_ks0; }
};

/// Settings of the stage-1 cross-training.
struct photometric_parallax_options {
    std::size_t folds = 8;
    bnn_options net{photometry::n_colours, {80, 80}, 0.2};
    bnn_training_options training = [] {
        bnn_training_options t;
        t.feh_weight = false;  // eq. 11 weights are for [Fe/H], not for magnitudes
        return t;
    }();
    std::size_t mc_samples = 50;
    std::uint64_t seed = 1;
};

/// Stage-1 output for one star.
struct parallax_estimate {
    giant_prediction m_pseudo;  ///< M_J,pseudo with its MC-dropout sigma
    measurement nn_parallax;    ///< eq. 8 (mas)
    measurement parallax;       ///< combined with Gaia's by inverse variance (mas)
};

/// \brief Stage 1: 8-fold cross-trained networks for M_J,pseudo.
/// Use it as `photometric_parallax`; the class template exists so that a translation unit compiles it (and the
/// training path it pulls in) only when it uses it.
/// \tparam Scalar the network's number type: float (the only one supported)
template <class Scalar = float>
class basic_photometric_parallax {
    static_assert(std::is_same_v<Scalar, float>, "photometric_parallax computes in float: use photometric_parallax");

public:
    using photometric_parallax = basic_photometric_parallax;
    /// \brief Trains one network per fold on the other folds and returns, for every star, the estimate of
    /// the network that did not see it. `colours` are the 16 dereddened colours, `j_c` the dereddened J.
    std::vector<parallax_estimate> cross_train(const std::vector<std::vector<double>>& colours,
                                               const std::vector<double>& j_c, const std::vector<double>& parallax,
                                               const std::vector<double>& parallax_error,
                                               const photometric_parallax_options& o = {}) {
        const std::size_t n = colours.size();
        if (j_c.size() != n || parallax.size() != n || parallax_error.size() != n)
            throw value_error("photometric_parallax: colours, J_c, parallax and parallax_error differ in length");
        if (o.folds < 2) throw value_error("photometric_parallax: at least 2 folds are needed");
        std::vector<double> y(n), ye(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (!(parallax_error[i] > 0) || !std::isfinite(parallax[i]) || !std::isfinite(j_c[i]))
                throw value_error("photometric_parallax: star " + std::to_string(i) +
                                  " needs a finite parallax, J_c and a positive parallax_error for training");
            const double f = std::pow(10.0, 0.2 * j_c[i] - 2.0);
            y[i] = parallax[i] * f;
            ye[i] = parallax_error[i] * f;
        }
        std::vector<std::size_t> order = detail::all_indices(n);
        std::shuffle(order.begin(), order.end(), std::mt19937_64(o.seed));
        std::vector<std::size_t> fold(n);
        for (std::size_t k = 0; k < n; ++k) fold[order[k]] = k % o.folds;
        mc_ = o.mc_samples;
        nets_.clear();
        std::vector<giant_prediction> oof(n);
        progress bar("parallax fold", o.folds, "folds", o.training.progress);
        for (std::size_t f = 0; f < o.folds; ++f) {
            std::vector<std::size_t> tr, te;
            for (std::size_t i = 0; i < n; ++i) (fold[i] == f ? te : tr).push_back(i);
            bnn_mlp net(o.net, o.seed + f);
            auto t = o.training;
            t.seed = o.seed * 31 + f;
            t.progress = false;
            t.recalibrate_sigma = false;  // one factor for all folds, fitted on every star's out-of-fold estimate below
            net.fit(colours, y, ye, tr, t);
            std::vector<std::vector<double>> xs;
            for (auto i : te) xs.push_back(colours[i]);
            const auto p = net.predict(xs, mc_, o.seed + 7 * f);
            for (std::size_t k = 0; k < te.size(); ++k) oof[te[k]] = p[k];
            nets_.push_back(std::move(net));
            bar.update(f + 1);
        }
        if (o.training.recalibrate_sigma) {
            std::vector<double> r(n), s(n);
            for (std::size_t i = 0; i < n; ++i) {
                r[i] = y[i] - oof[i].value;
                s[i] = oof[i].sigma;
            }
            const double k = detail::coverage_scale(r, s, ye);
            for (auto& net : nets_) net.rescale_sigma(k);
            for (auto& p : oof) {
                p.sigma *= k;
                p.sigma_dropout *= k;
                p.sigma_model *= k;
            }
        }
        return estimates(oof, j_c, parallax, parallax_error);
    }

    /// \brief For stars the networks did not see. With `fold_of` empty: the mean of the fold networks'
    /// predictions, sigma^2 = mean of their sigma^2 + the spread of their means. With `fold_of` (one entry
    /// per star, each < folds()): star i gets the prediction of network fold_of[i] alone -- the statistics
    /// the stage-2 network was trained on (out-of-fold single-network parallaxes). `keys` (one per star, or
    /// none): MC-dropout masks keyed by star (bnn_mlp::predict).
    std::vector<parallax_estimate> predict(const std::vector<std::vector<double>>& colours,
                                           const std::vector<double>& j_c, const std::vector<double>& parallax,
                                           const std::vector<double>& parallax_error, std::uint64_t seed = 12345,
                                           const std::vector<std::size_t>& fold_of = {},
                                           const std::vector<std::uint64_t>& keys = {}) const {
        if (nets_.empty()) throw value_error("photometric_parallax::predict: not trained");
        const std::size_t n = colours.size();
        std::vector<giant_prediction> m(n);
        if (!fold_of.empty()) {
            if (fold_of.size() != n) throw value_error("photometric_parallax::predict: one fold per star is needed");
            for (std::size_t f = 0; f < nets_.size(); ++f) {
                std::vector<std::size_t> idx;
                std::vector<std::vector<double>> xs;
                std::vector<std::uint64_t> ks;
                for (std::size_t i = 0; i < n; ++i)
                    if (fold_of[i] == f) {
                        idx.push_back(i);
                        xs.push_back(colours[i]);
                        if (!keys.empty()) ks.push_back(keys[i]);
                    }
                if (idx.empty()) continue;
                const auto p = nets_[f].predict(xs, mc_, seed + f, 0, ks);
                for (std::size_t k = 0; k < idx.size(); ++k) m[idx[k]] = p[k];
            }
            for (auto f : fold_of)
                if (f >= nets_.size()) throw value_error("photometric_parallax::predict: fold index out of range");
            return estimates(m, j_c, parallax, parallax_error);
        }
        std::vector<double> s1(n, 0), s2(n, 0), sv(n, 0);
        for (std::size_t f = 0; f < nets_.size(); ++f) {
            const auto p = nets_[f].predict(colours, mc_, seed + f, 0, keys);
            for (std::size_t i = 0; i < n; ++i) {
                s1[i] += p[i].value;
                s2[i] += p[i].value * p[i].value;
                sv[i] += p[i].sigma * p[i].sigma;
            }
        }
        const double K = double(nets_.size());
        for (std::size_t i = 0; i < n; ++i) {
            m[i].value = s1[i] / K;
            m[i].sigma_dropout = std::sqrt(std::max(0.0, s2[i] / K - m[i].value * m[i].value));
            m[i].sigma_model = std::sqrt(sv[i] / K);
            m[i].sigma = std::hypot(m[i].sigma_dropout, m[i].sigma_model);
        }
        return estimates(m, j_c, parallax, parallax_error);
    }

    std::size_t folds() const noexcept { return nets_.size(); }
    /// MC-dropout passes per network for new stars (set at training; < 2: one deterministic pass).
    std::size_t mc_samples() const noexcept { return mc_; }
    void set_mc_samples(std::size_t n) noexcept { mc_ = n; }

    nlohmann::json to_json() {
        nlohmann::json j{{"mc_samples", mc_}, {"folds", nlohmann::json::array()}};  // each fold a bnn_mlp file
        for (auto& n : nets_) j["folds"].push_back(n.to_json("m_j_pseudo"));
        return j;
    }
    static photometric_parallax from_json(const nlohmann::json& j, const std::string& where, bool verify = true) {
        photometric_parallax p;
        try {
            p.mc_ = detail::mc_samples_from_json(j.at("mc_samples"), where, "parallax.mc_samples");
            for (std::size_t f = 0; f < j.at("folds").size(); ++f)
                p.nets_.push_back(
                    bnn_mlp::from_json(j["folds"][f], where + " (parallax fold " + std::to_string(f) + ")", verify));
        } catch (const nlohmann::json::exception& e) {
            throw input_error(where, 0, "parallax", std::string("malformed: ") + e.what());
        }
        if (p.nets_.empty()) throw input_error(where, 0, "parallax.folds", "no network");
        return p;
    }

private:
    static std::vector<parallax_estimate> estimates(const std::vector<giant_prediction>& m,
                                                    const std::vector<double>& j_c, const std::vector<double>& parallax,
                                                    const std::vector<double>& parallax_error) {
        std::vector<parallax_estimate> out(m.size());
        for (std::size_t i = 0; i < m.size(); ++i) {
            auto& e = out[i];
            e.m_pseudo = m[i];
            const double f = std::pow(10.0, 2.0 - 0.2 * j_c[i]);
            e.nn_parallax = {m[i].value * f, m[i].sigma * f};
            e.parallax = inverse_variance_mean(e.nn_parallax, {parallax[i], parallax_error[i]});
        }
        return out;
    }

    std::vector<bnn_mlp> nets_;
    std::size_t mc_ = 50;
};

/// The photometric parallax model (see basic_photometric_parallax).
using photometric_parallax = basic_photometric_parallax<>;

/// One star's result of the two-stage colour model.
struct colour_feh_result {
    giant_prediction feh;
    parallax_estimate parallax;
    bool giant = false;
    std::string flag;  ///< "" or why there is no [Fe/H] (missing bands, no usable parallax)
};

/// \brief The two-stage colour model: stage-1 parallaxes, then the Bayesian MLP for [Fe/H].
/// Use it as `colour_feh_model`; the class template exists so that a translation unit compiles it (and the
/// training path it pulls in) only when it uses it.
/// \tparam Scalar the network's number type: float (the only one supported)
template <class Scalar = float>
class basic_colour_feh_model {
    static_assert(std::is_same_v<Scalar, float>, "colour_feh_model computes in float: use colour_feh_model");
    // nlohmann::json spelt dependent on Scalar (the same type): the bodies in this class are then compiled only
    // where they are used, not in every translation unit that includes it.
    using json = std::conditional_t<std::is_same_v<Scalar, float>, nlohmann::json, nlohmann::json>;

public:
    using colour_feh_model = basic_colour_feh_model;
    /// \brief Trains both stages on `stars` with labels `feh` +- `feh_error`. Stars with missing bands or
    /// without a Gaia parallax are left out of training (their flags are in the returned results).
    std::vector<colour_feh_result> fit(const std::vector<photometry::photometry_row>& stars,
                                       const std::vector<double>& feh, const std::vector<double>& feh_error,
                                       const photometric_parallax_options& po = {}, const bnn_training_options& t = {},
                                       giant_cut cut = {}) {
        if (feh.size() != stars.size() || feh_error.size() != stars.size())
            throw value_error("colour_feh_model::fit: one label and one label error per star are needed");
        cut_ = cut;
        mc_ = po.mc_samples;
        std::vector<colour_feh_result> res(stars.size());
        const auto s1 = stage1_inputs(stars, res, true);
        if (s1.use.size() < 40)
            throw value_error("colour_feh_model::fit: fewer than 40 stars with complete photometry");
        const auto pe = parallax_.cross_train(s1.colours, s1.j_c, s1.parallax, s1.parallax_error, po);
        std::vector<std::vector<double>> x;
        const auto rows = stage2_inputs(stars, s1, pe, res, x);
        std::vector<double> y, ye;
        for (auto i : rows) {
            y.push_back(feh[i]);
            ye.push_back(feh_error[i]);
        }
        bnn_options bo;
        bo.inputs = photometry::n_colours + photometry::n_bands;
        bo.hidden = po.net.hidden;
        bo.dropout = po.net.dropout;
        feh_ = bnn_mlp(bo, t.seed);
        feh_.fit(x, y, ye, {}, t);
        const auto p = feh_.predict(x, mc_, t.seed + 99);
        for (std::size_t k = 0; k < rows.size(); ++k) res[rows[k]].feh = p[k];
        trained_ = true;
        make_self_test({stars[rows.front()], stars[rows[rows.size() / 2]]});
        return res;
    }

    /// Stage 1 for new stars: true (default) averages the fold networks (the most precise parallax); false
    /// takes one fold network per star, chosen by source_id -- the out-of-fold, single-network statistics
    /// the [Fe/H] network was trained on. On our simulations both give the same [Fe/H] coverage (within
    /// 1 sigma 0.703 vs 0.699 and 0.694 vs 0.688 in two runs); the averaged one flags fewer stars.
    bool ensemble_parallax = true;

    /// \brief Both stages for new stars. With `keyed_by_source_id` each star's MC-dropout masks are a function
    /// of (seed, its source_id), so its prediction does not depend on the other stars of the call (batches,
    /// shards, ranks: what ferrum-giants predict uses); without (the default, and the model file's self-test),
    /// of its position in the call, as before.
    std::vector<colour_feh_result> predict(const std::vector<photometry::photometry_row>& stars,
                                           std::uint64_t seed = 12345, bool keyed_by_source_id = false) const {
        if (!trained_) throw value_error("colour_feh_model::predict: the model is not trained");
        std::vector<colour_feh_result> res(stars.size());
        const auto s1 = stage1_inputs(stars, res, false);
        if (s1.use.empty()) return res;
        std::vector<std::size_t> fold_of;
        if (!ensemble_parallax)
            for (auto i : s1.use)
                fold_of.push_back(
                    std::size_t(nn::detail::mix64(std::uint64_t(stars[i].source_id)) % parallax_.folds()));
        std::vector<std::uint64_t> keys1, keys2;
        if (keyed_by_source_id)
            for (auto i : s1.use) keys1.push_back(std::uint64_t(stars[i].source_id));
        const auto pe = parallax_.predict(s1.colours, s1.j_c, s1.parallax, s1.parallax_error, seed, fold_of, keys1);
        std::vector<std::vector<double>> x;
        const auto rows = stage2_inputs(stars, s1, pe, res, x);
        if (rows.empty()) return res;
        if (keyed_by_source_id)
            for (auto i : rows) keys2.push_back(std::uint64_t(stars[i].source_id));
        const auto p = feh_.predict(x, mc_, seed + 1, 0, keys2);
        for (std::size_t k = 0; k < rows.size(); ++k) res[rows[k]].feh = p[k];
        return res;
    }

    /// MC-dropout passes of both stages for new stars (the training's value, stored in the model file).
    std::size_t mc_samples() const noexcept { return mc_; }
    void set_mc_samples(std::size_t n) noexcept {
        mc_ = n;
        parallax_.set_mc_samples(n);
    }

    /// The [Fe/H] network (stage 2).
    bnn_mlp& feh_network() noexcept { return feh_; }
    const bnn_mlp& feh_network() const noexcept { return feh_; }

    /// \brief The model file, version 2 of the envelope {"format": "ferrum.model", "version": 2, "kind":
    /// "colour_feh"}: "options" (MC passes, the giant cut), "preprocessing" (the RJCE and extinction
    /// settings the photometry goes through), "network" {"parallax": the stage-1 fold networks, "feh": the
    /// stage-2 network; each a Bayesian MLP file} and a "self_test" from raw photometry rows (magnitudes,
    /// Gaia parallax) with their [Fe/H], sigma and combined parallax (MC dropout, seed 1), re-run at load.
    json to_json() {  // not const: nn::model_to_json takes the networks by reference
        if (!trained_) throw value_error("colour_feh_model::to_json: the model is not trained");
        return {{"format", "ferrum.model"},
                {"version", 2},
                {"kind", "colour_feh"},
                {"options", {{"mc_samples", mc_}, {"giant_cut", {{"a", cut_.a}, {"b", cut_.b}}}}},
                {"preprocessing",
                 {{"rjce_intrinsic_h_w2", features_.intrinsic_h_w2},
                  {"a_over_av", features_.a_over_av},
                  {"clip_negative_extinction", features_.clip_negative_extinction}}},
                {"network", {{"parallax", parallax_.to_json()}, {"feh", feh_.to_json("feh")}}},
                {"self_test", self_test_}};
    }
    void save(const std::string& path) { write_file_atomically(path, to_json().dump()); }
    /// \brief Reads version 2 (to_json()) or version 1 ("ferrum-giants-colour-model", earlier builds; its
    /// networks are converted as bnn_mlp's are, and it has no raw photometry self-test: saving it writes
    /// version 2 with an empty one). With `verify` every network's self-test and the model's are re-run.
    static colour_feh_model from_json(const json& j, const std::string& where, bool verify = true) {
        // compared as JSON: a "format" that is not a string is no type_error here
        if (j.is_object() && !(j.contains("format") && j.at("format") == "ferrum.model"))
            return from_json_v1(j, where, verify);
        colour_feh_model m;
        try {
            detail::check_envelope(j, "colour_feh", where);
            const auto& o = j.at("options");
            const auto& pre = j.at("preprocessing");
            m.features_.intrinsic_h_w2 = pre.at("rjce_intrinsic_h_w2").template get<double>();
            m.features_.a_over_av = pre.at("a_over_av").template get<std::array<double, photometry::n_bands>>();
            m.features_.clip_negative_extinction = pre.at("clip_negative_extinction").template get<bool>();
            m.cut_.a = o.at("giant_cut").at("a").template get<double>();
            m.cut_.b = o.at("giant_cut").at("b").template get<double>();
            m.mc_ = detail::mc_samples_from_json(o.at("mc_samples"), where, "options.mc_samples");
            m.parallax_ = photometric_parallax::from_json(j.at("network").at("parallax"), where, verify);
            m.feh_ = bnn_mlp::from_json(j.at("network").at("feh"), where + " ([Fe/H] network)", verify);
            m.self_test_ = j.at("self_test");
        } catch (const nlohmann::json::exception& e) {
            throw input_error(where, 0, "", std::string("malformed colour model: ") + e.what());
        }
        m.trained_ = true;
        if (verify) m.verify_self_test(where);
        return m;
    }
    /// Re-runs the self-test photometry rows through both stages; input_error naming `where` on a mismatch.
    void verify_self_test(const std::string& where) const {
        if (self_test_.is_null() || self_test_.empty()) return;
        std::vector<photometry::photometry_row> rows;
        try {
            for (const auto& r : self_test_.at("rows")) {
                photometry::photometry_row x;
                x.source_id = r.at("source_id").get<std::int64_t>();
                x.mag = r.at("mag").get<std::array<double, photometry::n_bands>>();
                x.parallax = r.at("parallax").get<double>();
                x.parallax_error = r.at("parallax_error").get<double>();
                rows.push_back(x);
            }
            const auto want = self_test_.at("outputs").get<std::vector<std::vector<double>>>();
            if (want.size() != rows.size())
                throw input_error(where, 0, "self_test.outputs", "needs one output per row");
            const auto got = predict(rows, 1);
            for (std::size_t i = 0; i < rows.size(); ++i)
                detail::check_self_test_output(where, i,
                                               {got[i].feh.value, got[i].feh.sigma, got[i].parallax.parallax.value},
                                               want[i], self_test_.at("tolerance").get<double>());
        } catch (const nlohmann::json::exception& e) {
            throw input_error(where, 0, "self_test", std::string("malformed: ") + e.what());
        }
    }
    static colour_feh_model load(const std::string& path, bool verify = true) {
        return from_json(read_json_file(path, "model file"), path, verify);
    }

private:
    /// Version 1 ("ferrum-giants-colour-model"), as earlier builds wrote it.
    static colour_feh_model from_json_v1(const json& j, const std::string& where, bool verify) {
        colour_feh_model m;
        try {
            if (j.value("format", "") != "ferrum-giants-colour-model")
                throw input_error(where, 0, "format", "not a ferrum giants colour model");
            if (j.at("version").template get<int>() != 1) throw input_error(where, 0, "version", "unsupported version");
            m.features_.intrinsic_h_w2 = j.at("rjce_intrinsic_h_w2").template get<double>();
            m.features_.a_over_av = j.at("a_over_av").template get<std::array<double, photometry::n_bands>>();
            m.cut_.a = j.at("giant_cut").at("a").template get<double>();
            m.cut_.b = j.at("giant_cut").at("b").template get<double>();
            m.mc_ = detail::mc_samples_from_json(j.at("mc_samples"), where, "mc_samples");
            m.parallax_ = photometric_parallax::from_json(j.at("parallax"), where, verify);
            m.feh_ = bnn_mlp::from_json(j.at("feh"), where + " ([Fe/H] network)", verify);
        } catch (const nlohmann::json::exception& e) {
            throw input_error(where, 0, "", std::string("malformed colour model: ") + e.what());
        }
        m.trained_ = true;
        return m;
    }

    /// Self-test vectors from raw photometry: `rows` with their predictions (MC dropout, seed 1).
    void make_self_test(const std::vector<photometry::photometry_row>& rows) {
        json in = json::array(), out = json::array();
        const auto p = predict(rows, 1);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            in.push_back({{"source_id", rows[i].source_id},
                          {"mag", rows[i].mag},
                          {"parallax", rows[i].parallax},
                          {"parallax_error", rows[i].parallax_error}});
            out.push_back({p[i].feh.value, p[i].feh.sigma, p[i].parallax.parallax.value});
        }
        self_test_ = {{"rows", in}, {"outputs", out}, {"tolerance", 1e-5}};
    }

    /// Stage-1 inputs of the stars with complete photometry (the others get their flag in `res`).
    struct stage1 {
        std::vector<std::size_t> use;
        std::vector<std::vector<double>> colours;
        std::vector<double> j_c, parallax, parallax_error;
    };
    stage1 stage1_inputs(const std::vector<photometry::photometry_row>& stars, std::vector<colour_feh_result>& res,
                         bool need_gaia_parallax) const {
        stage1 s;
        for (std::size_t i = 0; i < stars.size(); ++i) {
            const auto f = photometry::make_colour_features(stars[i].mag, NAN, false, features_);
            if (!f.ok()) {
                res[i].flag = f.missing;
                continue;
            }
            if (need_gaia_parallax && (!(stars[i].parallax_error > 0) || !std::isfinite(stars[i].parallax))) {
                res[i].flag = "no Gaia parallax for training";
                continue;
            }
            s.use.push_back(i);
            s.colours.push_back(f.values);
            s.j_c.push_back(f.dereddened_mag[photometry::J]);
            s.parallax.push_back(stars[i].parallax);
            s.parallax_error.push_back(stars[i].parallax_error);
        }
        return s;
    }

    /// Stage-2 features with the combined parallaxes; returns the rows that have them (others flagged).
    std::vector<std::size_t> stage2_inputs(const std::vector<photometry::photometry_row>& stars, const stage1& s,
                                           const std::vector<parallax_estimate>& pe,
                                           std::vector<colour_feh_result>& res,
                                           std::vector<std::vector<double>>& x) const {
        std::vector<std::size_t> rows;
        for (std::size_t k = 0; k < s.use.size(); ++k) {
            auto& r = res[s.use[k]];
            r.parallax = pe[k];
            const auto f = photometry::make_colour_features(stars[s.use[k]].mag, pe[k].parallax.value, true, features_);
            r.giant = cut_.is_giant(pe[k].m_pseudo.value,
                                    f.dereddened_mag[photometry::J] - f.dereddened_mag[photometry::Ks]);
            if (!f.ok()) {
                r.flag = f.missing;
                continue;
            }
            rows.push_back(s.use[k]);
            x.push_back(f.values);
        }
        return rows;
    }

    photometry::colour_feature_options features_;
    giant_cut cut_;
    std::size_t mc_ = 50;
    photometric_parallax parallax_;
    bnn_mlp feh_;
    bool trained_ = false;
    nlohmann::json self_test_;
};

/// The colour-[Fe/H] model (see basic_colour_feh_model).
using colour_feh_model = basic_colour_feh_model<>;

}  // namespace ferrum::models
