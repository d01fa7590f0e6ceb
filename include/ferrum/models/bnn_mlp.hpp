// The Bayesian MLP of Fallows & Sanders (2022): two hidden layers of 80 (ReLU) with dropout 0.2 and two
// outputs (value, ln sigma^2); trained with the robust loss with label errors (their eq. 3) and the
// weight W = |[Fe/H]| + C (eq. 11, C = 0.5); predicted with Monte-Carlo dropout, sigma_total =
// sqrt(sigma_drop^2 + sigma_pred^2) (eq. 5). The same regressor serves the photometric parallax
// (photometric_parallax.hpp). Only the summary of the paper was at hand.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
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
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/regularization.hpp"
#include "ferrum/train/kfold.hpp"
#include "ferrum/train/trainer.hpp"

namespace ferrum::models {

/// Architecture of the Bayesian MLP.
struct bnn_options {
    std::size_t inputs = 24;  ///< 16 colours + 8 absolute magnitudes
    std::vector<std::size_t> hidden{80, 80};
    double dropout = 0.2;
};
FERRUM_OPTIONS(bnn_options, inputs, hidden, dropout)

/// Training settings. Epoch budget, batch and lr are ours (the issue does not give them).
struct bnn_training_options {
    bool feh_weight = true;  ///< eq. 11: W = |y| + C; false: W = 1 (e.g. for the parallax network)
    double weight_c = 0.5;
    std::size_t batch_size = 256;
    double learning_rate = 1e-3;
    double l2 = 0.0;
    int max_epochs = 300;
    int patience = 30;
    double validation_fraction = 0.1;
    /// Rescale sigma so that 68.3% of the validation stars have |residual| < sqrt(sigma^2 + label error^2).
    /// Not in the paper: eq. 5 over-covers on our simulations (the network's sigma_pred is learnt with
    /// dropout on, so it already holds part of sigma_drop); the factor is stored in the model file.
    bool recalibrate_sigma = true;
    /// Where the factor is fitted. K >= 2: K-fold cross-fitting -- K more networks, each trained on the
    /// other folds, predict their fold, and the factor is fitted on all training stars' out-of-fold
    /// residuals (K + 1 trainings; on our simulations the test coverage within 1 sigma was then 0.662-0.701
    /// in seven runs, 0.655-0.706 in five with the hold-out). 0: on the early-stopping hold-out alone
    /// (validation_fraction of the stars; cheaper, noisier).
    std::size_t calibration_folds = 5;
    std::size_t calibration_mc_samples = 30;
    std::uint64_t seed = 1;
    unsigned threads = 0;  ///< 0: the hardware's cores
    bool progress = progress_enabled_by_default();
};

/// \brief The Bayesian MLP: rows of features -> (value, sigma) with MC dropout. Features and the target
/// are standardised with the training set's statistics (stored in the model file; sigmas are returned
/// in the target's units).
/// Use it as `bnn_mlp`; the class template exists so that a translation unit compiles it (and the
/// training path it pulls in) only when it uses it.
/// \tparam Scalar the network's number type: float (the only one supported)
template <class Scalar = float>
class basic_bnn_mlp {
    static_assert(std::is_same_v<Scalar, float>, "bnn_mlp computes in float: use bnn_mlp");
    // nlohmann::json and Eigen's vectors spelt dependent on Scalar (the same types): the bodies in this class
    // are then compiled only where they are used, not in every translation unit that includes it.
    template <class E>
    using dependent = std::conditional_t<std::is_same_v<Scalar, float>, E, E>;
    using json = dependent<nlohmann::json>;
    using vector_f = dependent<Eigen::VectorXf>;
    using vector_d = dependent<Eigen::VectorXd>;

public:
    using bnn_mlp = basic_bnn_mlp;
    using net_type = nn::functional<Scalar>;  // = nn::functional<float>, spelt dependent (compile cost)

    explicit basic_bnn_mlp(bnn_options o = {}, std::uint64_t seed = 1) : opt_(std::move(o)), seed_(seed) {
        if (opt_.inputs == 0 || opt_.hidden.empty()) throw value_error("bnn_mlp: inputs and hidden layers are needed");
        if (!(opt_.dropout >= 0 && opt_.dropout < 1)) throw value_error("bnn_mlp: dropout must be in [0, 1)");
        build();
    }

