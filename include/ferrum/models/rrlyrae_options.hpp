// The settings of the RR Lyrae [Fe/H] models: which network (Monti et al. 2025, Sect. 3-4: GRU 20-16-8,
// dropout 0.2/0.2/0.1; or the GRU + Fourier-feature and ridge variants) and how it is trained (Adam lr 0.01,
// batch 256, density weights eq. 3, L1/L2 on the kernels, early stopping). Each options struct is declared
// once (FERRUM_OPTIONS): model files and config files read and write them through that declaration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ferrum/core/communicator.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/models/rrlyrae_inputs.hpp"

namespace ferrum {
// rr_type's JSON form (model files, configs): its Gaia name, read strictly (an unknown type is an error,
// never a silent RRab). It belongs beside rr_type in lightcurve/rrlyrae_catalogue.hpp.
FERRUM_ENUM_JSON(rr_type, parse_rr_type)
}  // namespace ferrum

namespace ferrum::models {

/// \brief The model families.
enum class rrl_architecture {
    paper_gru,       ///< Monti et al. (2025): GRU 20 -> 16 -> 8 (dropout 0.2, 0.2, 0.1) -> dense(1)
    gru_fourier,     ///< the same GRU trunk, its summary joined with the Fourier features -> dense(32, relu) -> 1
    fourier_linear,  ///< weighted ridge regression on the Fourier features alone (no sequence)
    bigru,           ///< gru_fourier with bidirectional GRU layers (concat: each layer is 2 x its size wide)
    lstm,            ///< gru_fourier with LSTM layers in place of the GRU layers
    bilstm,          ///< gru_fourier with bidirectional LSTM layers (concat); rrl_bilstm_model_options() gives
                     ///< Dékány & Grebel (2022)'s trunk: BiLSTM 16 -> dropout 0.1 -> BiLSTM 16 -> dropout 0.1
    transformer,     ///< dense 2->32, sinusoids -> encoder block (4 heads) -> attention pooling, + the Fourier head
    fcn,             ///< Wang, Yan & Oates (2017)'s FCN: 3 x (conv1d same -> batch norm -> relu), 128-256-128
                     ///< channels, kernels 8-5-3, global average pooling, dropout[0], + the Fourier head
    resnet,          ///< Wang, Yan & Oates (2017)'s ResNet: 3 residual blocks of 3 x (conv1d same -> batch norm
                     ///< -> relu; no relu before the sum) with 64-128-128 channels, kernels 8-5-3, shortcut
                     ///< 1x1 conv -> batch norm (batch norm alone where the channels stay), sum -> relu; global
                     ///< average pooling, dropout[0], + the Fourier head
    inception_time   ///< Ismail Fawaz et al. (2020)'s InceptionTime network: 6 inception modules (bottleneck 1x1
                     ///< conv to 32, convs 32 x kernels 39-19-9 and max pool 3 -> 1x1 conv 32, concat, batch norm,
                     ///< relu), a residual (1x1 conv -> batch norm) every 3 modules, global average pooling,
                     ///< dropout[0], + the Fourier head
};

inline const char* to_string(rrl_architecture a) noexcept {
    switch (a) {
        case rrl_architecture::paper_gru: return "paper_gru";
        case rrl_architecture::gru_fourier: return "gru_fourier";
        case rrl_architecture::bigru: return "bigru";
        case rrl_architecture::lstm: return "lstm";
        case rrl_architecture::bilstm: return "bilstm";
        case rrl_architecture::transformer: return "transformer";
        case rrl_architecture::fcn: return "fcn";
        case rrl_architecture::resnet: return "resnet";
        case rrl_architecture::inception_time: return "inception_time";
        default: return "fourier_linear";
    }
}
inline rrl_architecture rrl_architecture_from_string(const std::string& s) {
    for (auto a : {rrl_architecture::paper_gru, rrl_architecture::gru_fourier, rrl_architecture::fourier_linear,
                   rrl_architecture::bigru, rrl_architecture::lstm, rrl_architecture::bilstm,
                   rrl_architecture::transformer, rrl_architecture::fcn, rrl_architecture::resnet,
                   rrl_architecture::inception_time})
        if (s == to_string(a)) return a;
    throw value_error("unknown architecture '" + s +
                      "' (expected paper_gru, gru_fourier, fourier_linear, bigru, lstm, bilstm, transformer, fcn, "
                      "resnet or inception_time)");
}
/// True for the architectures whose recurrent summary is joined with the Fourier features (gru_fourier's head).
constexpr bool rrl_uses_fourier_head(rrl_architecture a) noexcept {
    return a != rrl_architecture::paper_gru && a != rrl_architecture::fourier_linear;
}
FERRUM_ENUM_JSON(rrl_architecture, rrl_architecture_from_string)

/// \brief Shape of a model. The defaults are the best model measured on simulator families it did not see
/// (docs/rrlyrae.md): the paper's GRU trunk with the Fourier features and a heteroscedastic head, on the
/// paper's inputs, for RRab. rrl_paper_model_options() is the paper's network.
struct rrl_model_options {
    rrl_architecture architecture = rrl_architecture::gru_fourier;
    std::vector<std::size_t> gru_sizes{20, 16, 8};  ///< widths of the recurrent layers (GRU or LSTM, per direction)
    std::vector<double> dropout{0.2, 0.2, 0.1};     ///< after each recurrent layer
    std::size_t head_width = 32;                    ///< gru_fourier: hidden width of the joint head
    double ridge = 1e-3;                            ///< fourier_linear: L2 penalty on standardised coefficients
    std::vector<rr_type> types{rr_type::rrab};      ///< types the model predicts ({rrab, rrc}: the unified model)
    /// The network predicts a mean and a log-variance (trained with the Gaussian negative log-likelihood,
    /// weighted as the MSE would be): its aleatoric sigma, one part of the predicted sigma (not in the paper).
    bool heteroscedastic = true;
    rrl_input_options input;

