// The RR Lyrae [Fe/H] model of Monti et al. (2025, A&A 702, A148; Sect. 3-4: GRU 20-16-8, dropout
// 0.2/0.2/0.1, density weights eq. 3, weighted MSE with L1/L2, Adam, early stopping), its GRU + Fourier-feature
// and ridge variants, MC-dropout sigma, and its model file: the whole preprocessing as data and self-test
// vectors from raw light curves, re-run through preprocessing and network at load.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Cholesky>  // LDLT
#include <Eigen/Core>
#include <nlohmann/json.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/random.hpp"  // id_key
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/models/rrlyrae_classical.hpp"
#include "ferrum/models/rrlyrae_inputs.hpp"
#include "ferrum/models/rrlyrae_options.hpp"
#include "ferrum/nn/activation_layer.hpp"
#include "ferrum/nn/attention_pooling.hpp"
#include "ferrum/nn/batch_norm.hpp"
#include "ferrum/nn/conv1d.hpp"
#include "ferrum/nn/dense.hpp"
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/lstm.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/pooling.hpp"
#include "ferrum/nn/positional_encoding.hpp"
#include "ferrum/nn/regularization.hpp"
#include "ferrum/nn/transformer_encoder.hpp"
#include "ferrum/stats/density_weights.hpp"
#include "ferrum/stats/standardiser.hpp"
#include "ferrum/train/kfold.hpp"
#include "ferrum/train/trainer.hpp"

namespace ferrum::models {

namespace detail {

/// Two clean, Gaia-like light curves of type `t` (fixed Fourier shapes, irregular sampling, 0.01 mag
/// deterministic noise) for the self-test vectors of a model file. They are stored in the file, so this
/// generator may change without invalidating files.
inline void self_test_curves(rr_type t, std::size_t min_epochs, std::vector<light_curve>& curves,
                             std::vector<rrl_ephemeris>& ephemerides) {
    const bool c = t == rr_type::rrc;
    const std::size_t n = std::max<std::size_t>(70, min_epochs + 10);
    for (int k = 0; k < 2; ++k) {
        const double period = c ? (k ? 0.36 : 0.30) : (k ? 0.63 : 0.52);
        const std::vector<double> amp = c ? std::vector<double>{0.22, 0.03, 0.015}
                                          : std::vector<double>{0.36 - 0.08 * k, 0.17, 0.11, 0.07};
        const std::vector<double> phi = {0.0, 2.1 + 0.4 * k, 4.3 + 0.3 * k, 0.6};
        const double epoch = 1700.25;
        light_curve lc;
        lc.source_id = static_cast<std::int64_t>(curves.size());
        auto hash = [](double x) { return x - std::floor(x); };
        for (std::size_t i = 0; i < n; ++i) {
            const double time = 1700.0 + 11.7 * double(i) + 0.37 * hash(std::sin(double(i) * 12.9898 + k) * 43758.5453);
            const double x = 6.283185307179586 * (time - epoch) / period;
            double mag = 17.0 + 0.02 * (hash(std::sin(double(i) * 78.233 + k) * 12543.1234) - 0.5);
            for (std::size_t h = 0; h < amp.size(); ++h) mag += amp[h] * std::cos(double(h + 1) * x + phi[h]);
            lc.time.push_back(time);
            lc.mag.push_back(mag);
            lc.mag_err.push_back(0.01);
        }
        curves.push_back(std::move(lc));
        rrl_ephemeris e;
        e.type = t;
        e.period = period;
        e.epoch = epoch;
        ephemerides.push_back(e);
    }
}

}  // namespace detail

/// \brief A trained (or untrained) RR Lyrae [Fe/H] model: network (or ridge coefficients), the input
/// settings and standardisations, and the types it serves. Saved as one JSON file carrying self-test
/// vectors that load() re-checks. Use it as `rrlyrae_model`; the class template exists so that a translation
/// unit compiles the model (and the training path it pulls in) only when it uses it.
/// \tparam Scalar the network's number type: float (the only one supported)
template <class Scalar = float>
class basic_rrlyrae_model {
    static_assert(std::is_same_v<Scalar, float>, "rrlyrae_model computes in float: use rrlyrae_model");
    // nlohmann::json and Eigen's types spelt dependent on Scalar (they are the same types): the bodies in this
    // class are then compiled only where they are used, not in every translation unit that includes it.
    template <class E>
    using dependent = std::conditional_t<std::is_same_v<Scalar, float>, E, E>;
    using json = dependent<nlohmann::json>;
    using vector_f = dependent<Eigen::VectorXf>;
    using vector_d = dependent<Eigen::VectorXd>;
    using matrix_d = dependent<Eigen::MatrixXd>;

public:
    using rrlyrae_model = basic_rrlyrae_model;
    using net_type = nn::functional<Scalar>;  // = nn::functional<float>, spelt dependent (compile cost)

    explicit basic_rrlyrae_model(rrl_model_options opt = {}, std::uint64_t seed = 1)
        : opt_(std::move(opt)), seed_(seed) {
        if (opt_.types.empty()) throw value_error("rrlyrae_model: at least one type is needed");
        for (auto t : opt_.types)
            if (t != rr_type::rrab && t != rr_type::rrc)
                throw value_error(std::string("rrlyrae_model: types must be RRab or RRc, not ") + to_string(t));
        if (opt_.architecture != rrl_architecture::fourier_linear) {
            if (opt_.gru_sizes.empty()) throw value_error("rrlyrae_model: gru_sizes is empty");
            if (opt_.dropout.size() != opt_.gru_sizes.size())
                throw value_error("rrlyrae_model: give one dropout rate per GRU layer");
        }
        build();
    }

    const rrl_model_options& options() const noexcept { return opt_; }
    bool serves(rr_type t) const noexcept {
        return std::find(opt_.types.begin(), opt_.types.end(), t) != opt_.types.end();
    }
    bool trained() const noexcept { return trained_; }
    std::size_t num_parameters() {
        std::size_t n = 0;
        for (const auto& p : net_.parameters()) n += p.size();
        return n;
    }

    /// \brief Trains on stars `train` (indices into `stars`, all usable and of served types) with labels y.
    /// A stratified `validation_fraction` of them drives early stopping. Returns the history.
    train::training_history fit(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                const std::vector<std::size_t>& train_idx, const rrl_training_options& t = {});

    /// \brief Trains on every usable star of a served type (stars[i].ok(), label y[i]); flagged and unserved
    /// stars are left out. The shortest call: prepare_rrlyrae_inputs -> fit -> predict.
    train::training_history fit(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                const rrl_training_options& t = {}) {
        std::vector<std::size_t> usable;
        for (std::size_t i = 0; i < stars.size(); ++i)
            if (stars[i].ok() && serves(stars[i].type)) usable.push_back(i);
        return fit(stars, y, usable, t);
    }

    /// \brief Residuals (prediction - label) and raw sigmas of stars `idx` with `mc_samples` MC-dropout
    /// passes: what a calibration is fitted on (e.g. out-of-fold predictions of cross-validation). Each
    /// point's sigma_label is the star's classical-pipeline sigma (0 without a period).
    std::vector<rrl_calibration_point> calibration_points(const std::vector<rrl_star_input>& stars,
                                                          const std::vector<double>& y,
                                                          const std::vector<std::size_t>& idx, std::size_t mc_samples,
                                                          std::uint64_t seed = 12345, unsigned threads = 0) const;