    const bnn_options& options() const noexcept { return opt_; }
    bool trained() const noexcept { return trained_; }
    /// The factor applied to eq. 5's sigmas (1 unless recalibrate_sigma found another).
    double sigma_scale() const noexcept { return sigma_scale_; }
    /// Multiplies the sigma factor by `f` (> 0), e.g. with one fitted on several networks' out-of-fold
    /// predictions (photometric_parallax does).
    void rescale_sigma(double f) {
        if (!(f > 0) || !std::isfinite(f)) throw value_error("bnn_mlp::rescale_sigma: the factor must be > 0");
        sigma_scale_ *= f;
    }
    net_type& network() noexcept { return net_; }

    /// \brief Trains on rows `train_idx` of `x` with targets `y` and their errors `y_error` (>= 0; the
    /// robust loss adds them to the predicted variance, so sigma_pred is the intrinsic part).
    train::training_history fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                const std::vector<double>& y_error, std::vector<std::size_t> train_idx = {},
                                const bnn_training_options& t = {}) {
        if (x.size() != y.size() || y.size() != y_error.size())
            throw value_error("bnn_mlp::fit: x, y and y_error must have one entry per star");
        if (train_idx.empty()) train_idx = detail::all_indices(x.size());
        if (train_idx.size() < 20) throw value_error("bnn_mlp::fit: at least 20 training stars are needed");
        for (auto i : train_idx) {
            if (i >= x.size()) throw value_error("bnn_mlp::fit: index out of range");
            check_row(x[i], i);
            if (!std::isfinite(y[i]) || !(y_error[i] >= 0) || !std::isfinite(y_error[i]))
                throw value_error("bnn_mlp::fit: star " + std::to_string(i) +
                                  " has a non-finite label or a bad label error");
        }
        feat_.fit(x, train_idx);
        double m = 0, s = 0;
        for (auto i : train_idx) m += y[i];
        m /= double(train_idx.size());
        for (auto i : train_idx) s += (y[i] - m) * (y[i] - m);
        y_mean_ = m;
        y_scale_ = std::sqrt(s / double(train_idx.size()));
        if (!(y_scale_ > 0)) y_scale_ = 1.0;
        std::vector<double> w(x.size(), 1.0);
        if (t.feh_weight) {
            vector_d yy(Eigen::Index(train_idx.size()));
            for (std::size_t k = 0; k < train_idx.size(); ++k) yy[Eigen::Index(k)] = y[train_idx[k]];
            const auto ww = nn::fallows_sanders_weight(yy, t.weight_c);
            for (std::size_t k = 0; k < train_idx.size(); ++k) w[train_idx[k]] = ww[Eigen::Index(k)];
        }
        auto [tr, va] = train::stratified_holdout(train_idx, y, t.validation_fraction);
        net_.reset_parameters(t.seed);
        net_.set_num_threads(t.threads);
        adapter a{*this, x, y, y_error, w, t};
        auto hist = detail::fit_giant_network(
            a, tr, va, {t.learning_rate, t.max_epochs, t.batch_size, t.seed, t.patience, t.progress});
        trained_ = true;
        sigma_scale_ = 1.0;
        if (t.recalibrate_sigma)
            sigma_scale_ = t.calibration_folds >= 2 ? cross_fitted_calibration_factor(x, y, y_error, train_idx, t)
                                                    : calibration_factor(x, y, y_error, va, t);
        test_inputs_ = {inputs(x, {train_idx.front(), train_idx[train_idx.size() / 2]})};
        test_rows_ = {x[train_idx.front()], x[train_idx[train_idx.size() / 2]]};
        return hist;
    }