    /// Bounds on the network's sizes (from_json calls it).
    void validate() const {
        for (const auto n : gru_sizes) option_range("gru_sizes", n, 1, 4096);
        option_range("head_width", head_width, 1, 4096);
    }
};
FERRUM_OPTIONS(rrl_model_options, architecture, gru_sizes, dropout, head_width, ridge, types, heteroscedastic, input)

/// \brief How a model is trained: the defaults train the default model (Adam lr 0.005 with reduce-on-plateau,
/// no density weights); rrl_paper_training_options() is Monti et al. (2025)'s recipe.
struct rrl_training_options {
    double learning_rate = 0.005;
    std::size_t batch_size = 256;
    int max_epochs = 100;
    int patience = 10;                         ///< early stopping on the validation loss, best weights restored
    double kernel_l1 = 0.0, kernel_l2 = 1e-5;  ///< Keras-style penalties on input and recurrent kernels
    /// eq. 3 of the paper: w proportional to 1/rho([Fe/H]). Off by default: it trades accuracy where the
    /// stars are for the tails, and weights the likelihood the sigma calibration assumes.
    bool density_weighting = false;
    /// > 0: density weights capped at this multiple of their mean, then renormalised (not in the paper:
    /// with catalogue-style labels the KDE tail gives single stars weights of 100-260, which then dominate
    /// every batch they are in and the validation loss).
    double max_weight = 0.0;
    double validation_fraction = 0.1;  ///< share of the training stars held out for early stopping
    double reduce_lr_factor = 0.5;     ///< < 1: reduce-on-plateau (not in the paper; 1 turns it off)
    int reduce_lr_patience = 2;
    double clip_norm = 0.0;  ///< > 0: gradient-norm clipping (not in the paper)
    /// Fit the sigma calibration (models/rrlyrae_calibration.hpp) on the early-stopping hold-out (the ridge
    /// model: on its exact leave-one-out residuals) with this many MC-dropout passes per star.
    bool calibrate = true;
    std::size_t calibration_mc_samples = 20;  ///< predict's default: the sigma it states is the one calibrated
    /// How each bin's scale and floor are fitted (rrl_calibration_method: likelihood or quantile).
    rrl_calibration_method calibration_method = rrl_calibration_method::likelihood;
    /// > 0: the calibration's prediction-dependent factor on this many ranges of the predicted [Fe/H] per type
    /// (rrl_sigma_calibration::fit's feh_bins; 0 or 2 to 20).
    std::size_t calibration_feh_bins = 0;
    /// Calibrate on families the model did not train on (rrlyrae_transfer.hpp, rrl_cross_family_calibration):
    /// with k training families, k inner models each trained on k - 1 of them predict the k-th; the pooled
    /// residuals fit the calibration the final model (trained on all k) keeps. Needs each star's family
    /// (leave_one_family_out; ferrum-rrl train with a labels `family` column); fit() alone ignores it.
    bool cross_family_calibration = false;
    int cross_family_max_epochs = 0;  ///< > 0: the inner models' training epochs (cheaper); 0: max_epochs
    /// > 0: the calibration's label-error term with this factor (rrl_sigma_calibration; for models trained
    /// on curve-derived, catalogue-style labels: 1 assumes the model learns the label's whole fit error).
    double label_error_scale = 0.0;
    std::uint64_t seed = 1;
    unsigned threads = 0;  ///< 0: the hardware's cores (results do not depend on it)
    bool progress = progress_enabled_by_default();
    /// The ranks that train each network together (data parallelism; set in code, not in a config file):
    /// every rank calls fit with the same stars and options and ends with the same model.
    communicator comm;