    /// The sigma calibration (empty: predict() returns the raw sigma).
    const rrl_sigma_calibration& calibration() const noexcept { return calibration_; }
    /// Replaces the sigma calibration (e.g. one fitted on out-of-fold residuals).
    void set_calibration(rrl_sigma_calibration c) { calibration_ = std::move(c); }
    /// Bins with fewer stars than this take their type's pooled fit (5 epoch ranges per type).
    static std::size_t calibration_min_per_bin(std::size_t n) { return std::max<std::size_t>(100, n / 8); }

    /// \brief [Fe/H] for every star (the deterministic network output) with its sigma: the aleatoric sigma
    /// of a heteroscedastic network and (mc_samples >= 2) the spread of that many MC-dropout passes, in
    /// quadrature, mapped through the model's calibration (calibration(); none: this raw sigma, 0 for a
    /// model with neither; with a label-error term, the star's classical-pipeline sigma is its sigma_label).
    /// Flagged and unserved stars get their flag and no number. A star's MC-dropout masks are a function of
    /// (seed, its id) (ferrum::id_key of rrl_star_input::id; a star without an id: its position in `stars`),
    /// so its prediction does not depend on which stars are predicted with it (batches, shards, ranks).
    std::vector<rrl_prediction> predict(const std::vector<rrl_star_input>& stars, std::size_t mc_samples = 0,
                                        std::uint64_t seed = 12345, unsigned threads = 0) const;

    /// predict() without the calibration: sigma is the raw hypot(aleatoric, MC-dropout spread).
    std::vector<rrl_prediction> predict_raw(const std::vector<rrl_star_input>& stars, std::size_t mc_samples = 0,
                                            std::uint64_t seed = 12345, unsigned threads = 0) const;

    /// \brief The model file (the one envelope of ferrum's models: format "ferrum.model", version 2, kind
    /// "rrlyrae"): the options, the whole
    /// preprocessing as data (input and spline settings, per-curve standardisation, time scaling, the feature
    /// standardiser with its clip and the feature names, target scaling), the network as an nn model document
    /// (or the ridge coefficients) and self-test vectors that start from raw light curves.
    nlohmann::json to_json() const;

    /// \brief Reads a model written by to_json() (version 2) or by ferrum before it (version 1, converted in
    /// memory: its self-test is re-checked, then raw-input self-test vectors are made so that saving writes
    /// version 2). With `verify`, re-runs the self-test vectors (version 2: preprocessing and network from the
    /// stored light curves) and throws input_error if an output differs by more than 1e-4 dex (a corrupted
    /// file, or a build whose preprocessing or network computes otherwise).
    static rrlyrae_model from_json(const nlohmann::json& j, const std::string& where = "<model>", bool verify = true);

    void save(const std::string& path) const { write_file_atomically(path, to_json().dump()); }
    static rrlyrae_model load(const std::string& path, bool verify = true) {
        const json j = read_json_file(path, "model file");
        return from_json(j, path, verify);
    }

    /// Re-runs the stored self-test light curves through preprocessing and model; throws input_error
    /// naming `where` on a mismatch.
    void verify_self_test(const std::string& where) const;

    /// The network (for inspection and advanced use).
    net_type& network() noexcept { return net_; }

private:
    // --- the trainer's model concept -------------------------------------------------------------
    struct adapter {
        rrlyrae_model& m;
        const std::vector<rrl_star_input>& stars;
        const std::vector<double>& y;
        const std::vector<double>& w;
        const rrl_training_options& t;
        nn::regularizer reg;

        nn::parameter_list<float> parameters() { return m.net_.parameters(); }
        float train_step(const std::vector<std::size_t>& batch) {
            m.net_.zero_grad();
            const float value = data_loss_backward(batch, 0, batch.size());
            return value + penalties();
        }
        float validation_loss(const std::vector<std::size_t>& idx) {
            double s = 0;
            for (double term : validation_terms(idx)) s += term;
            return static_cast<float>(s / double(idx.size()));
        }
        std::vector<double> validation_terms(const std::vector<std::size_t>& idx) {
            std::vector<double> terms;
            terms.reserve(idx.size());
            const std::size_t chunk = 2048;
            for (std::size_t lo = 0; lo < idx.size(); lo += chunk) {
                std::vector<std::size_t> b(idx.begin() + std::ptrdiff_t(lo),
                                           idx.begin() + std::ptrdiff_t(std::min(idx.size(), lo + chunk)));
                const auto out = m.forward(stars, b, nn::mode::inference);
                for (std::size_t k = 0; k < b.size(); ++k) {
                    const double d = out(k, 0) - (y[b[k]] - m.y_mean_) / m.y_scale_;
                    if (m.opt_.heteroscedastic) {
                        // the training loss's term: (d^2 e^{-s} + s) / 2 with s the log-variance
                        const double lv = std::clamp(double(out(k, 1)), -30.0, 30.0);
                        terms.push_back(w[b[k]] * 0.5 * (d * d * std::exp(-lv) + lv));
                    } else {
                        terms.push_back(w[b[k]] * d * d);
                    }
                }
            }
            return terms;
        }

        // --- data parallelism (train::fit with several ranks): a share of the batch, then the sum ---
        std::size_t chunk_size() const noexcept { return m.net_.chunk_size(); }
        std::size_t gradient_size() const noexcept { return m.net_.engine().gradient_size(); }
        train::gradient_part<float> train_part(const std::vector<std::size_t>& batch, std::size_t lo, std::size_t hi) {
            train::gradient_part<float> part;
            if (hi == lo) {
                m.net_.engine().advance_draws(nn::mode::training);
                return part;
            }
            part.loss = data_loss_backward(batch, lo, hi);
            part.chunk_gradients = m.net_.engine().chunk_gradients();
            return part;
        }
        float apply_gradients(const std::vector<float>& chunks) {
            m.net_.engine().set_gradients_from_chunks(chunks);
            return penalties();
        }

        /// Forward and backward of samples [lo, hi) of `batch`: the gradient of the whole batch's mean data
        /// loss restricted to them (each sample's output gradient has the bits the whole batch gives it:
        /// the weight is scaled by 1/|batch| first, as the mean reduction does), and that restricted loss.
        float data_loss_backward(const std::vector<std::size_t>& batch, std::size_t lo, std::size_t hi) {
            const std::vector<std::size_t> part(batch.begin() + std::ptrdiff_t(lo), batch.begin() + std::ptrdiff_t(hi));
            const auto out = m.forward(stars, part, nn::mode::training, lo);
            const auto n = static_cast<Eigen::Index>(part.size());
            const bool whole = lo == 0 && hi == batch.size();
            const float scale = 1.0f / static_cast<float>(batch.size());
            const auto r = whole ? nn::reduction::mean : nn::reduction::sum;
            vector_f pred(n), target(n), weight(n);
            for (Eigen::Index k = 0; k < n; ++k) {
                pred[k] = out(std::size_t(k), 0);
                target[k] = static_cast<float>((y[part[std::size_t(k)]] - m.y_mean_) / m.y_scale_);
                weight[k] = static_cast<float>(w[part[std::size_t(k)]]);
                if (!whole) weight[k] = scale * weight[k];
            }
            xt::xarray<float> g = xt::xarray<float>::from_shape({part.size(), m.outputs()});
            float value = 0;
            if (m.opt_.heteroscedastic) {
                vector_f log_var(n);
                for (Eigen::Index k = 0; k < n; ++k) log_var[k] = out(std::size_t(k), 1);
                const auto l = nn::robust_heteroscedastic_loss(pred, log_var, target, vector_f::Zero(n), weight,
                                                               r);
                for (Eigen::Index k = 0; k < n; ++k) {
                    g(std::size_t(k), 0) = l.grad_mean[k];
                    g(std::size_t(k), 1) = l.grad_log_var[k];
                }
                value = l.value;
            } else {
                const auto l = nn::mse_loss(pred, target, weight, r);
                for (Eigen::Index k = 0; k < n; ++k) g(std::size_t(k), 0) = l.grad[k];
                value = l.value;
            }
            m.net_.backward(g);
            return value;
        }
        /// The L1/L2 penalties' gradients added to the data gradient, then clipping; returns the penalty.
        float penalties() {
            reg.kernel_l1 = reg.recurrent_l1 = t.kernel_l1;
            reg.kernel_l2 = reg.recurrent_l2 = t.kernel_l2;
            auto params = m.net_.parameters();
            const float pen = reg.apply(params);
            if (t.clip_norm > 0) nn::clip_grad_norm(params, static_cast<float>(t.clip_norm));
            return pen;
        }
    };