    /// \brief MC-dropout prediction (eq. 5): `mc_samples` passes with dropout on; value = mean of the
    /// means, sigma_dropout = their standard deviation, sigma_model = sqrt(mean of the predicted
    /// variances), sigma = sqrt(sigma_dropout^2 + sigma_model^2). mc_samples < 2 gives one deterministic
    /// pass (dropout off, sigma_dropout = 0). Seeded: the same seed gives the same numbers, whatever the
    /// thread count. Const (nn's const predict: every buffer and dropout mask belongs to this call), so one
    /// model serves many threads at once; `threads` is this call's thread count (0: the network's own).
    /// With `keys` (one per row, e.g. source_ids) row i's masks are a function of (seed, keys[i]) alone, so its
    /// prediction does not depend on the other rows of the call (batches, shards); without, of its position.
    std::vector<giant_prediction> predict(const std::vector<std::vector<double>>& x, std::size_t mc_samples = 100,
                                          std::uint64_t seed = 12345, unsigned threads = 0,
                                          const std::vector<std::uint64_t>& keys = {}) const {
        if (!trained_) throw value_error("bnn_mlp::predict: the model is not trained");
        if (!keys.empty() && keys.size() != x.size())
            throw value_error("bnn_mlp::predict: " + std::to_string(keys.size()) + " keys for " +
                              std::to_string(x.size()) + " rows");
        for (std::size_t i = 0; i < x.size(); ++i) check_row(x[i], i);
        std::vector<giant_prediction> out(x.size());
        const std::size_t chunk = 8192;
        for (std::size_t lo = 0; lo < x.size(); lo += chunk) {
            std::vector<std::size_t> b;
            for (std::size_t i = lo; i < std::min(x.size(), lo + chunk); ++i) b.push_back(i);
            const auto in = inputs(x, b);
            const std::size_t T = mc_samples < 2 ? 1 : mc_samples;
            std::vector<double> s1(b.size(), 0), s2(b.size(), 0), sv(b.size(), 0);
            std::vector<std::uint64_t> chunk_keys;  // this chunk's keys (none: positional masks)
            for (std::size_t i = 0; i < b.size() && !keys.empty(); ++i) chunk_keys.push_back(keys[b[i]]);
            for (std::size_t k = 0; k < T; ++k) {
                // Pass k of the chunk starting at row `lo` draws its dropout masks from
                // (seed + lo) * 1000003 + k + 1 (nn's predict makes the masks a pure function of it), as
                // rrlyrae_model did: chunks and passes get distinct streams, and no state is kept. With keys,
                // seed * 1000003 + k + 1 and each row's key.
                const std::uint64_t draw = (keys.empty() ? seed + lo : seed) * 1000003ULL + k + 1;
                const auto o = net_.predict({nn::input_view<float>(in)}, {},
                                            T == 1 ? nn::mode::inference : nn::mode::mc_dropout, T == 1 ? 0 : draw,
                                            threads, T == 1 ? std::vector<std::uint64_t>{} : chunk_keys);
                for (std::size_t j = 0; j < b.size(); ++j) {
                    const double mu = double(o(j, 0)) * y_scale_ + y_mean_;
                    s1[j] += mu;
                    s2[j] += mu * mu;
                    sv[j] += std::exp(double(o(j, 1))) * y_scale_ * y_scale_;
                }
            }
            for (std::size_t j = 0; j < b.size(); ++j) {
                auto& p = out[b[j]];
                p.value = s1[j] / double(T);
                p.sigma_dropout =
                    T > 1 ? std::sqrt(std::max(0.0, (s2[j] - double(T) * p.value * p.value) / double(T - 1))) : 0.0;
                p.sigma_model = sigma_scale_ * std::sqrt(sv[j] / double(T));
                p.sigma_dropout *= sigma_scale_;
                p.sigma = std::sqrt(p.sigma_dropout * p.sigma_dropout + p.sigma_model * p.sigma_model);
                if (!std::isfinite(p.value) || !std::isfinite(p.sigma))
                    throw value_error("bnn_mlp::predict: star " + std::to_string(b[j]) +
                                      " gives a non-finite prediction (features far outside the training range?)");
            }
        }
        return out;
    }