    /// Bounds on counts and rates (from_json calls it: a config file's field is named with the file).
    void validate() const {
        option_range("learning_rate", learning_rate, 0, 1e3);
        option_range("batch_size", batch_size, 1, 1 << 20);
        option_range("max_epochs", max_epochs, 0, 1e6);
        option_range("patience", patience, 0, 1e6);
        option_range("reduce_lr_patience", reduce_lr_patience, 0, 1e6);
        option_range("validation_fraction", validation_fraction, 0, 0.5);
        option_range("threads", threads, 0, 1024);
        option_range("calibration_mc_samples", calibration_mc_samples, 0, 100000);
        option_range("cross_family_max_epochs", cross_family_max_epochs, 0, 1e6);
        option_range("label_error_scale", label_error_scale, 0, 100);
        if (calibration_feh_bins == 1)
            throw option_error("calibration_feh_bins", "must be 0 (no prediction-dependent factor) or 2 to 20, got 1");
        option_range("calibration_feh_bins", calibration_feh_bins, 0, 20);
    }
};
FERRUM_OPTIONS(rrl_training_options, learning_rate, batch_size, max_epochs, patience, kernel_l1, kernel_l2,
               density_weighting, max_weight, validation_fraction, reduce_lr_factor, reduce_lr_patience, clip_norm,
               calibrate, calibration_mc_samples, calibration_method, calibration_feh_bins, cross_family_calibration, cross_family_max_epochs, label_error_scale,
               seed, threads, progress)

/// \brief Monti et al. (2025)'s network, faithful: GRU 20 -> 16 -> 8 with dropout 0.2, 0.2, 0.1 after each
/// layer, dense(8 -> 1), one output (no sigma of its own: its sigma is the MC-dropout spread, calibrated).
inline rrl_model_options rrl_paper_model_options() {
    rrl_model_options o;
    o.architecture = rrl_architecture::paper_gru;
    o.heteroscedastic = false;
    return o;
}

/// \brief Dékány & Grebel (2022)'s Gaia G network trunk (idekany/rrl_feh_nn, results_g: BiLSTM 16 (concat,
/// sequences) -> dropout 0.1 -> BiLSTM 16 (concat, last state) -> dropout 0.1), with gru_fourier's head
/// (Fourier features, dense(32, relu), heteroscedastic output) in place of their dense(1).
inline rrl_model_options rrl_bilstm_model_options() {
    rrl_model_options o;
    o.architecture = rrl_architecture::bilstm;
    o.gru_sizes = {16, 16};
    o.dropout = {0.1, 0.1};
    return o;
}

/// \brief Monti et al. (2025)'s training: Adam lr 0.01, batch 256, density weights eq. 3, weighted MSE with
/// L2 on the kernels, early stopping (patience 20) with the best weights restored, no learning-rate schedule.
inline rrl_training_options rrl_paper_training_options() {
    rrl_training_options t;
    t.learning_rate = 0.01;
    t.patience = 20;
    t.density_weighting = true;
    t.reduce_lr_factor = 1.0;
    t.reduce_lr_patience = 8;
    return t;
}

}  // namespace ferrum::models