    /// Network outputs: the standardised mean, and its log-variance when heteroscedastic.
    std::size_t outputs() const noexcept { return opt_.heteroscedastic ? 2 : 1; }

    bool has_dropout() const noexcept {
        if (opt_.architecture == rrl_architecture::fourier_linear) return false;
        for (double r : opt_.dropout)
            if (r > 0) return true;
        return false;
    }

    void build();
    /// The convolutional trunks from node x (`in` channels; set to the trunk's output width): its summary node.
    std::size_t build_resnet(std::size_t x, std::size_t& in);
    std::size_t build_inception_time(std::size_t x, std::size_t& in);

    void fit_standardisation(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                             const std::vector<std::size_t>& idx) {
        double s = 0, s2 = 0, n = 0;
        std::vector<std::vector<double>> rows;
        double ys = 0, ys2 = 0;
        for (auto i : idx) {
            const auto q = sequence_of(stars[i]);
            for (std::size_t k = 0; k < q.steps; ++k) {
                const double t = q.time[k * q.stride];
                s += t;
                s2 += t * t;
                n += 1;
            }
            rows.push_back(stars[i].features);
            ys += y[i];
            ys2 += y[i] * y[i];
        }
        time_mean_ = n > 0 ? s / n : 0.0;
        time_scale_ = n > 0 ? std::sqrt(std::max(1e-12, s2 / n - time_mean_ * time_mean_)) : 1.0;
        feat_.fit(rows);
        y_mean_ = ys / double(idx.size());
        y_scale_ = std::sqrt(std::max(1e-12, ys2 / double(idx.size()) - y_mean_ * y_mean_));
    }

    /// The network's inputs for stars `b`: per-call scratch, nothing of the model changes.
    struct network_inputs {
        xt::xtensor<float, 3> sequence;    ///< batch_tensor(): (batch, steps, 2), time channel standardised
        xt::xtensor<float, 2> features;    ///< feature_table(): (batch, features), standardised, clipped
        std::vector<std::size_t> lengths;  ///< steps of each star; empty when all have the same
    };

    /// The one place the learnt scalings are applied to a batch: the time channel by batch_tensor() as it
    /// builds the sequence tensor, the features by feature_table().
    network_inputs pack_inputs(const std::vector<rrl_star_input>& stars, const std::vector<std::size_t>& b) const {
        network_inputs in;
        in.sequence = batch_tensor<float>(stars, b, time_scaling{time_mean_, time_scale_}, &in.lengths);
        in.features = feature_table<float>(stars, b);
        return in;
    }

    /// The standardised, clipped features of stars `b` (the network's second input, the ridge's regressors).
    template <class T>
    xt::xtensor<T, 2> feature_table(const std::vector<rrl_star_input>& stars, const std::vector<std::size_t>& b) const {
        const std::size_t F = rrl_feature_names().size();
        xt::xtensor<T, 2> f = xt::zeros<T>({b.size(), F});
        for (std::size_t k = 0; k < b.size(); ++k) {
            const auto& x = stars[b[k]].features;
            if (x.size() < F)  // a guard: prepared stars have all F; a model file's self-test inputs are checked
                throw value_error("rrlyrae_model: star " + stars[b[k]].id + " has " + std::to_string(x.size()) +
                                  " features, the model reads " + std::to_string(F));
            for (std::size_t j = 0; j < F; ++j) f(k, j) = static_cast<T>(feat_(x[j], j));
        }
        return f;
    }

    /// Network output (standardised target) for stars `b`: (batch, 1).
    xt::xarray<float> forward(const std::vector<rrl_star_input>& stars, const std::vector<std::size_t>& b,
                              nn::mode mode, std::size_t first_sample = 0) {
        auto in = pack_inputs(stars, b);
        std::vector<nn::input_view<float>> inputs{nn::input_view<float>(in.sequence)};
        if (rrl_uses_fourier_head(opt_.architecture)) inputs.emplace_back(in.features);
        return net_.forward(inputs, in.lengths, mode, first_sample);
    }

    /// The same without changing the model (prediction, self-tests): nn's const predict, its own buffers.
    xt::xarray<float> infer(const std::vector<rrl_star_input>& stars, const std::vector<std::size_t>& b, nn::mode mode,
                            std::uint64_t dropout_seed, unsigned threads,
                            const std::vector<std::uint64_t>& sample_keys = {}) const {
        auto in = pack_inputs(stars, b);
        std::vector<nn::input_view<float>> inputs{nn::input_view<float>(in.sequence)};
        if (rrl_uses_fourier_head(opt_.architecture)) inputs.emplace_back(in.features);
        return net_.predict(inputs, in.lengths, mode, dropout_seed, threads, sample_keys);
    }

    /// fourier_linear's prediction ([Fe/H], dex) for stars `b`.
    std::vector<double> ridge_predict(const std::vector<rrl_star_input>& stars,
                                      const std::vector<std::size_t>& b) const {
        std::vector<double> out(b.size());
        const std::size_t F = rrl_feature_names().size();
        const auto x = feature_table<double>(stars, b);
        for (std::size_t k = 0; k < b.size(); ++k) {
            double v = coef_[0];
            for (std::size_t j = 0; j < F; ++j) v += coef_[j + 1] * x(k, j);
            out[k] = v * y_scale_ + y_mean_;
        }
        return out;
    }

    /// [Fe/H] (dex) of stars `b`; with `aleatoric`, a heteroscedastic network's sigma (dex) too.
    std::vector<double> raw_predict(const std::vector<rrl_star_input>& stars, const std::vector<std::size_t>& b,
                                    nn::mode mode, std::uint64_t dropout_seed = 0, unsigned threads = 0,
                                    std::vector<double>* aleatoric = nullptr,
                                    const std::vector<std::uint64_t>& sample_keys = {}) const {
        if (opt_.architecture == rrl_architecture::fourier_linear) return ridge_predict(stars, b);
        const auto o = infer(stars, b, mode, dropout_seed, threads, sample_keys);
        std::vector<double> out(b.size());
        for (std::size_t k = 0; k < b.size(); ++k) out[k] = double(o(k, 0)) * y_scale_ + y_mean_;
        if (aleatoric && opt_.heteroscedastic) {
            aleatoric->resize(b.size());
            for (std::size_t k = 0; k < b.size(); ++k)
                (*aleatoric)[k] = std::exp(0.5 * std::clamp(double(o(k, 1)), -30.0, 30.0)) * y_scale_;
        }
        return out;
    }