    /// \brief The model file, version 2 of the envelope {"format": "ferrum.model", "version": 2, "kind":
    /// "bnn_mlp"}: the architecture "options", the "preprocessing" as data (the target's name, the feature
    /// standardiser with its clip, the target scaling, the sigma factor, the outputs), the "network" as an nn
    /// model document (its own test vector on standardised inputs) and a "self_test" from raw inputs: two
    /// feature rows with the deterministic prediction (value, sigma), re-run at load through preprocessing
    /// and network.
    json to_json(
        const std::string& target = "feh") {  // not const: nn::model_to_json takes the network by reference
        if (!trained_) throw value_error("bnn_mlp::to_json: the model is not trained");
        json pre{{"target", target},
                           {"features", feat_.to_json()},
                           {"target_scale", {{"mean", y_mean_}, {"scale", y_scale_}}},
                           {"sigma_scale", sigma_scale_},
                           {"outputs", {"value", "sigma"}}};
        return {{"format", "ferrum.model"}, {"version", 2},
                {"kind", "bnn_mlp"},        {"options", json(opt_)},
                {"preprocessing", pre},     {"network", detail::network_document(net_, {}, test_inputs_)},
                {"self_test", self_test()}};
    }
    void save(const std::string& path, const std::string& target = "feh") {
        write_file_atomically(path, to_json(target).dump());
    }

    /// \brief Reads a model file: version 2 (to_json()) or version 1, the ferrum.nn.model document earlier
    /// builds wrote (converted in memory: its network test vector is re-run; its standardised test rows,
    /// mapped back to raw features, become the version-2 self-test). With `verify` the self-test is re-run.
    static bnn_mlp from_json(const json& j, const std::string& where = "<model>", bool verify = true) {
        return detail::read_model_document(where, "bnn_mlp model", [&] {
            if (j.value("format", "") != "ferrum.model") return from_json_v1(j, where, verify);
            detail::check_envelope(j, "bnn_mlp", where);
            const auto& pre = j.at("preprocessing");
            const auto o = options_from_json<bnn_options>(j.at("options"), where, missing_option::error, "options.");
            bnn_mlp m(o);
            m.net_ = detail::network_from_document(j.at("network"), where, verify);
            m.read_learnt(pre, where);
            m.test_inputs_ = detail::document_test_inputs(j.at("network"));
            m.test_rows_.clear();
            for (const auto& r : j.at("self_test").at("rows")) m.test_rows_.push_back(r.template get<std::vector<double>>());
            if (verify) m.verify_self_test(j.at("self_test"), where);
            return m;
        });
    }

    /// Re-runs `st` (rows of raw features and their deterministic (value, sigma)) through preprocessing and
    /// network; input_error naming `where` when an output differs by more than the tolerance.
    void verify_self_test(const json& st, const std::string& where) const {
        const auto rows = st.at("rows").template get<std::vector<std::vector<double>>>();
        const auto want = st.at("outputs").template get<std::vector<std::vector<double>>>();
        if (want.size() != rows.size()) throw input_error(where, 0, "self_test.outputs", "needs one output per row");
        std::vector<giant_prediction> got;
        try {
            got = predict(rows, 1);
        } catch (const value_error& e) {
            throw input_error(where, 0, "self_test.rows", e.what());
        }
        for (std::size_t i = 0; i < rows.size(); ++i)
            detail::check_self_test_output(where, i, {got[i].value, got[i].sigma}, want[i],
                                           st.at("tolerance").template get<double>());
    }

    static bnn_mlp load(const std::string& path, bool verify = true) {
        return from_json(read_json_file(path, "model file"), path, verify);
    }

private:
    /// The self-test of the file: the raw test rows and this model's deterministic predictions for them.
    json self_test() const {
        json outputs = json::array();
        for (const auto& p : predict(test_rows_, 1, 0, 1)) outputs.push_back({p.value, p.sigma});
        return {{"rows", test_rows_}, {"outputs", outputs}, {"tolerance", 1e-5}};
    }

    /// The learnt preprocessing (feature standardiser, target scaling, sigma factor) of a file's object.
    void read_learnt(const json& pre, const std::string& where) {
        feat_ = standardiser::from_json(pre.at("features"), 0.0, "preprocessing.features");
        if (feat_.mean.size() != opt_.inputs)
            throw input_error(where, 0, "preprocessing.features", "standardisation has the wrong number of features");
        y_mean_ = pre.at("target_scale").at("mean").template get<double>();
        y_scale_ = pre.at("target_scale").at("scale").template get<double>();
        sigma_scale_ = pre.at("sigma_scale").template get<double>();
        if (!(sigma_scale_ > 0)) throw input_error(where, 0, "preprocessing.sigma_scale", "must be > 0");
        trained_ = true;
    }

    /// Version 1: a ferrum.nn.model document whose preprocessing holds the architecture and what was learnt.
    static bnn_mlp from_json_v1(const json& j, const std::string& where, bool verify) {
        const auto& pre = j.at("preprocessing");
        if (pre.value("model", "") != "bnn_mlp")
            throw input_error(where, 0, "preprocessing.model", "not a bnn_mlp model");
        auto feat = standardiser::from_json(pre.at("features"), 0.0, "preprocessing.features");
        const auto o = detail::architecture_from<bnn_options>(
            pre, {"model", "target", "features", "target_scale", "sigma_scale", "outputs"},
            {{"inputs", feat.mean.size()}}, where);
        bnn_mlp m(o);
        m.net_ = detail::network_from_document(j, where, verify);
        m.read_learnt(pre, where);
        m.test_inputs_ = detail::document_test_inputs(j);
        // raw rows for the version-2 self-test: the standardised test rows mapped back (clip 0 in version 1)
        m.test_rows_.clear();
        if (m.test_inputs_.size() == 1)
            for (std::size_t r = 0; r < m.test_inputs_[0].shape()[0]; ++r) {
                std::vector<double> row;
                for (std::size_t k = 0; k < o.inputs; ++k)
                    row.push_back(m.feat_.mean[k] + double(m.test_inputs_[0](r, k)) * m.feat_.scale[k]);
                m.test_rows_.push_back(std::move(row));
            }
        return m;
    }

    struct adapter {
        bnn_mlp& m;
        const std::vector<std::vector<double>>& x;
        const std::vector<double>& y;
        const std::vector<double>& ye;
        const std::vector<double>& w;
        const bnn_training_options& t;

        nn::parameter_list<float> parameters() { return m.net_.parameters(); }
        float train_step(const std::vector<std::size_t>& batch) {
            m.net_.zero_grad();
            const auto in = m.inputs(x, batch);
            const auto out = m.net_.forward({nn::input_view<float>(in)}, {}, nn::mode::training);
            const auto l = m.loss(out, batch, y, ye, w);
            m.net_.backward(detail::two_output_gradient(l));
            float pen = 0;
            if (t.l2 > 0) {
                nn::regularizer reg;
                reg.kernel_l2 = t.l2;
                auto params = m.net_.parameters();
                pen = reg.apply(params);
            }
            return l.value + pen;
        }
        float validation_loss(const std::vector<std::size_t>& idx) {
            const auto in = m.inputs(x, idx);
            const auto out = m.net_.forward({nn::input_view<float>(in)}, {}, nn::mode::inference);
            return m.loss(out, idx, y, ye, w).value;
        }
    };

    nn::heteroscedastic_loss_result<float> loss(const xt::xarray<float>& out, const std::vector<std::size_t>& b,
                                                const std::vector<double>& y, const std::vector<double>& ye,
                                                const std::vector<double>& w) const {
        const auto n = Eigen::Index(b.size());
        vector_f mu(n), lv(n), target(n), sd(n), ww(n);
        for (Eigen::Index k = 0; k < n; ++k) {
            const std::size_t i = b[std::size_t(k)];
            mu[k] = out(std::size_t(k), 0);
            lv[k] = out(std::size_t(k), 1);
            target[k] = float((y[i] - y_mean_) / y_scale_);
            sd[k] = float(ye[i] / y_scale_);
            ww[k] = float(w[i]);
        }
        return nn::robust_heteroscedastic_loss(mu, lv, target, sd, ww, nn::reduction::mean);
    }

    /// The factor fitted on the validation stars' predictions (see detail::coverage_scale).
    double calibration_factor(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                              const std::vector<double>& ye, const std::vector<std::size_t>& va,
                              const bnn_training_options& t) {
        if (va.size() < 20) return 1.0;
        std::vector<std::vector<double>> xv;
        for (auto i : va) xv.push_back(x[i]);
        const auto p = predict(xv, t.calibration_mc_samples, t.seed + 4242, t.threads);
        std::vector<double> r, s, e;
        for (std::size_t j = 0; j < va.size(); ++j) {
            r.push_back(y[va[j]] - p[j].value);
            s.push_back(p[j].sigma);
            e.push_back(ye[va[j]]);
        }
        return detail::coverage_scale(r, s, e);
    }