    /// Weighted ridge regression; returns the exact leave-one-out residuals (dex) of stars `idx`,
    /// e_i / (1 - h_ii) with h_ii = w_i x_i^T A^-1 x_i (the penalty held fixed).
    std::vector<double> fit_ridge(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                  const std::vector<double>& w, const std::vector<std::size_t>& idx) {
        const Eigen::Index F = static_cast<Eigen::Index>(rrl_feature_names().size());
        matrix_d A = matrix_d::Zero(F + 1, F + 1);
        vector_d r = vector_d::Zero(F + 1);
        vector_d x(F + 1);
        const auto table = feature_table<double>(stars, idx);
        auto row = [&](std::size_t k) {
            x[0] = 1.0;
            for (Eigen::Index j = 0; j < F; ++j) x[j + 1] = table(k, std::size_t(j));
        };
        for (std::size_t k = 0; k < idx.size(); ++k) {
            const auto i = idx[k];
            row(k);
            A.noalias() += w[i] * x * x.transpose();
            r.noalias() += w[i] * ((y[i] - y_mean_) / y_scale_) * x;
        }
        for (Eigen::Index j = 1; j <= F; ++j) A(j, j) += opt_.ridge * double(idx.size());
        const auto ldlt = A.ldlt();
        const vector_d c = ldlt.solve(r);
        coef_.assign(c.data(), c.data() + c.size());
        std::vector<double> loo;
        loo.reserve(idx.size());
        for (std::size_t k = 0; k < idx.size(); ++k) {
            const auto i = idx[k];
            row(k);
            const double h = w[i] * x.dot(ldlt.solve(x));
            const double e = x.dot(c) - (y[i] - y_mean_) / y_scale_;
            loo.push_back(e / std::max(1.0 - h, 1e-6) * y_scale_);
        }
        return loo;
    }

    /// The preprocessing as data: what prepare_rrlyrae_inputs does (input and spline settings), what it
    /// always does (per-curve standardisation of the magnitudes), and the standardisations fit() learnt.
    json preprocessing_json() const {
        json features = feat_.to_json();
        features["names"] = rrl_feature_names();
        return {{"input", opt_.input},
                {"standardise_magnitude_per_curve", true},
                {"time_scale", {{"mean", time_mean_}, {"scale", time_scale_}}},
                {"features", features},
                {"target", {{"mean", y_mean_}, {"scale", y_scale_}}}};
    }

    static void check_feature_names(const json& names, const std::string& where, const std::string& field) {
        if (names != json(rrl_feature_names()))
            throw input_error(where, 0, field,
                              "the model was trained on other Fourier features (" + names.dump() +
                                  ") than this version of ferrum computes; retrain it");
    }

    static void check_fields(const json& j, const std::vector<std::string>& known, const std::string& where,
                             const std::string& prefix) {
        for (auto it = j.begin(); it != j.end(); ++it)
            if (std::find(known.begin(), known.end(), it.key()) == known.end())
                throw input_error(where, 0, prefix + it.key(), "is not a field of an RR Lyrae model file");
    }

    static rrlyrae_model from_json_v2(const json& j, const std::string& where, bool verify) {
        check_fields(j,
                     {"format", "version", "kind", "options", "preprocessing", "seed", "trained", "network",
                      "ridge_coefficients", "calibration", "self_test"},
                     where, "");
        if (j.at("kind") != "rrlyrae") throw input_error(where, 0, "kind", "is not \"rrlyrae\"");
        const auto& pp = j.at("preprocessing");
        check_fields(pp, {"input", "standardise_magnitude_per_curve", "time_scale", "features", "target"}, where,
                     "preprocessing.");
        rrl_model_options o;
        try {
            j.at("options").get_to(o);
        } catch (const option_error& e) {
            throw input_error(where, 0, "options." + e.field(), e.message());
        }
        if (j.at("options").contains("input"))
            throw input_error(where, 0, "options.input", "belongs in preprocessing.input");
        // files written before the heteroscedastic head existed have one output
        if (!j.at("options").contains("heteroscedastic")) o.heteroscedastic = false;
        try {
            pp.at("input").get_to(o.input);
        } catch (const option_error& e) {
            throw input_error(where, 0, "preprocessing.input." + e.field(), e.message());
        }
        if (pp.at("standardise_magnitude_per_curve") != true)
            throw input_error(where, 0, "preprocessing.standardise_magnitude_per_curve",
                              "this build standardises every curve's magnitudes; it cannot run this model");
        check_feature_names(pp.at("features").at("names"), where, "preprocessing.features.names");
        rrlyrae_model m(o, j.at("seed").template get<std::uint64_t>());
        m.time_mean_ = pp.at("time_scale").at("mean").template get<double>();
        m.time_scale_ = pp.at("time_scale").at("scale").template get<double>();
        m.feat_ = standardiser::from_json(pp.at("features"));
        m.y_mean_ = pp.at("target").at("mean").template get<double>();
        m.y_scale_ = pp.at("target").at("scale").template get<double>();
        m.trained_ = j.at("trained").template get<bool>();
        if (o.architecture == rrl_architecture::fourier_linear) {
            m.coef_ = j.at("ridge_coefficients").template get<std::vector<double>>();
            if (m.trained_ && m.coef_.size() != rrl_feature_names().size() + 1)
                throw input_error(where, 0, "ridge_coefficients", "needs one per feature and an intercept");
        } else {
            auto loaded = nn::model_from_json<float>(j.at("network"), where, verify).model;
            auto from = loaded.parameters();
            auto to = m.net_.parameters();
            if (from.size() != to.size())
                throw input_error(where, 0, "network",
                                  "holds " + std::to_string(from.size()) + " parameters, the options' network " +
                                      std::to_string(to.size()));
            for (auto& r : to) {
                auto it = std::find_if(from.begin(), from.end(), [&](const auto& f) { return f.name == r.name; });
                if (it == from.end()) throw input_error(where, 0, "network", "has no parameter " + r.name);
                if (it->size() != r.size())
                    throw input_error(where, 0, "network",
                                      r.name + " has " + std::to_string(it->size()) + " values, the options' network " +
                                          std::to_string(r.size()));
                std::copy(it->value, it->value + r.size(), r.value);
            }
            // the file's network itself: its dropout layers keep the seeds they were trained with, so
            // MC-dropout sigmas of a loaded model equal those of the model that was saved
            m.net_ = std::move(loaded);
        }
        if (j.contains("calibration")) {
            try {
                m.calibration_ = rrl_sigma_calibration::from_json(j.at("calibration"));
            } catch (const value_error& e) {
                throw input_error(where, 0, "calibration", e.what());
            }
        }
        m.self_test_ = j.at("self_test");
        if (verify && m.trained_) m.verify_self_test(where);
        return m;
    }

    /// Version 1 (ferrum before the raw-input self-tests): flat options, parameters by name, self-test
    /// vectors of preprocessed inputs. Its preprocessing was this build's defaults for the spline.
    static rrlyrae_model from_json_v1(const json& j, const std::string& where, bool verify) {
        if (j.contains("feature_names")) check_feature_names(j.at("feature_names"), where, "feature_names");
        rrl_model_options o;
        o.heteroscedastic = false;  // version 1 had no heteroscedastic head
        o.architecture = rrl_architecture_from_string(j.at("architecture").template get<std::string>());
        o.gru_sizes = j.at("gru_sizes").template get<std::vector<std::size_t>>();
        o.dropout = j.at("dropout").template get<std::vector<double>>();
        o.head_width = j.at("head_width").template get<std::size_t>();
        o.ridge = j.at("ridge").template get<double>();
        o.types.clear();
        for (const auto& t : j.at("types")) o.types.push_back(parse_rr_type(t.template get<std::string>()));
        const auto& pp = j.at("preprocessing");
        o.input.sequence = parse_rrl_sequence(pp.at("sequence").template get<std::string>());
        o.input.use_period = pp.at("use_period").template get<bool>();
        o.input.n_phases_rrab = pp.at("n_phases_rrab").template get<std::size_t>();
        o.input.n_phases_rrc = pp.at("n_phases_rrc").template get<std::size_t>();
        o.input.min_epochs = pp.at("min_epochs").template get<std::size_t>();
        o.input.max_raw_steps = pp.at("max_raw_steps").template get<std::size_t>();
        o.input.fourier_max_order = pp.at("fourier_max_order").template get<int>();
        rrlyrae_model m(o, j.at("seed").template get<std::uint64_t>());
        m.time_mean_ = j.at("time_scale").at("mean").template get<double>();
        m.time_scale_ = j.at("time_scale").at("scale").template get<double>();
        m.feat_ = standardiser::from_json(j.at("features"), 5.0);
        m.y_mean_ = j.at("target").at("mean").template get<double>();
        m.y_scale_ = j.at("target").at("scale").template get<double>();
        m.trained_ = j.at("trained").template get<bool>();
        const auto& p = j.at("parameters");
        if (o.architecture == rrl_architecture::fourier_linear) {
            m.coef_ = p.at("ridge_coefficients").template get<std::vector<double>>();
        } else {
            auto params = m.net_.parameters();
            for (auto& r : params) {
                if (!p.contains(r.name)) throw input_error(where, 0, "parameters." + r.name, "missing");
                const auto v = p.at(r.name).template get<std::vector<float>>();
                if (v.size() != r.size())
                    throw input_error(
                        where, 0, "parameters." + r.name,
                        "has " + std::to_string(v.size()) + " values, expected " + std::to_string(r.size()));
                std::copy(v.begin(), v.end(), r.value);
            }
            if (p.size() != params.size())
                throw input_error(where, 0, "parameters", "holds parameters this architecture does not have");
        }
        if (!m.trained_) return m;
        if (verify) {
            const auto& st = j.at("self_test");
            std::vector<rrl_star_input> stars;
            for (const auto& s : st.at("inputs")) {
                rrl_star_input x;
                x.id = "self_test";
                x.type = parse_rr_type(s.at("type").template get<std::string>());
                x.sequence = s.at("sequence").template get<std::vector<float>>();
                x.features = s.at("features").template get<std::vector<double>>();
                if (x.features.size() != rrl_feature_names().size())
                    throw input_error(where, 0, "self_test.inputs",
                                      "input " + std::to_string(stars.size()) + " has " +
                                          std::to_string(x.features.size()) + " features, the model reads " +
                                          std::to_string(rrl_feature_names().size()));
                stars.push_back(std::move(x));
            }
            m.self_test_ = {{"outputs", st.at("outputs")}, {"tolerance", 1e-4}};
            m.check_self_test_outputs(stars, where);
        }
        m.make_self_test();  // raw-input vectors of this build, so that saving writes version 2
        return m;
    }

    void check_self_test_outputs(const std::vector<rrl_star_input>& stars, const std::string& where) const {
        const auto want = self_test_.at("outputs").get<std::vector<double>>();
        const double tol = self_test_.value("tolerance", 1e-4);
        if (want.size() != stars.size())
            throw input_error(where, 0, "self_test.outputs", "needs one output per self-test input");
        std::vector<std::size_t> idx(stars.size());
        std::iota(idx.begin(), idx.end(), std::size_t{0});
        const auto got = raw_predict(stars, idx, nn::mode::inference);
        for (std::size_t i = 0; i < got.size(); ++i)
            if (!(std::abs(got[i] - want[i]) <= tol))
                throw input_error(
                    where, 0, "self_test",
                    "output " + std::to_string(i) + " is " + std::to_string(got[i]) + ", the file says " +
                        std::to_string(want[i]) +
                        " (corrupted file, or a build whose preprocessing or network computes otherwise)");
    }

    /// Self-test vectors from raw inputs: for every served type two light curves (detail::self_test_curves)
    /// with their ephemerides, and the model's outputs for them.
    void make_self_test() {
        std::vector<light_curve> lc;
        std::vector<rrl_ephemeris> eph;
        for (auto t : opt_.types) detail::self_test_curves(t, opt_.input.min_epochs, lc, eph);
        const auto stars = prepare_rrlyrae_inputs(lc, eph, opt_.input, 1, false);
        json curves = json::array();
        std::vector<rrl_star_input> used;
        for (std::size_t k = 0; k < stars.size(); ++k) {
            if (!stars[k].ok()) continue;  // options that flag even these clean curves: fewer vectors
            curves.push_back({{"type", to_string(eph[k].type)},
                              {"period", eph[k].period},
                              {"epoch", eph[k].epoch},
                              {"time", lc[k].time},
                              {"mag", lc[k].mag},
                              {"mag_err", lc[k].mag_err}});
            used.push_back(stars[k]);
        }
        std::vector<std::size_t> idx(used.size());
        std::iota(idx.begin(), idx.end(), std::size_t{0});
        self_test_ = {
            {"light_curves", curves}, {"outputs", raw_predict(used, idx, nn::mode::inference)}, {"tolerance", 1e-4}};
    }