    /// K networks like this one (same architecture and settings, no recalibration of their own), each
    /// trained on the other folds of `train_idx`, predict their fold; the factor is fitted on all of them.
    double cross_fitted_calibration_factor(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                           const std::vector<double>& ye, const std::vector<std::size_t>& train_idx,
                                           const bnn_training_options& t) {
        const std::size_t K = t.calibration_folds;
        if (train_idx.size() < 20 * K) return 1.0;
        std::vector<double> yt;
        for (auto i : train_idx) yt.push_back(y[i]);
        std::mt19937_64 rng(t.seed * 7919 + 17);
        const auto folds = train::repeated_stratified_kfold(yt, K, 1, rng);
        std::vector<double> r, s, e;
        progress bar("sigma calibration fold", K, "folds", t.progress);
        for (const auto& f : folds) {
            std::vector<std::size_t> tr;
            for (auto k : f.train) tr.push_back(train_idx[k]);
            bnn_mlp net(opt_, seed_ + 1000 + f.index);
            auto tf = t;
            tf.recalibrate_sigma = false;
            tf.progress = false;
            tf.seed = t.seed * 131 + 1000 + f.index;
            net.fit(x, y, ye, tr, tf);
            std::vector<std::vector<double>> xs;
            for (auto k : f.test) xs.push_back(x[train_idx[k]]);
            const auto p = net.predict(xs, t.calibration_mc_samples, t.seed + 4242 + f.index, t.threads);
            for (std::size_t j = 0; j < f.test.size(); ++j) {
                const std::size_t i = train_idx[f.test[j]];
                r.push_back(y[i] - p[j].value);
                s.push_back(p[j].sigma);
                e.push_back(ye[i]);
            }
            bar.update(f.index + 1);
        }
        return detail::coverage_scale(r, s, e);
    }

    void check_row(const std::vector<double>& r, std::size_t i) const {
        if (r.size() != opt_.inputs)
            throw value_error("bnn_mlp: row " + std::to_string(i) + " has " + std::to_string(r.size()) +
                              " features, the model takes " + std::to_string(opt_.inputs));
        for (std::size_t j = 0; j < r.size(); ++j)
            if (!std::isfinite(r[j]))
                throw value_error("bnn_mlp: row " + std::to_string(i) + " feature " + std::to_string(j) +
                                  " is not finite (a missing band? see colour_features::missing)");
    }

    xt::xtensor<float, 2> inputs(const std::vector<std::vector<double>>& x, const std::vector<std::size_t>& b) const {
        return detail::gather_rows(x, b, opt_.inputs,
                                   [&](const std::vector<double>& r, std::size_t j) { return feat_(r[j], j); });
    }

    void build() {
        auto h = net_.input("features", opt_.inputs);
        std::size_t in = opt_.inputs;
        for (std::size_t k = 0; k < opt_.hidden.size(); ++k) {
            h = net_.add("hidden" + std::to_string(k), nn::dense<float>(in, opt_.hidden[k], nn::activation::relu), h);
            h = net_.add("dropout" + std::to_string(k), nn::dropout<float>(opt_.dropout), h);
            in = opt_.hidden[k];
        }
        net_.add("out", nn::dense<float>(in, 2), h);
        net_.reset_parameters(seed_);
    }

    bnn_options opt_;
    std::uint64_t seed_;
    net_type net_;
    bool trained_ = false;
    standardiser feat_;
    double y_mean_ = 0, y_scale_ = 1, sigma_scale_ = 1;
    std::vector<xt::xtensor<float, 2>> test_inputs_;
    std::vector<std::vector<double>> test_rows_;  ///< raw feature rows of the self-test
};

/// The Bayesian (MC-dropout) MLP (see basic_bnn_mlp).
using bnn_mlp = basic_bnn_mlp<>;

}  // namespace ferrum::models