    /// "outside_training_domain: NAME z=..." for the star's input feature farthest beyond the training set's
    /// range (more than training_domain_z standard deviations from its mean); empty inside it.
    std::string domain_warning(const rrl_star_input& s) const {
        std::size_t worst = 0;
        double worst_z = 0.0;
        for (std::size_t j = 0; j < s.features.size() && j < feat_.size(); ++j) {
            const double z = feat_.z(s.features[j], j);  // the network's scaling, before its clip
            if (!(std::abs(z) <= std::abs(worst_z))) worst = j, worst_z = z;
        }
        if (std::abs(worst_z) <= training_domain_z) return {};
        char buf[128];
        std::snprintf(buf, sizeof buf, "outside_training_domain: %s z=%+.1f", rrl_feature_names()[worst].c_str(),
                      worst_z);
        return buf;
    }

public:
    /// A prediction whose input feature lies more than this many training standard deviations from the
    /// training mean carries the warning "outside_training_domain" (the network sees it clipped to +-5).
    static constexpr double training_domain_z = 6.0;

private:
    rrl_model_options opt_;
    std::uint64_t seed_;
    net_type net_;
    bool trained_ = false;
    double time_mean_ = 0, time_scale_ = 1, y_mean_ = 0, y_scale_ = 1;
    standardiser feat_{{}, {}, 5.0};  // features clipped to +-5 z
    std::vector<double> coef_;
    rrl_sigma_calibration calibration_;
    nlohmann::json self_test_;
};

// The heavy members, defined outside the class: not inline, so `extern template` (FERRUM_EXTERN_TEMPLATES)
// keeps them out of a user's translation unit at every optimisation level.
template <class Scalar>
auto basic_rrlyrae_model<Scalar>::fit(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                      const std::vector<std::size_t>& train_idx, const rrl_training_options& t)
    -> train::training_history {
    if (y.size() != stars.size()) throw value_error("rrlyrae_model::fit: one label per star is needed");
    if (train_idx.size() < 10) throw value_error("rrlyrae_model::fit: at least 10 training stars are needed");
    for (auto i : train_idx) {
        if (i >= stars.size()) throw value_error("rrlyrae_model::fit: index out of range");
        if (!stars[i].ok())
            throw value_error("rrlyrae_model::fit: star " + stars[i].id + " is flagged (" + stars[i].flag + ")");
        if (!serves(stars[i].type))
            throw value_error("rrlyrae_model::fit: star " + stars[i].id + " is " + to_string(stars[i].type) +
                              ", which this model does not serve");
        if (!std::isfinite(y[i]))
            throw value_error("rrlyrae_model::fit: label of star " + stars[i].id + " is not finite");
    }
    fit_standardisation(stars, y, train_idx);
    std::vector<double> ytr;
    for (auto i : train_idx) ytr.push_back(y[i]);
    std::vector<double> w(stars.size(), 1.0);
    if (t.density_weighting) {
        const auto wt = density_weights(ytr);
        for (std::size_t k = 0; k < train_idx.size(); ++k) w[train_idx[k]] = wt[k];
        if (t.max_weight > 0) {
            double sum = 0;
            for (auto i : train_idx) sum += (w[i] = std::min(w[i], t.max_weight));
            for (auto i : train_idx) w[i] *= double(train_idx.size()) / sum;
        }
    }
    train::training_history hist;
    if (opt_.architecture == rrl_architecture::fourier_linear) {
        const auto loo = fit_ridge(stars, y, w, train_idx);
        calibration_ = {};
        if (t.calibrate && train_idx.size() >= 20) {
            std::vector<rrl_calibration_point> pts;
            for (std::size_t k = 0; k < train_idx.size(); ++k)
                pts.push_back({stars[train_idx[k]].type, stars[train_idx[k]].n_epochs, loo[k], 0.0, 0.0,
                               y[train_idx[k]] + loo[k]});
            calibration_ = rrl_sigma_calibration::fit(pts, 0, calibration_min_per_bin(pts.size()),
                                                      rrl_sigma_calibration::default_edges(), t.calibration_method,
                                                      t.calibration_feh_bins);
            calibration_.set_fitted_on({{"residuals", "exact leave-one-out"}, {"n", pts.size()}});
        }
    } else {
        auto [tr, va] = train::stratified_holdout(train_idx, y, t.validation_fraction, t.seed);
        net_.reset_parameters(t.seed);
        net_.set_num_threads(t.threads);
        adapter a{*this, stars, y, w, t, {}};
        nn::adam_options ao;
        ao.lr = t.learning_rate;
        nn::adam<float> optimizer(ao);
        train::trainer_options to;
        to.max_epochs = t.max_epochs;
        to.batch_size = t.batch_size;
        to.seed = t.seed;
        to.patience = t.patience;
        to.reduce_lr_factor = t.reduce_lr_factor;
        to.reduce_lr_patience = t.reduce_lr_patience;
        to.progress = t.progress;
        to.handle_sigint = false;
        to.comm = t.comm;
        hist = train::fit(a, optimizer, tr, va, to);
        trained_ = true;
        calibration_ = {};
        // the hold-out drove early stopping only: its residuals are nearly those of unseen stars
        if (t.calibrate && va.size() >= 20) {
            calibration_ = rrl_sigma_calibration::fit(
                calibration_points(stars, y, va, t.calibration_mc_samples, t.seed + 7, t.threads),
                t.calibration_mc_samples, calibration_min_per_bin(va.size()), rrl_sigma_calibration::default_edges(),
                t.calibration_method, t.calibration_feh_bins);
            calibration_.set_fitted_on({{"residuals", "early-stopping hold-out"}, {"n", va.size()}});
        }
    }
    trained_ = true;
    if (t.label_error_scale > 0 && !calibration_.empty())
        for (auto type : opt_.types) calibration_.set_label_scale(type, t.label_error_scale);
    make_self_test();
    return hist;
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::calibration_points(const std::vector<rrl_star_input>& stars,
                                                     const std::vector<double>& y, const std::vector<std::size_t>& idx,
                                                     std::size_t mc_samples, std::uint64_t seed, unsigned threads) const
    -> std::vector<rrl_calibration_point> {
    std::vector<rrl_star_input> sel;
    sel.reserve(idx.size());
    for (auto i : idx) sel.push_back(stars[i]);
    const auto p = predict_raw(sel, mc_samples, seed, threads);
    const auto c = classical_feh(sel);  // each star's own fit error: the label-error term's sigma_label
    std::vector<rrl_calibration_point> pts;
    for (std::size_t k = 0; k < idx.size(); ++k)
        if (p[k].ok())
            pts.push_back({sel[k].type, sel[k].n_epochs, p[k].feh - y[idx[k]], p[k].sigma,
                           c[k].ok() && std::isfinite(c[k].sigma) ? c[k].sigma : 0.0, p[k].feh});
    return pts;
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::predict(const std::vector<rrl_star_input>& stars, std::size_t mc_samples,
                                          std::uint64_t seed, unsigned threads) const -> std::vector<rrl_prediction> {
    auto out = predict_raw(stars, mc_samples, seed, threads);
    if (calibration_.empty()) return out;
    // the label-error term needs each star's own fit error: the classical pipeline's sigma (none
    // without a period: no term for that star)
    std::vector<double> sigma_label(stars.size(), 0.0);
    if (calibration_.has_label_term()) {
        const auto c = classical_feh(stars);
        for (std::size_t i = 0; i < stars.size(); ++i)
            if (c[i].ok() && std::isfinite(c[i].sigma)) sigma_label[i] = c[i].sigma;
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i].ok())
            out[i].sigma =
                calibration_.apply(stars[i].type, stars[i].n_epochs, out[i].sigma, sigma_label[i], out[i].feh);
    return out;
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::predict_raw(const std::vector<rrl_star_input>& stars, std::size_t mc_samples,
                                              std::uint64_t seed, unsigned threads) const
    -> std::vector<rrl_prediction> {
    if (!trained_) throw value_error("rrlyrae_model::predict: the model is not trained");
    std::vector<rrl_prediction> out(stars.size());
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < stars.size(); ++i) {
        const auto& s = stars[i];
        if (!s.ok()) out[i].flag = s.flag;
        else if (!serves(s.type)) out[i].flag = std::string("type_not_in_model: ") + to_string(s.type);
        else idx.push_back(i);
    }
    const std::size_t chunk = 4096;
    for (std::size_t lo = 0; lo < idx.size(); lo += chunk) {
        std::vector<std::size_t> b(idx.begin() + std::ptrdiff_t(lo),
                                   idx.begin() + std::ptrdiff_t(std::min(idx.size(), lo + chunk)));
        std::vector<double> aleatoric;
        const auto mean = raw_predict(stars, b, nn::mode::inference, 0, threads, &aleatoric);
        std::vector<double> s1(b.size(), 0.0), s2(b.size(), 0.0);
        if (mc_samples >= 2 && has_dropout()) {
            // each star's masks keyed by its id (its position without one), not by its place in the chunk
            std::vector<std::uint64_t> keys(b.size());
            for (std::size_t j = 0; j < b.size(); ++j)
                keys[j] = stars[b[j]].id.empty() ? std::uint64_t(b[j]) : id_key(stars[b[j]].id);
            for (std::size_t k = 0; k < mc_samples; ++k) {
                // pass k: its own masks, a pure function of (seed, k) and each star's key
                const std::uint64_t draw = seed * 1000003ULL + k + 1;
                const auto p = raw_predict(stars, b, nn::mode::mc_dropout, draw, threads, nullptr, keys);
                for (std::size_t j = 0; j < b.size(); ++j) {
                    s1[j] += p[j];
                    s2[j] += p[j] * p[j];
                }
            }
        }
        for (std::size_t j = 0; j < b.size(); ++j) {
            auto& o = out[b[j]];
            o.feh = mean[j];
            o.warning = domain_warning(stars[b[j]]);
            double mc = 0.0;
            if (mc_samples >= 2 && has_dropout()) {
                const double m = s1[j] / double(mc_samples);
                mc = std::sqrt(std::max(0.0, (s2[j] - double(mc_samples) * m * m) / double(mc_samples - 1)));
            }
            o.sigma = aleatoric.empty() ? mc : std::hypot(aleatoric[j], mc);
        }
    }
    return out;
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::to_json() const -> nlohmann::json {
    nlohmann::json options = opt_;
    options.erase("input");  // recorded with the rest of the preprocessing
    nlohmann::json j{{"format", "ferrum.model"},
                     {"version", 2},
                     {"kind", "rrlyrae"},
                     {"options", options},
                     {"preprocessing", preprocessing_json()},
                     {"seed", seed_},
                     {"trained", trained_}};
    if (opt_.architecture == rrl_architecture::fourier_linear) j["ridge_coefficients"] = coef_;
    else j["network"] = nn::model_to_json(net_);
    if (!calibration_.empty()) j["calibration"] = calibration_.to_json();
    j["self_test"] = self_test_;
    return j;
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::from_json(const nlohmann::json& j, const std::string& where, bool verify)
    -> rrlyrae_model {
    try {
        // "ferrum.model" (kind "rrlyrae") is the envelope every ferrum model file shares; earlier builds
        // wrote "ferrum-rrlyrae-model" (version 1)
        const std::string format = j.is_object() ? j.value("format", "") : "";
        if (format != "ferrum.model" && format != "ferrum-rrlyrae-model")
            throw input_error(where, 0, "format", "not a ferrum RR Lyrae model file");
        if (format == "ferrum.model" && j.value("kind", "") != "rrlyrae")
            throw input_error(where, 0, "kind",
                              "is " + (j.contains("kind") ? j.at("kind").dump() : std::string("missing")) +
                                  ": not an RR Lyrae model (kind \"rrlyrae\")");
        const auto version = j.value("version", 0);
        if (version == 1 && format == "ferrum-rrlyrae-model") return from_json_v1(j, where, verify);
        if (version != 2)
            throw input_error(where, 0, "version",
                              "unsupported version " + j.at("version").dump() + " (this build reads 1 and 2)");
        static const char* const known[] = {"format",        "version",     "kind",     "options",
                                            "preprocessing", "seed",        "trained",  "ridge_coefficients",
                                            "network",       "calibration", "self_test"};
        for (auto it = j.begin(); it != j.end(); ++it)
            if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return it.key() == k; }) ==
                std::end(known))
                throw input_error(where, 0, it.key(), "unknown field (an RR Lyrae model file has none such)");
        return from_json_v2(j, where, verify);
    } catch (const nlohmann::json::exception& e) {
        throw input_error(where, 0, "", std::string("malformed model file: ") + e.what());
    } catch (const option_error& e) {
        throw input_error(where, 0, e.field(), e.message());
    } catch (const value_error& e) {
        throw input_error(where, 0, "", e.what());
    }
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::verify_self_test(const std::string& where) const -> void {
    if (self_test_.is_null() || self_test_.empty()) return;
    const auto curves = self_test_.at("light_curves");
    std::vector<light_curve> lc;
    std::vector<rrl_ephemeris> eph;
    for (std::size_t k = 0; k < curves.size(); ++k) {
        const auto& c = curves[k];
        light_curve l;
        l.source_id = static_cast<std::int64_t>(k);
        l.time = c.at("time").get<std::vector<double>>();
        l.mag = c.at("mag").get<std::vector<double>>();
        l.mag_err = c.at("mag_err").get<std::vector<double>>();
        lc.push_back(std::move(l));
        rrl_ephemeris e;
        e.type = parse_rr_type(c.at("type").get<std::string>());
        e.period = c.at("period").get<double>();
        e.epoch = c.at("epoch").get<double>();
        eph.push_back(e);
    }
    const auto stars = prepare_rrlyrae_inputs(lc, eph, opt_.input, 1, false);
    for (std::size_t k = 0; k < stars.size(); ++k)
        if (!stars[k].ok())
            throw input_error(where, 0, "self_test.light_curves[" + std::to_string(k) + "]",
                              "is flagged by this build's preprocessing (" + stars[k].flag + ")");
    check_self_test_outputs(stars, where);
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::build() -> void {
    if (opt_.architecture == rrl_architecture::fourier_linear) return;
    const std::size_t F = rrl_feature_names().size();
    // inputs first, in the order a model file lists them: node numbers (which seed the dropout masks)
    // are then those of the network read back from the file, and MC-dropout sigmas match exactly
    auto x = net_.input("sequence", 2, true);
    std::optional<decltype(x)> f;
    if (rrl_uses_fourier_head(opt_.architecture)) f = net_.input("features", F, false);
    const bool lstm = opt_.architecture == rrl_architecture::lstm || opt_.architecture == rrl_architecture::bilstm;
    std::optional<nn::merge_mode> bi;
    if (opt_.architecture == rrl_architecture::bigru || opt_.architecture == rrl_architecture::bilstm)
        bi = nn::merge_mode::concat;
    std::size_t in = 2;
    if (opt_.architecture == rrl_architecture::transformer) {
        // a small encoder for 264-step curves: d_model 32, 4 heads, feed-forward 64, pre-norm
        // (stabler to train from scratch), dropout[0] inside the block and after the pooling
        constexpr std::size_t d = 32;
        x = net_.add("embed", nn::dense<float>(2, d), x);
        x = net_.add("positions", nn::sinusoidal_positional_encoding<float>(d), x);
        x = net_.add(
            "encoder0",
            nn::transformer_encoder_layer<float>(d, 4, 2 * d, opt_.dropout[0], nn::transformer_activation::gelu, true),
            x);
        x = net_.add("pool", nn::attention_pooling<float>(d, nn::attention_score::additive, d), x);
        x = net_.add("dropout0", nn::dropout<float>(opt_.dropout[0]), x);
        in = d;
    }
    const bool fcn = opt_.architecture == rrl_architecture::fcn;
    if (fcn) {  // Wang, Yan & Oates (2017): conv blocks 128-256-128, kernels 8-5-3, global average pooling
        // (batch statistics per chunk of 64 stars, see nn/batch_norm.hpp), then dropout[0] as the transformer
        const std::size_t width[] = {128, 256, 128}, kernel[] = {8, 5, 3};
        for (std::size_t k = 0; k < 3; ++k) {
            const std::string n = std::to_string(k);
            x = net_.add("conv" + n, nn::conv1d<float>(in, width[k], kernel[k], nn::conv_padding::same), x);
            x = net_.add("bn" + n, nn::batch_norm<float>(width[k]), x);
            x = net_.add("relu" + n, nn::activation_layer<float>(nn::activation::relu), x);
            in = width[k];
        }
        x = net_.add("pool", nn::global_average_pooling<float>(), x);
        x = net_.add("dropout0", nn::dropout<float>(opt_.dropout[0]), x);  // for MC-dropout sigmas
    }
    using rnn_backend = typename net_type::backend_type;
    if (opt_.architecture == rrl_architecture::resnet) x = build_resnet(x, in);
    if (opt_.architecture == rrl_architecture::inception_time) x = build_inception_time(x, in);
    const bool recurrent = opt_.architecture != rrl_architecture::transformer && !fcn &&
                           opt_.architecture != rrl_architecture::resnet &&
                           opt_.architecture != rrl_architecture::inception_time;
    for (std::size_t k = 0; k < opt_.gru_sizes.size() && recurrent; ++k) {
        const bool last = k + 1 == opt_.gru_sizes.size();
        const std::size_t H = opt_.gru_sizes[k];
        if (lstm)
            x = net_.add("lstm" + std::to_string(k), nn::lstm<float, rnn_backend>(in, H, !last, 0, bi), x);
        else x = net_.add("gru" + std::to_string(k), nn::gru<float, rnn_backend>(in, H, !last, 0, bi), x);
        x = net_.add("dropout" + std::to_string(k), nn::dropout<float>(opt_.dropout[k]), x);
        in = bi ? 2 * H : H;
    }
    if (rrl_uses_fourier_head(opt_.architecture)) {
        auto c = net_.concat("joint", {x, *f});
        auto h = net_.add("head", nn::dense<float>(in + F, opt_.head_width, nn::activation::relu), c);
        net_.add("out", nn::dense<float>(opt_.head_width, outputs()), h);
    } else {
        net_.add("out", nn::dense<float>(in, outputs()), x);
    }
    net_.reset_parameters(seed_);
}

// The convolutional trunks read a (batch, 264, 2) sequence with each star's own length: every conv's taps,
// the max pool's windows and the global average pooling stay within the star's valid steps (the padding
// is read as zeros, as a star cut at its length would be), so padded steps never change a prediction;
// the batch statistics of the batch norms pool the valid steps of a chunk of 64 stars (nn/batch_norm.hpp).

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::build_resnet(std::size_t x, std::size_t& in) -> std::size_t {
    // Wang, Yan & Oates (2017), as Ismail Fawaz et al. (2019)'s code builds it: per block three conv -> batch
    // norm (-> relu but the last), a shortcut of 1x1 conv -> batch norm (batch norm alone where the channels
    // stay), their sum -> relu
    const std::size_t width[] = {64, 128, 128}, kernel[] = {8, 5, 3};
    const auto relu = nn::activation_layer<float>(nn::activation::relu);
    for (std::size_t b = 0; b < 3; ++b) {
        const std::string n = "block" + std::to_string(b) + "_";
        std::size_t h = x, c = in;
        for (std::size_t k = 0; k < 3; ++k) {
            const std::string m = std::to_string(k);
            h = net_.add(n + "conv" + m, nn::conv1d<float>(c, width[b], kernel[k], nn::conv_padding::same), h);
            h = net_.add(n + "bn" + m, nn::batch_norm<float>(width[b]), h);
            if (k < 2) h = net_.add(n + "relu" + m, relu, h);
            c = width[b];
        }
        std::size_t s = x;
        if (in != width[b]) s = net_.add(n + "shortcut_conv", nn::conv1d<float>(in, width[b], 1), s);
        s = net_.add(n + "shortcut_bn", nn::batch_norm<float>(width[b]), s);
        x = net_.add(n + "relu", relu, net_.sum(n + "add", {h, s}));
        in = width[b];
    }
    x = net_.add("pool", nn::global_average_pooling<float>(), x);
    return net_.add("dropout0", nn::dropout<float>(opt_.dropout[0]), x);  // for MC-dropout sigmas
}

template <class Scalar>
auto basic_rrlyrae_model<Scalar>::build_inception_time(std::size_t x, std::size_t& in) -> std::size_t {
    // Ismail Fawaz et al. (2020), one network of the ensemble: depth 6, 32 filters, bottleneck 32, kernels
    // 39-19-9 (the paper's 40-20-10 made odd, as its PyTorch ports do, so "same" pads both sides alike);
    // convolutions without bias (batch norm follows), a residual every 3 modules
    constexpr std::size_t depth = 6, filters = 32, bottleneck = 32;
    const std::size_t kernel[] = {39, 19, 9};
    const auto relu = nn::activation_layer<float>(nn::activation::relu);
    const auto same = nn::conv_padding::same, valid = nn::conv_padding::valid;
    std::size_t res = x, res_in = in;
    for (std::size_t d = 0; d < depth; ++d) {
        const std::string n = "inception" + std::to_string(d) + "_";
        std::size_t b = x, c = in;
        if (in > 1) {  // the bottleneck (skipped on a one-channel input, as the paper's code does)
            b = net_.add(n + "bottleneck", nn::conv1d<float>(in, bottleneck, 1, valid, 1, 1, false), x);
            c = bottleneck;
        }
        std::vector<std::size_t> branches;
        for (std::size_t k = 0; k < 3; ++k)
            branches.push_back(net_.add(n + "conv" + std::to_string(kernel[k]),
                                        nn::conv1d<float>(c, filters, kernel[k], same, 1, 1, false), b));
        const auto p = net_.add(n + "maxpool", nn::max_pool1d<float>(3, 1, 1), x);
        branches.push_back(net_.add(n + "pool_conv", nn::conv1d<float>(in, filters, 1, valid, 1, 1, false), p));
        x = net_.concat(n + "concat", branches);
        x = net_.add(n + "bn", nn::batch_norm<float>(4 * filters), x);
        x = net_.add(n + "relu", relu, x);
        in = 4 * filters;
        if (d % 3 == 2) {  // the residual: shortcut 1x1 conv -> batch norm from the last residual's output
            const std::string r = "residual" + std::to_string(d / 3) + "_";
            auto s = net_.add(r + "conv", nn::conv1d<float>(res_in, in, 1, valid, 1, 1, false), res);
            s = net_.add(r + "bn", nn::batch_norm<float>(in), s);
            x = net_.add(r + "relu", relu, net_.sum(r + "add", {s, x}));
            res = x;
            res_in = in;
        }
    }
    x = net_.add("pool", nn::global_average_pooling<float>(), x);
    return net_.add("dropout0", nn::dropout<float>(opt_.dropout[0]), x);  // for MC-dropout sigmas
}

/// The RR Lyrae [Fe/H] model (see basic_rrlyrae_model).
using rrlyrae_model = basic_rrlyrae_model<>;

#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE class basic_rrlyrae_model<float>;
#endif

}  // namespace ferrum::models
