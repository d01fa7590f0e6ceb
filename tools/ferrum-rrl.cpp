// ferrum-rrl: RR Lyrae photometric metallicities from Gaia-like light curves (Monti et al. 2025) --
// simulate training sets, train (with repeated stratified K-fold CV), tune (Hyperband), predict, evaluate
// with plots.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <ferrum/core/communicator.hpp>
#include <ferrum/core/csv.hpp>
#include <ferrum/core/ecsv.hpp>
#include <ferrum/core/external_sort.hpp>
#include <ferrum/core/input_files.hpp>
#include <ferrum/core/shards.hpp>
#include <ferrum/lightcurve/epoch_files.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/lightcurve/periodogram.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>
#include <ferrum/lightcurve/tables.hpp>
#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

#include "cli/inputs.hpp"
#include "cli/options.hpp"
#include "cli/ranks.hpp"
#include "cli/run_tool.hpp"

namespace {

using namespace ferrum;
using namespace ferrum::models;
using json = nlohmann::json;

using args = cli::parsed;

// What every command that reads light curves takes (INPUT in the usage text).
std::vector<cli::option> with_inputs(std::vector<cli::option> own) {
    const std::vector<cli::option> inputs{
        cli::path("epoch-photometry",
                  "Gaia epoch photometry, any archive layout: long (DR2, DataLink INDIVIDUAL/COMBINED) or DR3 "
                  "bulk (DataLink RAW), CSV or ECSV, plain or .gz (with --catalogue); several files: a "
                  "comma-separated list, the option repeated, or a quoted glob ('EpochPhotometry_*.csv.gz'), read "
                  "in parallel (up to --threads) as their concatenation")
            .repeated(),
        cli::path("catalogue",
                  "the vari_rrlyrae CSV/ECSV, plain or .gz: best_classification, pf, p1_o, epoch_g; several files "
                  "as for --epoch-photometry")
            .repeated(),
        cli::path("folded", "an id,phase,mag table of folded curves (no periods: train with --no-period)"),
        cli::text("type",
                  "RRab or RRc: the type of --folded curves, or of --stars without a type column; without --stars, "
                  "also auto (RRc below 0.4 d)",
                  "RRab"),
        cli::path("light-curves", "an id,time,mag[,mag_err] table (with --stars)"),
        cli::path("stars", "a star table id,period,<epoch column>[,type] (without it: a period search per curve)"),
        cli::text("epoch-column", "the --stars column of the epoch of maximum", "t0_mjd"),
        cli::text("period-column", "the --stars column of the period (days)", "period"),
        cli::flag("no-period", "train on phase alone (curves without periods)")};
    own.insert(own.end(), inputs.begin(), inputs.end());
    return own;
}

std::vector<cli::option> label_options() {
    return {cli::path("labels", "labels CSV: source_id (or id) and the label column").required(),
            cli::text("label-column", "the [Fe/H] column of --labels", "feh"),
            cli::text("error-column", "its error column (optional)", "feh_error")};
}

/// The sigma calibration's options (train and transfer; docs/rrlyrae.md "Uncertainties that mean what they say").
/// --calibration-feh-bins (train, transfer, calibrate).
cli::option feh_bins_option() {
    return cli::count("calibration-feh-bins",
                      "K > 0: a sigma factor per range of the predicted [Fe/H] (K ranges per type at the quantiles "
                      "of the predictions calibrated on, each with enough stars; 0 or 2 to 20; docs/rrlyrae.md, "
                      "\"Uncertainties that mean what they say\")")
        .range(0, 20);
}

/// The value of --calibration-feh-bins; a usage error naming the option for 1.
std::size_t feh_bins_of(const args& a) {
    const std::size_t k = a.count("calibration-feh-bins");
    if (k == 1)
        throw cli::usage_error("--calibration-feh-bins 1: one range is no prediction dependence; give 0 (none) or "
                               "2 to 20");
    return k;
}

std::vector<cli::option> calibration_options() {
    return {cli::flag("cross-family",
                      "calibrate the sigma on families the model did not train on: an inner leave-one-family-out "
                      "over the training families (train: the labels' `family` column), k extra trainings"),
            cli::count("cross-family-epochs", "training epochs of those inner models (default: --max-epochs)")
                .range(1, 1e6),
            cli::number("label-error-scale",
                        "add the label-error term: this factor times each star's own Fourier-fit error (the "
                        "classical sigma) in quadrature, for models trained on catalogue-style labels (1: the "
                        "model learns the label's whole fit error)")
                .range(0, 100),
            cli::choice("calibration-method",
                        "how each bin's sigma scale and floor are fitted: likelihood (Gaussian maximum likelihood) "
                        "or coverage (68.27 % of the stars within 1 sigma and 95.45 % within 2, or the "
                        "compromise in units of the goal's tolerances, 0.03 and 0.02)",
                        {"likelihood", "coverage"}),
            feh_bins_option()};
}

template <class... Lists>
std::vector<cli::option> join(std::vector<cli::option> a, const Lists&... more) {
    (a.insert(a.end(), more.begin(), more.end()), ...);
    return a;
}

/// The --family words of simulate: the library's families, then those that read a star table.
std::vector<std::string> simulate_family_names() {
    auto names = sim::family_names();
    for (const auto& n : sim::data_family_names()) names.push_back(n);
    return names;
}

const cli::program& program() {
    static const rrl_tune_options tune_defaults{};
    static const cli::program p{
        "ferrum-rrl",
        "ferrum-rrl: RR Lyrae [Fe/H] from Gaia G light curves (Monti et al. 2025 and better models)",
        {{"simulate",
          "Gaia DR3-like stars: DIR/epoch_photometry.csv, DIR/vari_rrlyrae.csv (with --format dr3-bulk:\n"
          "DIR/epoch_photometry.csv.gz, DIR/vari_rrlyrae.csv.gz), DIR/labels.csv.",
          {cli::count("n-rrab", "RRab stars").required(), cli::count("n-rrc", "RRc stars").required(),
           cli::count("seed", "random seed", "0"),
           cli::path("out", "output directory").output_dir().shown_as("DIR").required(),
           cli::count("min-epochs", "fewest G epochs of a simulated star",
                      cli::default_of(sim::simulation_options{}.min_epochs)),
           cli::choice("family",
                       "simulator conventions, ferrum = the defaults (docs/simulator.md); field: RRab resampled "
                       "from real Galactic field stars (needs --params)",
                       simulate_family_names(), "ferrum"),
           cli::path("params",
                     "--family field: the table of real RRab (Gaia DR3 pf, phi21_g, phi31_g, A1-A3 with errors, "
                     "spectroscopic FeH, FeH_err), e.g. ../shared/data/liu2020_lamost_gaiadr3_rrl/"
                     "rrl_params_lamost.csv"),
           cli::choice("field-half",
                       "--family field: the rows drawn, by a stable hash of source_id (a, b) or all; the "
                       "LAMOST relation was fitted on all of them (docs/rrlyrae.md)",
                       {"a", "b", "all"}, "a"),
           cli::number("field-jitter", "--family field: each parameter jittered by this many of its errors",
                       cli::default_of(sim::simulation_options{}.field_jitter))
               .range(0, 5),
           cli::number("intrinsic-scatter",
                       "spread (dex) of feh_true at fixed light-curve shape (overrides the "
                       "family's)"),
           cli::choice("truth",
                       "relation of feh_true: muraveva2025 (photometric scale) or lamost (spectroscopic, "
                       "RRab; relations/spectroscopic.hpp)",
                       {"muraveva2025", "lamost"}, "muraveva2025"),
           cli::count("first-source-id", "source_id of the first star (sets to be concatenated need distinct ranges)",
                      cli::default_of(sim::simulation_options{}.first_source_id))
               .range(1, 9.2e18),
           cli::choice("format",
                       "long: epoch_photometry.csv (DR2 / DataLink long layout) and vari_rrlyrae.csv; dr3-bulk: "
                       "epoch_photometry.csv.gz (Gaia DR3 bulk layout, ECSV with array cells, gzip) and "
                       "vari_rrlyrae.csv.gz (every DR3 vari_rrlyrae column)",
                       {"long", "dr3-bulk"}, "long"),
           cli::count("files",
                      "dr3-bulk: split the epoch photometry into N files of consecutive stars named like the "
                      "archive's, DIR/EpochPhotometry_000000-003111.csv.gz (star indices), read back with "
                      "--epoch-photometry 'DIR/EpochPhotometry_*.csv.gz'",
                      "1")
               .range(1, 100000)}},
         {"train",
          "K-fold CV (K >= 2; 0 skips it) writes a report (out-of-fold metrics per type and per fold) and the\n"
          "out-of-fold predictions; then one model per type (or one unified RRab+RRc model) is trained on all\n"
          "usable stars and saved with self-test vectors. Architectures: gru_fourier (default: the GRU with\n"
          "Fourier features and a heteroscedastic head, the best measured on unseen simulator families),\n"
          "paper_gru (Monti et al. 2025's GRU 20-16-8 and their training recipe), fourier_linear (ridge);\n"
          "bigru and lstm (gru_fourier with bidirectional GRU or LSTM layers), bilstm (Dekany & Grebel 2022's\n"
          "BiLSTM 16-16 trunk, dropout 0.1, with gru_fourier's Fourier-feature head), transformer (a small\n"
          "encoder block with attention pooling beside the Fourier features), fcn (Wang et al. 2017's\n"
          "fully convolutional trunk, conv 128-256-128 with batch norm and global average pooling, beside the\n"
          "Fourier features), resnet (Wang et al. 2017's ResNet: 3 residual blocks of conv 64-128-128) and\n"
          "inception_time (Ismail Fawaz et al. 2020: 6 inception modules of 32 filters, kernels 39-19-9,\n"
          "residuals every 3), both beside the Fourier features.\n"
          "Every model's sigma is calibrated: on the out-of-fold residuals with K-fold CV, else on the\n"
          "early-stopping hold-out.",
          with_inputs(join(
              {cli::path("out", "model file (JSON)").output().required(),
               cli::path("config", "a --config file (below)"),
               cli::count("folds", "CV folds (0: no CV)").range(0, 1000),
               cli::count("repeats", "CV repetitions").range(1, 1000),
               cli::flag("folds-across-ranks", "under mpirun: each CV fold trained by one rank"),
               cli::count("max-epochs", "training epochs").range(0, 1e6), cli::count("seed", "random seed"),
               cli::choice(
                   "architecture", "the model",
                   {"paper_gru", "gru_fourier", "fourier_linear", "bigru", "lstm", "bilstm", "transformer", "fcn", "resnet", "inception_time"}),
               cli::flag("unified", "one RRab+RRc model"), cli::flag("paper-cuts", "the paper's sample cuts"),
               cli::path("report", "CV report (default OUT.cv.json)").output(),
               cli::path("oof", "out-of-fold predictions (default OUT.oof.csv)").output()},
              label_options(), calibration_options()))},
         {"tune",
          "Hyperband (Li et al. 2018; R = 81 epochs and eta = 3 by default: 206 trainings) over Monti et al.\n"
          "(2025)'s space: dropout {0.1,0.2,0.4,0.6}, learning_rate {0.001,0.01,0.1}, batch_size {32..512},\n"
          "kernel L1 and L2 log-uniform in [1e-6, 1e-2]. Each trial trains on a stratified 4/5 of the stars\n"
          "(other settings from --config) and scores the 1/sigma^2-weighted RMSE of the held-out 1/5.\n"
          "Writes OUT, a --config file for train (the base config with the best values; max_epochs = the\n"
          "best trial's epochs), and OUT.trials.json (every trial). One search per type present: with\n"
          "RRab and RRc, best.RRab.json and best.RRc.json (+ .trials.json); with --unified, one search.",
          with_inputs(
              join({cli::path("out", "best configuration (JSON)").output().required(),
                    cli::path("config", "a base --config file (below)"),
                    cli::number("max-epochs", "Hyperband's R (epochs)", cli::default_of(tune_defaults.max_epochs))
                        .range(1, 1e6),
                    cli::number("eta", "Hyperband's eta", cli::default_of(tune_defaults.eta)).range(1.01, 1000),
                    cli::count("seed", "random seed"),
                    cli::count("holdout-folds", "the held-out part is 1 of this many stratified folds",
                               cli::default_of(tune_defaults.holdout_folds)),
                    cli::choice("architecture", "the model",
                                {"paper_gru", "gru_fourier", "bigru", "lstm", "bilstm", "transformer", "fcn", "resnet", "inception_time"}),
                    cli::flag("unified", "one RRab+RRc model"), cli::flag("paper-cuts", "the paper's sample cuts")},
                   label_options()))},
         {"transfer",
          "Leave-one-family-out: each DIR of --sets (a simulate output: epoch_photometry.csv,\n"
          "vari_rrlyrae.csv, labels.csv) is one family; for each family in turn a model is trained on all\n"
          "the others and scored on it against --truth-column, beside the classical pipeline on the same\n"
          "stars, with the coverage of its sigma. Prints a table; OUT gets every metric (JSON).",
          join({cli::text("sets", "comma-separated simulate directories, one per family (at least two)").required(),
                cli::path("out", "report (JSON)").output().required(), cli::path("config", "a --config file (below)"),
                cli::count("max-epochs", "training epochs").range(1, 1e6), cli::count("seed", "random seed"),
                cli::choice(
                    "architecture", "the model",
                    {"paper_gru", "gru_fourier", "fourier_linear", "bigru", "lstm", "bilstm", "transformer", "fcn", "resnet", "inception_time"}),
                cli::flag("unified", "one RRab+RRc model"),
                cli::flag("paper-cuts", "train and score only stars with >= 50 epochs and peak-to-peak <= 1.4 mag"),
                cli::flag("no-period", "train on phase alone"),
                cli::text("label-column", "the labels.csv column the models train on", "feh_true"),
                cli::text("truth-column", "the labels.csv column the held-out family is scored against", "feh_true"),
                cli::count("mc-samples", "MC-dropout passes for sigma", "20").range(0, 100000),
                cli::flag("fit-label-error",
                          "fit the label-error factor on the training families' residuals against --truth-column "
                          "(a simulation's truth; overrides --label-error-scale)"),
                cli::text("test-sets",
                          "comma-separated simulate directories, one per --sets family in the same order: a held-out "
                          "family is scored on these stars instead of its own (never trained on)"),
                cli::flag("combine-classical",
                          "also score the model combined with the classical estimate by inverse variance (the "
                          "classical estimate mapped and calibrated on the training families)")},
               calibration_options())},
         {"calibrate",
          "Refits the sigma calibration of a trained model, its networks unchanged, on labelled stars it did\n"
          "not train on (e.g. a new population): each star's residual (prediction - label) and raw sigma with\n"
          "the model's MC-dropout passes fit the scale and floor per type and epoch range (docs/rrlyrae.md,\n"
          "\"Uncertainties that mean what they say\"). Writes a copy of the model whose calibration names the\n"
          "method and the stars it was fitted on; prints the coverage on those stars before and after.",
          with_inputs(join({cli::path("model",
                                      "model file (default: the pretrained model installed with ferrum, "
                                      "share/ferrum/models/rrlyrae_default.json)"),
                            cli::path("out", "the recalibrated model file (JSON)").output().required(),
                            cli::choice("method", "how the scale and floor are fitted (see train's "
                                        "--calibration-method)", {"likelihood", "coverage"}, "coverage"),
                            cli::count("mc-samples", "MC-dropout passes (default: those the model was calibrated "
                                       "with)").range(0, 100000),
                            cli::count("seed", "seed of the MC-dropout passes", "12345"), feh_bins_option()},
                           label_options()))},
         {"predict", "Writes source_id,type,feh,feh_sigma,n_epochs,flag; flagged stars get no number.",
          with_inputs(
              {cli::path("model",
                         "model file (default: the pretrained model installed with ferrum, "
                         "share/ferrum/models/rrlyrae_default.json; docs/rrlyrae.md)"),
               cli::path("out", "predictions CSV (ECSV with units when it ends in .ecsv)").output().required(),
               cli::count("mc-samples", "MC-dropout passes for sigma", "20").range(0, 100000),
               cli::count("seed", "seed of the MC-dropout passes", "12345"),
               cli::count("batch", "stars per batch: --epoch-photometry, --light-curves and --folded are streamed",
                          "1024")
                   .range(1, 1000000),
               cli::text("shard",
                         "k/N: only the stars of shard k (0-based) of N (splitmix64 of source_id mod N; with "
                         "--epoch-photometry), written to OUT.shard-k-of-N sorted by source_id, with a manifest "
                         "OUT.shard-k-of-N.json; a finished shard whose inputs are unchanged is skipped. Then "
                         "merge. Under mpirun (ferrum-rrl built with MPI) rank r runs shard r of the ranks and "
                         "rank 0 merges into OUT (docs/scaling.md)"),
               cli::flag("per-file",
                         "one shard per --epoch-photometry file (shard i of F: the i-th file as listed, globs sorted; "
                         "OUT.shard-i-of-F): with --shard k/N this task predicts files k, k+N, ...; under mpirun "
                         "the files are dealt out one at a time to whichever rank is free; then merge --shards F")})},
         {"merge",
          "Merges OUT.shard-k-of-N (k = 0..N-1, from predict --shard k/N) into OUT sorted by source_id,\n"
          "atomically; refuses a missing shard and a stale one (its inputs or output changed since).",
          {cli::path("out", "the merged predictions (the --out of predict)").output().required(),
           cli::count("shards", "N, the number of shards").required().range(1, 1e6)}},
         {"classical", "The classical pipeline: Fourier fit -> phi31, A2 -> Muraveva et al. (2025) relation.",
          with_inputs(
              {cli::path("out", "predictions CSV (ECSV with units when it ends in .ecsv)").output().required(),
               cli::count("batch", "stars per batch: --epoch-photometry, --light-curves and --folded are streamed",
                          "1024")
                   .range(1, 1000000)})},
         {"evaluate",
          "Metrics JSON on stdout (r2, rmse, mae, weighted forms; per type, by epochs, mean G, Blazhko);\n"
          "With a feh_sigma column: the fractions within 1 and 2 sigma (coverage_1sigma, coverage_2sigma).\n"
          "DIR/pred_vs_true.svg, DIR/residual_vs_epochs.svg and, with sigmas, DIR/reliability.svg.",
          join({cli::path("predictions", "predictions CSV").required(),
                cli::path("plots", "directory for the SVG plots").output_dir().shown_as("DIR"),
                cli::text("title", "plot title", "")},
               label_options())}},
        {cli::flag("quiet", "no progress on stderr (also FERRUM_QUIET=1)"),
         cli::count("threads", "worker threads (default: all cores; results do not depend on it)").range(1, 1024)},
        "Config files (--config) are JSON objects with any of these fields (shown with their defaults;\n"
        "architecture is paper_gru, gru_fourier, fourier_linear, bigru, lstm, bilstm, transformer, fcn,\n"
        "resnet or inception_time, "
        "sequence "
        "resampled or raw_epochs);\n"
        "unknown fields are refused:\n" +
            rrl_config_help()};
    return p;
}

/// The files a (repeated) path option names: lists and globs expanded (core/input_files.hpp).
std::vector<std::string> input_files(const args& a, const std::string& name) { return expand_input_files(a.all(name)); }

/// A path option that this use of the command needs (e.g. --catalogue with --epoch-photometry).
const std::string& need(const args& a, const std::string& name) {
    if (!a.has(name)) throw cli::usage_error(a.command() + ": --" + name + " is required here");
    return a.path(name);
}

unsigned threads_or(const args& a, unsigned def) { return a.has("threads") ? unsigned(a.count("threads")) : def; }

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

rr_type parse_type(const std::string& s) {
    const rr_type t = parse_rr_type(s);
    if (t != rr_type::rrab && t != rr_type::rrc) throw value_error("--type must be RRab or RRc, got '" + s + "'");
    return t;
}

// --- inputs ---------------------------------------------------------------------------------------

/// The vari_rrlyrae --catalogue of a streamed predict, read row by row with every check of read_rrlyrae_catalogue
/// (the same errors, file, line and field), keeping per star only what the ephemeris needs (type, pf, p1_o,
/// epoch_g, peak_to_peak_g, where it was read). The stars are sorted by source_id: in memory up to
/// FERRUM_PREDICT_RUN_BYTES (32 MiB, about 300,000 stars: the whole of DR3's 270,905), beyond that through
/// temporary files beside --out (cli::predict_sort_options), then looked up a batch of light curves at a time,
/// so memory does not grow with the catalogue. A repeated source_id, found once the ids are sorted, is the
/// error a reader holding the stars would give: the repeat earliest in the files, unless a bad row comes first.
class streamed_catalogue {
public:
    template <class InShard>
    streamed_catalogue(const std::vector<std::string>& files, const catalogue_read_options& co,
                       const external_sort_options& so, InShard&& in_shard)
        : index_(so, sizeof(std::uint64_t)) {
        if (files.empty()) throw value_error("rrlyrae_catalogue: no files to read");
        report_.file = describe_files(files);
        external_sorter<entry> sorter(so);
        try {
            rrlyrae_star s;
            for (const auto& f : files) {
                rrlyrae_catalogue_reader r(f, co);
                files_.push_back(r.path());
                id_columns_.push_back(r.source_id_column());
                while (r.next(s)) {
                    sorter.push(key(s.source_id, s), compact(s, files_.size() - 1));
                    r.accept();
                    expected_ += in_shard(s.source_id);
                }
                r.finish();
                report_.merge(r.report());
            }
        } catch (const ferrum::error&) {
            if (const auto rep = index_sorted_groups<entry>(sorter, nullptr, sizeof(std::uint64_t), false))
                throw_repeated(*rep);
            throw;
        }
        if (const auto rep = index_sorted_groups(sorter, &index_, sizeof(std::uint64_t), false)) throw_repeated(*rep);
    }

    const read_report& report() const noexcept { return report_; }
    /// The catalogue's stars in the shard (all of them without one).
    std::size_t expected() const noexcept { return expected_; }
    bool spilled() const noexcept { return index_.spilled(); }

    /// The stars of `curves` that the catalogue has, as a catalogue of their own (for rrlyrae_ephemerides and
    /// match_catalogue, so the flags are those of the whole catalogue held in memory).
    rrlyrae_catalogue batch(const std::vector<light_curve>& curves) const {
        std::vector<rrlyrae_star> found;
        for (const auto& c : curves)
            if (const auto e = index_.find(key(c.source_id))) found.push_back(star(*e));
        return rrlyrae_catalogue::of_stars(std::move(found), report_.file);
    }

private:
    struct entry {
        std::int64_t source_id = 0;
        std::uint64_t line = 0;
        std::uint32_t file = 0;
        rr_type type = rr_type::unknown;
        unsigned char has = 0;  // bits: pf, p1_o, epoch_g, peak_to_peak_g
        double pf = 0, p1_o = 0, epoch_g = 0, peak_to_peak_g = 0;
    };

    /// The order-preserving big-endian bytes of a source_id; with a star of unknown type, its best_classification
    /// text after them (the flag quotes it).
    static std::string key(std::int64_t id, const rrlyrae_star* s = nullptr) {
        std::uint64_t u = std::uint64_t(id) ^ (std::uint64_t(1) << 63);
        std::string k(sizeof u, '\0');
        for (int i = 7; i >= 0; --i, u >>= 8) k[std::size_t(i)] = char(u & 0xff);
        if (s && s->type == rr_type::unknown) k += s->best_classification;
        return k;
    }
    static std::string key(std::int64_t id, const rrlyrae_star& s) { return key(id, &s); }

    static entry compact(const rrlyrae_star& s, std::size_t file) {
        entry e;
        e.source_id = s.source_id;
        e.line = s.line;
        e.file = std::uint32_t(file);
        e.type = s.type;
        const std::optional<double> rrlyrae_star::*members[] = {&rrlyrae_star::pf, &rrlyrae_star::p1_o,
                                                                 &rrlyrae_star::epoch_g, &rrlyrae_star::peak_to_peak_g};
        double* values[] = {&e.pf, &e.p1_o, &e.epoch_g, &e.peak_to_peak_g};
        for (int i = 0; i < 4; ++i)
            if (s.*members[i]) e.has |= (1u << i), *values[i] = *(s.*members[i]);
        return e;
    }

    static rrlyrae_star star(const typename sorted_key_index<entry>::entry& k) {
        const entry& e = k.value;
        rrlyrae_star s;
        s.source_id = e.source_id;
        s.line = std::size_t(e.line);
        s.type = e.type;
        s.best_classification = e.type == rr_type::unknown ? k.key.substr(sizeof(std::uint64_t)) : to_string(e.type);
        std::optional<double> rrlyrae_star::*members[] = {&rrlyrae_star::pf, &rrlyrae_star::p1_o,
                                                           &rrlyrae_star::epoch_g, &rrlyrae_star::peak_to_peak_g};
        const double values[] = {e.pf, e.p1_o, e.epoch_g, e.peak_to_peak_g};
        for (int i = 0; i < 4; ++i)
            if (e.has & (1u << i)) s.*members[i] = values[i];
        return s;
    }

    [[noreturn]] void throw_repeated(const repeated_key<entry>& r) const {
        const entry& first = r.first.value;
        const entry& again = r.repeat.value;
        throw input_error(files_[again.file], std::size_t(again.line), id_columns_[again.file],
                          rrlyrae_catalogue_reader::duplicate_message(
                              again.source_id, std::size_t(first.line), first.file == again.file ? "" : files_[first.file]));
    }

    sorted_key_index<entry> index_;
    std::vector<std::string> files_, id_columns_;
    read_report report_;
    std::size_t expected_ = 0;
};

/// The --catalogue of one process's --per-file shards: every file-shard keeps all of the catalogue's stars, so
/// the first shard that predicts reads and indexes it (streamed_catalogue) and the process's later files reuse
/// that index rather than reading and sorting the whole catalogue again. Empty until then (finished shards that
/// are skipped never read it).
using catalogue_reuse = std::unique_ptr<const streamed_catalogue>;

std::vector<rrl_star_input> read_archive_inputs(const std::vector<std::string>& epochs,
                                                const std::vector<std::string>& catalogue, const rrl_input_options& opt,
                                                unsigned threads, bool show, const external_sort_options& so) {
    catalogue_read_options co;
    co.required_columns = {"best_classification", "pf", "p1_o", "epoch_g"};
    // the catalogue is joined as predict joins it (streamed_catalogue): memory for the stars of the epoch
    // photometry, not for every row of a whole-DR3 catalogue
    const streamed_catalogue full(catalogue, co, so, [](std::int64_t) { return true; });
    cli::require_usable_rows(full.report());
    gaia_read_options go;
    go.show_progress = show;
    // Any layout of Gaia epoch photometry (long or DR3 bulk, CSV or ECSV, plain or .gz): told by its header.
    const auto lc = read_gaia_epoch_photometry(epochs, go, threads);
    cli::require_usable_rows(lc.report);
    const rrlyrae_catalogue cat = full.batch(lc.curves);  // the catalogue's rows of these light curves only
    if (show) {
        const auto m = match_catalogue(lc.curves, cat);
        std::fprintf(stderr,
                     "joined on source_id: %zu light curves in the catalogue, %zu not in it; %zu catalogue stars "
                     "without a light curve\n",
                     m.matched, m.curves_not_in_catalogue, full.expected() - std::min(cat.size(), full.expected()));
    }
    return prepare_rrlyrae_inputs(lc.curves, rrlyrae_ephemerides(lc.curves, cat), opt, threads, show);
}

/// Ephemerides found by a period search (no --stars): the multi-term Lomb-Scargle periodogram of each curve over
/// 0.2-1.0 d (lightcurve/periodogram.hpp), the epoch of maximum light from its Fourier fit. The type is --type;
/// "auto" takes RRc below 0.4 d and RRab above (the period ranges of the two modes overlap little). `first`:
/// the curves of earlier batches, for the progress line of a streamed table.
std::vector<rrl_ephemeris> searched_ephemerides(const args& a, const std::vector<light_curve>& curves, bool show,
                                                std::size_t first = 0) {
    const std::string type = a.text("type");
    const bool automatic = type == "auto";
    const rr_type fixed = automatic ? rr_type::unknown : parse_type(type);
    std::vector<rrl_ephemeris> out(curves.size());
    const std::string label = first == 0 ? "period search"
                                         : "period search (stars from " + std::to_string(first + 1) + ")";
    ferrum::progress bar(label, curves.size(), "stars", show);
    for (std::size_t i = 0; i < curves.size(); ++i) {
        rrl_ephemeris& e = out[i];
        try {
            const period_search_result r = find_period(curves[i], rrlyrae_period_search_options());
            e.period = r.period;
            e.epoch = r.epoch_max;
            e.type = automatic ? (r.period < 0.4 ? rr_type::rrc : rr_type::rrab) : fixed;
            if (r.false_alarm_probability > 0.01) {
                char buf[96];
                std::snprintf(buf, sizeof buf, "no_period: the best period (%.5f d) has a false-alarm probability %.2g",
                              r.period, r.false_alarm_probability);
                e.problem = buf;
            }
        } catch (const ferrum::error& x) {
            e.problem = std::string("no_period: the period search failed: ") + x.what();
        }
        bar.update(i + 1);
    }
    return out;
}

/// The --stars table (id,period,<epoch column>[,type]) by star id: one entry per star (a repeated id: its last
/// row), a few numbers each. In memory up to FERRUM_PREDICT_RUN_BYTES (32 MiB, about 400,000 stars), beyond
/// that sorted by id through temporary files beside --out (cli::predict_sort_options), so any size of table
/// reads in bounded memory; the rows are checked in file order, so the errors are those of one pass.
class star_table {
public:
    explicit star_table(const args& a)
        : index_(cli::predict_sort_options(a.has("out") ? a.path("out") : std::string())) {
        const std::string sp = a.path("stars");
        external_sorter<star> sorter(cli::predict_sort_options(a.has("out") ? a.path("out") : std::string()));
        {
            csv_reader csv(sp);
            const auto cid = csv.find_column("id") ? csv.column("id") : csv.column("source_id");
            const auto cp = csv.column(a.text("period-column"));
            const auto ce = csv.column(a.text("epoch-column"));
            const auto ct = csv.find_column("type");
            while (const csv_record* r = csv.next()) {
                require_field_count(csv, *r);
                star e;
                e.type = ct ? parse_type(std::string((*r)[*ct])) : parse_type(a.text("type"));
                const auto p = parse_double((*r)[cp]);
                const auto t = parse_double((*r)[ce]);
                if (!p.ok())
                    throw input_error(sp, r->line(), csv.header()[cp], "not a number: '" + std::string((*r)[cp]) + "'");
                if (!t.ok())
                    throw input_error(sp, r->line(), csv.header()[ce], "not a number: '" + std::string((*r)[ce]) + "'");
                e.period = p.value;
                e.epoch = t.value;
                sorter.push((*r)[cid], e);
            }
        }
        index_sorted_groups(sorter, &index_, 0, true);  // a repeated id: its last row, as a map assigned row by row
        cli::require_usable_rows(sp, std::size_t(index_.size()), std::size_t(index_.size()));
    }

    /// The ephemeris of star `id`, if the table has it.
    std::optional<rrl_ephemeris> find(const std::string& id) const {
        const auto f = index_.find(id);
        if (!f) return std::nullopt;
        rrl_ephemeris e;
        e.type = f->value.type;
        e.period = f->value.period;
        e.epoch = f->value.epoch;
        if (!(e.period > 0)) e.problem = "no_period: period is not positive";
        return e;
    }

    bool spilled() const noexcept { return index_.spilled(); }

private:
    struct star {
        double period = 0, epoch = 0;
        rr_type type = rr_type::unknown;
    };
    sorted_key_index<star> index_;
};

/// The --light-curves curves' ephemerides: from the --stars table `stars` (flag not_in_catalogue for a curve
/// it lacks), or without one (`stars` null) a period search per curve.
std::vector<rrl_ephemeris> table_ephemerides(const args& a, const std::vector<light_curve>& curves,
                                             const star_table* stars, bool show, std::size_t first = 0) {
    if (!stars) return searched_ephemerides(a, curves, show, first);
    std::vector<rrl_ephemeris> v;
    v.reserve(curves.size());
    for (const auto& c : curves) {
        auto found = stars->find(rrl_star_id(c.source_id, c.name));
        rrl_ephemeris e;
        if (!found) e.problem = "not_in_catalogue";
        else e = std::move(*found);
        v.push_back(e);
    }
    return v;
}

[[noreturn]] void no_inputs(const args& a) {
    throw cli::usage_error(a.command() +
                           ": give --epoch-photometry F --catalogue C, --folded F, or --light-curves F [--stars S]");
}

std::vector<rrl_star_input> read_inputs(const args& a, const rrl_input_options& opt, unsigned threads, bool quiet) {
    const bool show = !quiet;
    if (a.has("epoch-photometry"))
        return read_archive_inputs(input_files(a, "epoch-photometry"), input_files(a, "catalogue"), opt, threads, show,
                                   cli::predict_sort_options(a.has("out") ? a.path("out") : std::string()));
    table_read_options to;
    to.show_progress = show;
    if (a.has("folded")) {
        const auto fc = read_folded_table(a.path("folded"), to);
        cli::require_usable_rows(fc.report);
        return prepare_rrlyrae_inputs(fc.curves, {parse_type(a.text("type"))}, opt, threads, show);
    }
    if (a.has("light-curves")) {
        const auto lc = read_light_curve_table(a.path("light-curves"), to);
        cli::require_usable_rows(lc.report);
        std::optional<star_table> stars;
        if (a.has("stars")) stars.emplace(a);
        return prepare_rrlyrae_inputs(lc.curves, table_ephemerides(a, lc.curves, stars ? &*stars : nullptr, show), opt,
                                      threads, show);
    }
    no_inputs(a);
}

// --- labels ---------------------------------------------------------------------------------------

struct label_row {
    double feh = 0, sigma = 0;
    double mean_g = std::numeric_limits<double>::quiet_NaN();
    int blazhko = -1;
    std::string family;  ///< the `family` column (simulate writes it); empty without one
};

/// Reads --labels row by row: visit(id, label, line, id_column_name) for each row, in file order; returns the
/// number of rows (at least 1: a file without rows is an input_error).
template <class Visit>
std::size_t for_each_label(const std::string& path, const std::string& column, const std::string& error_column,
                           Visit&& visit) {
    csv_reader csv(path);
    const auto cid = csv.find_column("source_id") ? csv.column("source_id") : csv.column("id");
    const auto cf = csv.column(column);
    // a sentinel, not std::optional: GCC 12 warns (falsely) that an optional from a conditional may be uninitialised
    constexpr std::size_t no_column = std::numeric_limits<std::size_t>::max();
    const std::size_t ce = error_column == "none" ? no_column : csv.find_column(error_column).value_or(no_column);
    const auto cg = csv.find_column("mean_g_true");
    const auto cb = csv.find_column("blazhko_period");
    const auto cfam = csv.find_column("family");
    std::size_t rows = 0;
    while (const csv_record* r = csv.next()) {
        require_field_count(csv, *r);
        label_row l;
        const auto f = parse_double((*r)[cf]);
        if (!f.ok())
            throw input_error(path, r->line(), csv.header()[cf], "not a number: '" + std::string((*r)[cf]) + "'");
        l.feh = cli::plausible_feh(f.value, path, r->line(), csv.header()[cf]);
        if (ce != no_column) {
            const auto e = parse_double((*r)[ce]);
            if (!e.ok() || !(e.value > 0))
                throw input_error(path, r->line(), csv.header()[ce],
                                  "not a positive number: '" + std::string((*r)[ce]) + "'");
            l.sigma = cli::plausible_feh(e.value, path, r->line(), csv.header()[ce]);
        }
        if (cg) {
            const auto g = parse_double((*r)[*cg]);
            if (g.ok()) l.mean_g = g.value;
        }
        if (cb) {
            const auto b = parse_double((*r)[*cb]);
            if (b.ok()) l.blazhko = b.value > 0 ? 1 : 0;
        }
        if (cfam) l.family = std::string(trimmed((*r)[*cfam]));
        visit(std::string(trimmed((*r)[cid])), l, r->line(), csv.header()[cid]);
        ++rows;
    }
    cli::require_usable_rows(path, rows, rows);
    return rows;
}

/// A source that appears twice in --labels: the error, at the line of its second row.
input_error repeated_label(const std::string& path, std::size_t line, const std::string& field, const std::string& id) {
    return input_error(path, line, field, "source " + id + " appears twice");
}

/// --labels for the stars `stars` only (train, tune, transfer, calibrate). Every row is read and checked and a
/// repeated id anywhere in the file is refused at its second row, as a map of every row would (the ids go through an external sort
/// whose records spill beside the output beyond 32 MiB), but only the rows of `stars` are kept: a labels file of
/// a whole survey costs memory for the training set, not for its rows.
std::map<std::string, label_row> read_labels_of(const std::string& path, const std::string& column,
                                                const std::string& error_column,
                                                const std::vector<rrl_star_input>& stars,
                                                const external_sort_options& so) {
    std::unordered_set<std::string> wanted;
    for (const auto& s : stars) wanted.insert(s.id);
    std::map<std::string, label_row> out;
    external_sorter<std::uint64_t> ids(so);  // id -> line, for the repeats
    std::string id_field;
    cli::read_keyed_rows(
        [&] {
        for_each_label(path, column, error_column,
                       [&](const std::string& id, const label_row& l, std::size_t line, const std::string& field) {
            id_field = field;
            ids.push(id, std::uint64_t(line));
            if (wanted.count(id)) out.emplace(id, l);
        });
        },
        [&] {
        if (const auto r = first_repeated_key(ids)) throw repeated_label(path, std::size_t(r->value), id_field, r->key);
    });
    return out;
}

// --- config ---------------------------------------------------------------------------------------

using run_config = rrl_config;  // the flat --config file (models/rrlyrae_config.hpp)

/// --config, then the options train and tune share (seed, architecture, unified, paper-cuts, no-period, threads).
run_config read_run_config(const args& a) {
    // the paper's network (--architecture paper_gru, or a config naming it) comes with the paper's whole
    // training recipe; a config file's fields and the command line override it
    std::string arch = a.has("architecture") ? a.choice("architecture") : "";
    if (arch.empty() && a.has("config")) {
        const auto j = read_json_file(a.path("config"), "config file");
        if (j.is_object() && j.contains("architecture") && j.at("architecture").is_string())
            arch = j.at("architecture").get<std::string>();
    }
    run_config c;
    if (arch == "paper_gru") {
        c.model = rrl_paper_model_options();
        c.train = rrl_paper_training_options();
    }
    if (arch == "bilstm") c.model = rrl_bilstm_model_options();  // Dekany & Grebel (2022)'s trunk
    if (a.has("config")) c = read_rrl_config(a.path("config"), c);
    c.train.progress = !a.flag("quiet");
    if (a.has("seed")) c.train.seed = std::uint64_t(a.count("seed"));
    if (a.has("architecture")) c.model.architecture = rrl_architecture_from_string(a.choice("architecture"));
    if (a.flag("unified")) c.cv.unified = true;
    if (a.flag("paper-cuts")) c.cv.paper_cuts = true;
    if (a.flag("no-period")) c.model.input.use_period = false;
    c.train.threads = threads_or(a, c.train.threads);
    return c;
}

/// --cross-family, --cross-family-epochs, --label-error-scale (train and transfer) on top of the config.
void apply_calibration_options(const args& a, run_config& c) {
    if (a.flag("cross-family")) c.train.cross_family_calibration = true;
    if (a.has("cross-family-epochs")) c.train.cross_family_max_epochs = int(a.count("cross-family-epochs"));
    if (a.has("label-error-scale")) c.train.label_error_scale = a.number("label-error-scale");
    if (a.has("calibration-method"))
        c.train.calibration_method = rrl_calibration_method_from_string(a.choice("calibration-method"));
    if (a.has("calibration-feh-bins")) c.train.calibration_feh_bins = feh_bins_of(a);
}

// --- stars with labels (train and tune) --------------------------------------------------------------

struct labelled_stars {
    std::vector<rrl_star_input> stars;
    std::vector<double> y, sigma;     ///< NaN label: not used (flagged, unlabelled or cut); sigma 1 when unknown
    std::vector<std::string> family;  ///< the labels' `family` column (empty strings without one)
    std::size_t flagged = 0, unlabelled = 0, cut = 0;
};

labelled_stars read_labelled_stars(const args& a, const run_config& c, bool quiet) {
    labelled_stars ls;
    ls.stars = read_inputs(a, c.model.input, c.train.threads, quiet);
    const auto labels = read_labels_of(a.path("labels"), a.text("label-column"), a.text("error-column"), ls.stars,
                                       cli::predict_sort_options(a.has("out") ? a.path("out") : std::string()));
    const auto& stars = ls.stars;
    ls.y.assign(stars.size(), std::numeric_limits<double>::quiet_NaN());
    ls.sigma.assign(stars.size(), 1.0);
    ls.family.assign(stars.size(), std::string());
    for (std::size_t i = 0; i < stars.size(); ++i) {
        auto it = labels.find(stars[i].id);
        if (it != labels.end()) ls.family[i] = it->second.family;
        if (!stars[i].ok()) {
            ++ls.flagged;
            continue;
        }
        if (it == labels.end()) {
            ++ls.unlabelled;
            continue;
        }
        // the paper's sample: N_epochs >= 50, peak-to-peak G of the Fourier fit <= 1.4 mag, sigma <= 0.4
        if (c.cv.paper_cuts && (stars[i].n_epochs < 50 || (it->second.sigma > 0.4) || stars[i].peak_to_peak > 1.4)) {
            ++ls.cut;
            continue;
        }
        ls.y[i] = it->second.feh;
        ls.sigma[i] = it->second.sigma > 0 ? it->second.sigma : 1.0;
    }
    if (communicator::world().rank() == 0)  // under mpirun every rank reads the same stars: one says so
        std::fprintf(stderr, "%s: %zu stars read, %zu flagged, %zu without label, %zu removed by the paper's cuts\n",
                     a.command().c_str(), stars.size(), ls.flagged, ls.unlabelled, ls.cut);
    return ls;
}

/// One group of types per model: each type present (RRab, RRc), or all of them together (unified).
std::vector<std::vector<rr_type>> type_groups(const labelled_stars& ls, bool unified, const std::string& command) {
    std::set<rr_type> present;
    for (std::size_t i = 0; i < ls.stars.size(); ++i)
        if (std::isfinite(ls.y[i])) present.insert(ls.stars[i].type);
    present.erase(rr_type::rrd);
    present.erase(rr_type::unknown);
    if (present.empty()) throw value_error(command + ": no usable labelled RRab or RRc star");
    std::vector<std::vector<rr_type>> groups;
    if (unified) groups.push_back(std::vector<rr_type>(present.begin(), present.end()));
    else
        for (auto t : present) groups.push_back({t});
    return groups;
}

std::string group_name(const std::vector<rr_type>& g) {
    std::string name;
    for (auto t : g) name += std::string(name.empty() ? "" : "+") + to_string(t);
    return name;
}

/// The stars of a group with a usable label.
std::vector<std::size_t> group_index(const labelled_stars& ls, const std::vector<rr_type>& g) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < ls.stars.size(); ++i)
        if (std::isfinite(ls.y[i]) && std::find(g.begin(), g.end(), ls.stars[i].type) != g.end()) idx.push_back(i);
    return idx;
}

// --- outputs --------------------------------------------------------------------------------------

std::string fmt(double v, int digits = 5) {
    if (!std::isfinite(v)) return "";
    char b[40];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

// The predictions table: CSV, or ECSV (a path ending in .ecsv) whose header gives astropy the columns' types,
// units and descriptions. `integer_ids`: the ids are Gaia source_ids (int64), else the stars' names.
std::string predictions_header(const std::string& path, bool integer_ids, const std::string& made_by) {
    if (!is_ecsv_path(path)) return "source_id,type,feh,feh_sigma,n_epochs,flag\n";
    return ecsv_header({{"source_id", integer_ids ? "int64" : "string", "", "",
                         integer_ids ? "Gaia source_id" : "the star's id as given"},
                        {"type", "string", "", "", "RR Lyrae type (RRab, RRc)"},
                        {"feh", "float64", "", "dex", "photometric [Fe/H]; empty when flagged"},
                        {"feh_sigma", "float64", "", "dex", "1-sigma uncertainty of feh (calibrated)"},
                        {"n_epochs", "int64", "", "", "clean epochs of the light curve"},
                        {"flag", "string", "", "", "why there is no number; beside a number, a warning"}},
                       {{"software", made_by}});
}

std::string prediction_rows(const std::vector<rrl_star_input>& stars, const std::vector<rrl_prediction>& p) {
    std::string o;
    for (std::size_t i = 0; i < stars.size(); ++i) {
        std::string flag = p[i].flag_column();
        for (auto& ch : flag)
            if (ch == ',' || ch == '\n' || ch == '"') ch = ';';
        o += stars[i].id + ',' + to_string(stars[i].type) + ',' + (p[i].ok() ? fmt(p[i].feh) : "") + ',' +
             (p[i].ok() ? fmt(p[i].sigma) : "") + ',' + std::to_string(stars[i].n_epochs) + ',' + flag + '\n';
    }
    return o;
}

void write_predictions(const std::string& path, const std::vector<rrl_star_input>& stars,
                       const std::vector<rrl_prediction>& p, const std::string& made_by) {
    bool integer_ids = true;  // Gaia source_ids; a table of named stars (CRTS ids) keeps them as text
    for (const auto& s : stars) integer_ids = integer_ids && parse_int64(s.id).ok();
    write_file_atomically(path, predictions_header(path, integer_ids, made_by) + prediction_rows(stars, p));
}

struct prediction_counts {
    std::size_t stars = 0, predicted = 0, warned = 0;

    /// Counts a batch's predictions.
    void add(const std::vector<rrl_prediction>& p) {
        stars += p.size();
        for (const auto& q : p) predicted += q.ok(), warned += q.ok() && !q.warning.empty();
    }
};

/// Streams the archive's epoch photometry (--epoch-photometry, any layout) in batches of `batch` light curves:
/// each batch is folded, prepared, predicted and its rows written to `os` before the next is read, so memory
/// holds one batch and the catalogue whatever the size of the file. Sources must be contiguous, as in archive
/// files. With a `shard`, only the light curves of that shard (core/shards.hpp) are kept, as they are read.
/// The files are read on their own threads (one per file, up to `threads`: lightcurve/epoch_files.hpp), in
/// the order of their concatenation, so reading overlaps the preparation and prediction of the batches and
/// the rows are those of one concatenated file. With `reuse` (no `shard`: the catalogue's stars are all kept),
/// the catalogue indexed there is used, or read, indexed and left there for the next call.
template <class Predict>
prediction_counts stream_archive_predictions(const args& a, const std::vector<std::string>& files,
                                             const rrl_input_options& opt, unsigned threads, std::size_t batch,
                                             std::ostream& os, const shard_spec* shard, catalogue_reuse* reuse,
                                             Predict&& predict) {
    const bool show = !a.flag("quiet") && progress_enabled_by_default();
    catalogue_read_options co;
    co.required_columns = {"best_classification", "pf", "p1_o", "epoch_g"};
    need(a, "catalogue");
    const auto in_shard = [&](std::int64_t source_id, const std::string& name) {
        if (!shard) return true;
        return (name.empty() ? shard_of(source_id, shard->count) : shard_of(name, shard->count)) == shard->index;
    };
    if (reuse && shard) throw value_error("stream_archive_predictions: a reused catalogue keeps every star");
    catalogue_reuse own;
    catalogue_reuse& slot = reuse ? *reuse : own;
    if (!slot)
        slot = std::make_unique<const streamed_catalogue>(input_files(a, "catalogue"), co,
                                                          cli::predict_sort_options(a.path("out")),
                                                          [&](std::int64_t id) { return in_shard(id, {}); });
    const streamed_catalogue& cat = *slot;
    cli::require_usable_rows(cat.report());
    const std::size_t expected = cat.expected();  // the catalogue's stars this run predicts
    gaia_files_options fo;
    for (const auto& f : files)  // a glob may match the output's own name: an output never replaces an input
        if (cli::detail::same_file(a.path("out"), f))
            throw cli::usage_error("--out '" + a.path("out") + "' is the file '" + f +
                                   "' that --epoch-photometry reads; write it elsewhere");
    fo.readers = worker_count(threads, files.size());
    fo.chunk = std::min<std::size_t>(batch, 512);
    if (shard) fo.keep = [&](const light_curve& lc) { return in_shard(lc.source_id, lc.name); };
    gaia_epoch_files_reader reader(files, fo);
    prediction_counts n;
    catalogue_match m;
    ferrum::progress bar(a.command() + " (stars, of the catalogue's " + std::to_string(expected) + ")", expected,
                         "stars", show);
    std::vector<light_curve> curves;
    const auto flush = [&] {
        if (curves.empty()) return;
        const rrlyrae_catalogue bc = cat.batch(curves);
        const auto mb = match_catalogue(curves, bc);
        m.matched += mb.matched;
        m.curves_not_in_catalogue += mb.curves_not_in_catalogue;
        const auto stars = prepare_rrlyrae_inputs(curves, rrlyrae_ephemerides(curves, bc), opt, threads, false);
        const std::vector<rrl_prediction> p = predict(stars, std::uint64_t(n.stars));
        os << prediction_rows(stars, p);
        n.add(p);
        bar.update(std::min(m.matched, expected));
        curves.clear();
    };
    while (auto lc = reader.next()) {
        curves.push_back(std::move(*lc));
        if (curves.size() >= batch) flush();
    }
    flush();
    cli::require_usable_rows(reader.report());  // throwing here leaves no output file
    if (show)
        std::fprintf(stderr,
                     "joined on source_id: %zu light curves in the catalogue, %zu not in it; %zu catalogue stars "
                     "without a light curve\n",
                     m.matched, m.curves_not_in_catalogue, expected - std::min(m.matched, expected));
    return n;
}

/// stream_archive_predictions into one output file `out` (header and rows in file order), atomically.
template <class Predict>
prediction_counts stream_archive_to_file(const args& a, const rrl_input_options& opt, unsigned threads,
                                         std::size_t batch, const std::string& made_by, Predict&& predict) {
    const std::string out = a.path("out");
    prediction_counts n;
    write_file_atomically(out, [&](std::ostream& os) {
        os << predictions_header(out, true, made_by);
        n = stream_archive_predictions(a, input_files(a, "epoch-photometry"), opt, threads, batch, os, nullptr,
                                       nullptr, predict);
    });
    return n;
}

/// Streams a per-star table (--folded or --light-curves, with or without --stars) in batches of `batch` stars,
/// as stream_archive_predictions does the archive's files: each batch is prepared, predicted and written to `os`
/// before the next is read, so memory holds one batch (and the --stars table) whatever the size of the file.
/// A star's rows must be together (else ungrouped_rows_error, which the caller answers by reading it whole).
template <class Curve, class Prepare, class Predict>
prediction_counts stream_table_predictions(const args& a, const std::string& option, std::size_t batch,
                                           std::ostream& os, Prepare&& prepare, Predict&& predict) {
    const bool show = !a.flag("quiet") && progress_enabled_by_default();
    table_read_options to;
    to.show_progress = false;
    basic_table_reader<Curve> reader(a.path(option), to);
    const std::uint64_t mib = reader.csv().file_size() >> 20;
    ferrum::progress bar(a.command() + " (MiB of --" + option + ")", std::size_t(mib), "MiB", show && mib >= 64);
    prediction_counts n;
    std::vector<Curve> curves;
    const auto flush = [&] {
        if (curves.empty()) return;
        const std::vector<rrl_star_input> stars = prepare(curves, n.stars);
        const std::vector<rrl_prediction> p = predict(stars, std::uint64_t(n.stars));
        os << prediction_rows(stars, p);
        n.add(p);
        bar.update(std::size_t(std::min<std::uint64_t>(reader.csv().bytes_consumed() >> 20, mib)));
        curves.clear();
    };
    while (auto c = reader.next()) {
        curves.push_back(std::move(*c));
        if (curves.size() >= batch) flush();
    }
    flush();
    cli::require_usable_rows(reader.report());  // throwing here leaves no output file
    return n;
}

/// True when every star of the table has a Gaia source_id (an integer) rather than a name: the type of the id
/// column in an ECSV header, which is written before the first row. One more pass over the file, holding one star.
template <class Curve>
bool table_ids_are_integers(const std::string& path) {
    table_read_options to;
    to.show_progress = false;
    basic_table_reader<Curve> reader(path, to);
    while (auto c = reader.next())
        if (!c->name.empty()) return false;
    return true;
}

/// predict or classical on --folded or --light-curves into --out: streamed in batches of `batch` stars
/// (stream_table_predictions). The rows are those of the table read whole, for any --batch (a star's MC-dropout
/// masks are keyed by its id, not by its place in a batch).
/// A table whose stars' rows are not together cannot be streamed: it is then read whole, merging each star's
/// rows, with a warning that memory grows with the file.
template <class Predict>
prediction_counts table_predictions_to_file(const args& a, const rrl_input_options& opt, unsigned threads,
                                            std::size_t batch, const std::string& made_by, Predict&& predict) {
    const std::string out = a.path("out");
    const bool folded = a.has("folded");
    const std::string option = folded ? "folded" : "light-curves";
    const bool show = !a.flag("quiet") && progress_enabled_by_default();
    prediction_counts n;
    try {
        std::optional<star_table> stars;
        if (!folded && a.has("stars")) stars.emplace(a);
        const auto prepare_folded = [&](const std::vector<folded_curve>& c, std::size_t) {
            return prepare_rrlyrae_inputs(c, {parse_type(a.text("type"))}, opt, threads, false);
        };
        const auto prepare_curves = [&](const std::vector<light_curve>& c, std::size_t first) {
            return prepare_rrlyrae_inputs(c, table_ephemerides(a, c, stars ? &*stars : nullptr, show, first), opt,
                                          threads, false);
        };
        const bool integer_ids = !is_ecsv_path(out) || (folded ? table_ids_are_integers<folded_curve>(a.path(option))
                                                               : table_ids_are_integers<light_curve>(a.path(option)));
        write_file_atomically(out, [&](std::ostream& os) {
            os << predictions_header(out, integer_ids, made_by);
            n = folded ? stream_table_predictions<folded_curve>(a, option, batch, os, prepare_folded, predict)
                       : stream_table_predictions<light_curve>(a, option, batch, os, prepare_curves, predict);
        });
        return n;
    } catch (const ungrouped_rows_error& e) {
        std::fprintf(stderr,
                     "%s: warning: %s\n  so --%s is read whole instead of in batches: memory grows with the file "
                     "(sort it by star to stream it)\n",
                     a.command().c_str(), printable(e.what(), true).c_str(), option.c_str());
    }
    const auto stars = read_inputs(a, opt, threads, a.flag("quiet"));
    const std::vector<rrl_prediction> p = predict(stars, std::uint64_t(0));
    write_predictions(out, stars, p, made_by);
    n = {};
    n.add(p);
    return n;
}

// --- commands -------------------------------------------------------------------------------------

int cmd_simulate(const args& a) {
    const bool field = a.choice("family") == "field";
    if (field && !a.has("params"))
        throw cli::usage_error("simulate --family field needs --params FILE, the table of real RRab to resample "
                               "(e.g. ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv)");
    if (!field && a.has("params"))
        throw cli::usage_error("simulate: --params is the star table of --family field, not of --family " +
                               a.choice("family"));
    if (field && a.count("n-rrc") > 0)
        throw cli::usage_error("simulate --family field makes RRab only (its real stars have no RRc table): "
                               "--n-rrc 0");
    if (field && a.choice("truth") != "muraveva2025")
        throw cli::usage_error("simulate --family field: feh_true is each parent star's spectroscopic [Fe/H]; "
                               "--truth does not apply");
    const auto half = a.choice("field-half") == "b"     ? sim::field_half::b
                      : a.choice("field-half") == "all" ? sim::field_half::all
                                                        : sim::field_half::a;
    sim::simulation_options o =
        field ? sim::field_family_options(a.path("params"), half) : sim::family_options(a.choice("family"));
    if (field) o.field_jitter = a.number("field-jitter");
    o.seed = static_cast<std::uint64_t>(a.count("seed"));
    o.min_epochs = static_cast<int>(a.count("min-epochs"));
    if (a.has("intrinsic-scatter")) o.feh_intrinsic_scatter = a.number("intrinsic-scatter");
    if (a.choice("truth") == "lamost") o.truth = sim::truth_relation::lamost;
    o.first_source_id = static_cast<std::int64_t>(a.count("first-source-id"));
    const std::size_t nab = a.count("n-rrab"), nc = a.count("n-rrc");
    sim::write_options w;
    w.threads = threads_or(a, 0);
    w.progress = !a.flag("quiet");
    if (a.choice("format") == "dr3-bulk") w.format = sim::output_format::dr3_bulk;
    w.files = a.count("files");
    if (w.files > 1 && w.format != sim::output_format::dr3_bulk)
        throw cli::usage_error("simulate: --files needs --format dr3-bulk (the archive's bulk files)");
    const auto set = sim::write_gaia_like_set(a.path("out"), nab, nc, o, w);
    std::fprintf(stderr, "wrote %zu stars, %zu epochs to %s (%zu epoch-photometry file%s)\n", set.stars, set.epochs,
                 a.path("out").c_str(), set.epoch_files.size(), set.epoch_files.size() == 1 ? "" : "s");
    if (field)
        std::fprintf(stderr, "field: %zu real RRab of half %s of %s; parents in %s\n", o.field_stars->size(),
                     sim::to_string(half).c_str(), a.path("params").c_str(), set.parents.c_str());
    return 0;
}

/// train, by hand or as one rank of an MPI job (`comm`): every rank reads the same stars and trains each
/// network data-parallel (train::fit splits every batch across the ranks); rank 0 alone speaks and writes.
int cmd_train(const args& a, const communicator& comm) {
    const bool lead = comm.rank() == 0;
    run_config c = read_run_config(a);
    apply_calibration_options(a, c);
    c.train.comm = comm;
    if (!lead) c.train.progress = false;
    if (a.has("folds")) c.cv.folds = a.count("folds");
    if (a.has("repeats")) c.cv.repeats = a.count("repeats");
    if (a.flag("folds-across-ranks")) c.cv.folds_across_ranks = true;
    if (a.has("max-epochs")) c.train.max_epochs = int(a.count("max-epochs"));
    const std::string out = a.path("out");
    if (!a.has("report")) cli::check_derived_output(a, out + ".cv.json", "the CV report (OUT.cv.json)");
    if (!a.has("oof")) cli::check_derived_output(a, out + ".oof.csv", "the out-of-fold predictions (OUT.oof.csv)");
    const bool quiet = a.flag("quiet") || !lead;
    const auto say = [lead](const char* format, auto... values) {
        if (lead) std::fprintf(stderr, format, values...);
    };

    const auto ls = read_labelled_stars(a, c, quiet);
    const auto& stars = ls.stars;
    const auto& y = ls.y;
    const auto& sigma = ls.sigma;
    const auto groups = type_groups(ls, c.cv.unified, a.command());

    json report;
    report["architecture"] = to_string(c.model.architecture);
    report["folds"] = c.cv.folds;
    report["repeats"] = c.cv.repeats;
    report["max_epochs"] = c.train.max_epochs;
    report["seed"] = c.train.seed;
    report["n_flagged"] = ls.flagged;
    report["n_unlabelled"] = ls.unlabelled;
    report["n_cut"] = ls.cut;
    std::string oof = "source_id,type,feh,feh_sigma,n_epochs,flag\n";
    std::vector<rrlyrae_model> models;
    for (const auto& g : groups) {
        rrl_model_options mo = c.model;
        mo.types = g;
        const std::string name = group_name(g);
        std::vector<rrl_calibration_point> cv_points;
        if (c.cv.folds >= 2) {
            say("train: %zu-fold CV x %zu of the %s model%s\n", c.cv.folds, c.cv.repeats, name.c_str(),
                c.cv.folds_across_ranks && comm.distributed() ? " (folds dealt across the ranks)" : "");
            const auto cv = cross_validate_rrlyrae(stars, y, sigma, mo, c.train, c.cv.folds, c.cv.repeats,
                                                   c.cv.folds_across_ranks);
            cv_points = cv.points;
            json r;
            std::vector<rrl_scored_star> scored;
            for (std::size_t k = 0; k < cv.index.size(); ++k) {
                const auto& s = stars[cv.index[k]];
                double m = 0, v = 0;
                for (const auto& rep : cv.oof) m += rep[k];
                for (const auto& rep : cv.oof_sigma) v += rep[k] * rep[k];
                m /= double(cv.oof.size());
                const double sd = std::sqrt(v / double(cv.oof_sigma.size()));  // NaN without calibration
                rrl_scored_star sc{s.id, s.type, cv.y[k], cv.sigma[k], m, s.n_epochs};
                sc.sigma = sd;
                scored.push_back(sc);
                oof += s.id + ',' + to_string(s.type) + ',' + fmt(m) + ',' + fmt(sd) + ',' +
                       std::to_string(s.n_epochs) + ",\n";
            }
            r["out_of_fold"] = evaluate_rrlyrae(scored);
            for (std::size_t f = 0; f < cv.folds.size(); ++f) {
                json fj = cv.folds[f].to_json();
                fj["best_epoch"] = cv.best_epochs[f];
                r["per_fold"].push_back(fj);
            }
            report["models"][name] = r;
        }
        const auto idx = group_index(ls, g);
        say("train: final %s model on %zu stars\n", name.c_str(), idx.size());
        rrlyrae_model m(mo, c.train.seed);
        const auto h = m.fit(stars, y, idx, c.train);
        if (!h.epochs.empty()) {  // what a scaling benchmark reads (benchmarks/bench_scaling.sh)
            double seconds = 0;
            for (const auto& e : h.epochs) seconds += e.seconds;
            const double per = h.batches ? 1e3 / double(h.batches) : 0.0;
            if (comm.size() == 1)
                say("train: final %s model: %zu epochs, %zu batches in %.3f s on 1 rank (no communication)\n",
                    name.c_str(), h.epochs.size(), h.batches, seconds);
            else
                say("train: final %s model: %zu epochs, %zu batches in %.3f s on %d ranks, %.3f ms communication "
                    "and %.3f ms waiting for the slowest rank per batch\n",
                    name.c_str(), h.epochs.size(), h.batches, seconds, comm.size(), per * h.communication_seconds,
                    per * h.waiting_seconds);
        }
        // with CV, the sigma calibration is refitted on every out-of-fold residual (all stars, not 10 %)
        std::string calibrated_on = c.train.calibrate ? "early-stopping hold-out" : "none";
        if (c.train.calibrate && c.train.cross_family_calibration) {
            // on families the model did not train on (the labels' family column): k inner trainings
            for (auto i : idx)
                if (ls.family[i].empty())
                    throw input_error(
                        a.path("labels"), 0, "family",
                        "--cross-family needs a family for every training star (star " + stars[i].id + " has none)");
            say("train: cross-family calibration of the %s model\n", name.c_str());
            m.set_calibration(rrl_cross_family_calibration(stars, y, idx, ls.family, mo, c.train).calibration);
            calibrated_on = "inner leave-one-family-out";
        } else if (c.train.calibrate && !cv_points.empty()) {
            auto cal = rrl_sigma_calibration::fit(cv_points, c.train.calibration_mc_samples,
                                                  rrlyrae_model::calibration_min_per_bin(cv_points.size()),
                                                  rrl_sigma_calibration::default_edges(), c.train.calibration_method,
                                                  c.train.calibration_feh_bins);
            if (c.train.label_error_scale > 0)
                for (auto t : g) cal.set_label_scale(t, c.train.label_error_scale);
            cal.set_fitted_on({{"residuals", "out-of-fold residuals"}, {"n", cv_points.size()}});
            m.set_calibration(std::move(cal));
            calibrated_on = "out-of-fold residuals";
        }
        report["final"][name] = {{"n", idx.size()},
                                 {"best_epoch", h.best_epoch},
                                 {"best_val_loss", h.best_val_loss},
                                 {"epochs_run", h.epochs.size()},
                                 {"calibration", m.calibration().empty() ? json(nullptr) : m.calibration().to_json()},
                                 {"calibrated_on", calibrated_on}};
        models.push_back(std::move(m));
    }
    if (!lead) return 0;  // every rank holds the same models; one writes them
    save_rrlyrae_models(out, models);
    const std::string rp = a.has("report") ? a.path("report") : out + ".cv.json";
    write_file_atomically(rp, report.dump(2));
    if (c.cv.folds >= 2) write_file_atomically(a.has("oof") ? a.path("oof") : out + ".oof.csv", oof);
    std::fprintf(stderr, "train: wrote %s and %s\n", out.c_str(), rp.c_str());
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

/// Where the search of one group goes: `out` itself for one group, else out with ".<group>" before ".json".
std::string tune_output_path(const std::string& out, const std::string& group, bool several) {
    if (!several) return out;
    const std::string ext = ".json";
    if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
        return out.substr(0, out.size() - ext.size()) + "." + group + ext;
    return out + "." + group;
}

/// Under mpirun the Hyperband trials of each round are dealt across the ranks (tune_rrlyrae); rank 0 prints
/// and writes.
int cmd_tune(const args& a, const communicator& comm) {
    run_config c = read_run_config(a);
    c.train.comm = comm;
    const bool lead = comm.rank() == 0;
    rrl_tune_options to;
    to.max_epochs = a.number("max-epochs");
    to.eta = a.number("eta");
    to.seed = c.train.seed;
    to.holdout_folds = a.count("holdout-folds");
    to.progress = !a.flag("quiet") && lead;
    const std::string out = a.path("out");
    // the files tune derives from --out (one per type, a trials file beside each) never land on an input
    for (const std::string& p : {out, tune_output_path(out, "RRab", true), tune_output_path(out, "RRc", true)}) {
        if (p != out) cli::check_derived_output(a, p, "the per-type output");
        cli::check_derived_output(a, p + ".trials.json", "the trials file");
    }
    if (c.model.architecture == rrl_architecture::fourier_linear)
        throw value_error(
            "tune: fourier_linear has no training hyper-parameters to search (use paper_gru or gru_fourier)");

    const auto ls = read_labelled_stars(a, c, a.flag("quiet") || !lead);
    const auto groups = type_groups(ls, c.cv.unified, a.command());
    std::vector<std::string> written;
    for (const auto& g : groups) {
        const std::string name = group_name(g);
        rrl_options base{c.model, c.train};
        base.model.types = g;
        const auto idx = group_index(ls, g);
        if (lead)
            std::fprintf(stderr, "tune: Hyperband (R = %g epochs, eta = %g) of the %s model on %zu stars%s\n",
                         to.max_epochs, to.eta, name.c_str(), idx.size(),
                         comm.distributed() ? (", trials dealt across " + std::to_string(comm.size()) + " ranks").c_str()
                                            : "");
        const auto r = tune_rrlyrae(ls.stars, ls.y, ls.sigma, idx, base, train::search_space::monti2025(), to);

        run_config best = c;
        best.model = r.best.model;
        best.train = r.best.training;
        const std::string path = tune_output_path(out, name, groups.size() > 1);
        json trials = r.search.to_json();
        trials["model"] = name;
        trials["score"] = "1/sigma^2-weighted RMSE (dex) of the held-out stars; lower is better";
        trials["n_train"] = r.train_index.size();
        trials["n_holdout"] = r.holdout_index.size();
        trials["max_epochs"] = to.max_epochs;
        trials["eta"] = to.eta;
        trials["seed"] = to.seed;
        trials["config"] = path;
        if (!lead) continue;  // every rank has the same result; rank 0 writes it
        write_file_atomically(path, rrl_config_to_json(best).dump(2) + "\n");
        write_file_atomically(path + ".trials.json", trials.dump(2) + "\n");
        std::printf("%s model: best held-out wRMSE %.5f after %g epochs (%zu trials)\n%s", name.c_str(),
                    r.search.best.score, r.search.best.resource, r.search.trials.size(), r.search.table(10).c_str());
        written.push_back(name + ": " + path + " (trials: " + path + ".trials.json)");
    }
    if (!lead) return 0;
    std::printf("\n%s written (each a --config file for train):\n",
                groups.size() > 1 ? "one search per type" : "search");
    for (const auto& w : written) std::printf("  %s\n", w.c_str());
    return 0;
}

/// The files of a --sets directory in the first naming that is there: the long names of `simulate`
/// (epoch_photometry.csv, vari_rrlyrae.csv), their .gz (simulate --format dr3-bulk), or the archive's bulk
/// files (EpochPhotometry_*.csv.gz, VariRrlyrae_*.csv.gz; simulate --files N). An input_error names the
/// directory and what was looked for when none is.
std::vector<std::string> family_files(const std::filesystem::path& dir, const std::string& name,
                                      const std::string& bulk_pattern) {
    std::error_code ec;
    for (const std::string& f : {name, name + ".gz"})
        if (std::filesystem::is_regular_file(dir / f, ec)) return {(dir / f).string()};
    const std::string pattern = (dir / bulk_pattern).string();
    try {
        return expand_glob(pattern);
    } catch (const input_error&) {
        throw input_error(dir.string(), 0, "",
                          "the --sets directory has none of " + name + ", " + name + ".gz, " + bulk_pattern);
    }
}

int cmd_transfer(const args& a) {
    run_config c = read_run_config(a);
    apply_calibration_options(a, c);
    rrl_transfer_options to;
    to.model = c.model;
    to.training = c.train;
    if (a.has("max-epochs")) to.training.max_epochs = int(a.count("max-epochs"));
    to.unified = c.cv.unified;
    to.mc_samples = a.count("mc-samples");
    to.fit_label_error = a.flag("fit-label-error");
    const bool quiet = a.flag("quiet");
    to.combine_classical = a.flag("combine-classical");
    const auto split_dirs = [](const std::string& list) {
        std::vector<std::string> dirs;
        for (std::size_t pos = 0; pos <= list.size();) {
            const std::size_t end = std::min(list.find(',', pos), list.size());
            const std::string dir(trimmed(std::string_view(list).substr(pos, end - pos)));
            pos = end + 1;
            if (!dir.empty()) dirs.push_back(dir);
        }
        return dirs;
    };
    const std::vector<std::string> set_dirs = split_dirs(a.text("sets"));
    const std::vector<std::string> test_dirs = a.has("test-sets") ? split_dirs(a.text("test-sets"))
                                                                  : std::vector<std::string>{};
    if (!test_dirs.empty() && test_dirs.size() != set_dirs.size())
        throw cli::usage_error("transfer: --test-sets names " + std::to_string(test_dirs.size()) + " directories for " +
                               std::to_string(set_dirs.size()) + " --sets families (one per family, same order)");
    std::vector<std::string> dirs = set_dirs;
    dirs.insert(dirs.end(), test_dirs.begin(), test_dirs.end());
    // --sets names directories, not files: the report must not land on a file any of them holds
    struct family_inputs {
        std::vector<std::string> epochs, catalogue;
    };
    std::vector<family_inputs> inputs;
    for (const auto& dir : dirs) {
        const std::filesystem::path d(dir);
        inputs.push_back({family_files(d, "epoch_photometry.csv", "EpochPhotometry_*.csv.gz"),
                          family_files(d, "vari_rrlyrae.csv", "VariRrlyrae_*.csv.gz")});
        std::vector<std::string> all = inputs.back().epochs;
        all.insert(all.end(), inputs.back().catalogue.begin(), inputs.back().catalogue.end());
        all.push_back((d / "labels.csv").string());
        for (const auto& f : all)
            if (cli::detail::same_file(a.path("out"), f))
                throw cli::usage_error("transfer: --out '" + a.path("out") + "' is " +
                                       std::filesystem::path(f).filename().string() + " of --sets directory '" + dir +
                                       "', an input; choose another path");
    }
    std::vector<rrl_family> families, tests;
    for (std::size_t k = 0; k < dirs.size(); ++k) {
        const std::string& dir = dirs[k];
        const std::filesystem::path d(dir);
        rrl_family f;
        f.name = d.filename().empty() ? d.parent_path().filename().string() : d.filename().string();
        const external_sort_options sort_options = cli::predict_sort_options(a.path("out"));
        f.stars = read_archive_inputs(inputs[k].epochs, inputs[k].catalogue, c.model.input, c.train.threads, !quiet,
                                      sort_options);
        const std::string lp = (d / "labels.csv").string();
        const auto labels = read_labels_of(lp, a.text("label-column"), "none", f.stars, sort_options);
        const auto truth = read_labels_of(lp, a.text("truth-column"), "none", f.stars, sort_options);
        for (const auto& s : f.stars) {
            const bool cut = c.cv.paper_cuts && (s.n_epochs < 50 || s.peak_to_peak > 1.4);
            const auto l = cut ? labels.end() : labels.find(s.id);
            const auto t = cut ? truth.end() : truth.find(s.id);
            const double nan = std::numeric_limits<double>::quiet_NaN();
            f.label.push_back(l == labels.end() ? nan : l->second.feh);
            f.truth.push_back(t == truth.end() ? nan : t->second.feh);
            f.mean_g.push_back(t == truth.end() ? nan : t->second.mean_g);
            f.blazhko.push_back(t == truth.end() ? -1 : t->second.blazhko);
        }
        const bool test = k >= set_dirs.size();
        std::fprintf(stderr, "transfer: %s %s: %zu stars from %s\n", test ? "test set of" : "family",
                     test ? families[k - set_dirs.size()].name.c_str() : f.name.c_str(), f.stars.size(), dir.c_str());
        if (test) {
            f.name = families[k - set_dirs.size()].name;
            f.label.assign(f.stars.size(), std::numeric_limits<double>::quiet_NaN());  // never trained on
            tests.push_back(std::move(f));
        } else {
            families.push_back(std::move(f));
        }
    }
    const auto folds = leave_one_family_out(families, to, tests.empty() ? nullptr : &tests);
    json report;
    report["architecture"] = to_string(c.model.architecture);
    report["heteroscedastic"] = c.model.heteroscedastic;
    report["label_column"] = a.text("label-column");
    report["truth_column"] = a.text("truth-column");
    report["max_epochs"] = to.training.max_epochs;
    report["mc_samples"] = to.mc_samples;
    report["calibration"] = to.training.cross_family_calibration ? "inner leave-one-family-out"
                                                                 : "early-stopping hold-out";
    report["cross_family_max_epochs"] = to.training.cross_family_max_epochs;
    report["label_error_scale"] = to.fit_label_error ? json("fitted") : json(to.training.label_error_scale);
    report["test_sets"] = test_dirs;
    report["combine_classical"] = to.combine_classical;
    std::printf(
        "| held-out family | type | stars | model RMSE | classical RMSE | model / classical | model R2 | classical R2 | "
        "bias | 1-sigma coverage | 2-sigma coverage | median sigma |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& f : folds) {
        const json j = f.to_json();
        report["folds"].push_back(j);
        for (const auto& t : j["model_vs_truth"]["per_type"].items()) {
            const auto& m = t.value();
            const auto& cl = j["classical_vs_truth"]["per_type"][t.key()];
            if (!m.contains("rmse")) continue;
            const auto num = [](const json& x, const char* k) {
                return x.contains(k) && x[k].is_number() ? x[k].get<double>() : std::nan("");
            };
            std::printf("| %s | %s | %zu | %.3f | %.3f | %.2f | %.3f | %.3f | %+.3f | %.3f | %.3f | %.3f |\n",
                        f.held_out.c_str(), t.key().c_str(), m["n"].get<std::size_t>(), num(m, "rmse"), num(cl, "rmse"),
                        num(m, "rmse") / num(cl, "rmse"), num(m, "r2"), num(cl, "r2"), num(m, "bias"),
                        num(m, "coverage_1sigma"), num(m, "coverage_2sigma"), num(m, "median_sigma"));
            if (!j.contains("combined_vs_truth") || !j["combined_vs_truth"]["per_type"].contains(t.key())) continue;
            const auto& cm = j["combined_vs_truth"]["per_type"][t.key()];
            std::printf(
                "| %s | %s + classical | %zu | %.3f | %.3f | %.2f | %.3f | %.3f | %+.3f | %.3f | %.3f | %.3f |\n",
                f.held_out.c_str(), t.key().c_str(), cm["n"].get<std::size_t>(), num(cm, "rmse"), num(cl, "rmse"),
                num(cm, "rmse") / num(cl, "rmse"), num(cm, "r2"), num(cl, "r2"), num(cm, "bias"),
                num(cm, "coverage_1sigma"), num(cm, "coverage_2sigma"), num(cm, "median_sigma"));
        }
    }
    write_file_atomically(a.path("out"), report.dump(2) + "\n");
    std::fprintf(stderr, "transfer: wrote %s\n", a.path("out").c_str());
    return 0;
}

/// The pretrained model: $FERRUM_MODEL_DIR, then share/ferrum/models beside the installed program, then the
/// source tree's models/ (a program run from its build directory).
std::string default_model_path() {
    std::vector<std::filesystem::path> where;
    if (const char* d = std::getenv("FERRUM_MODEL_DIR")) where.emplace_back(d);
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) where.push_back(exe.parent_path() / FERRUM_DATA_FROM_BIN / "models");
    where.push_back(std::filesystem::path(FERRUM_SOURCE_DATA) / "models");
    std::string tried;
    for (const auto& d : where) {
        const auto p = d / "rrlyrae_default.json";
        if (std::filesystem::is_regular_file(p, ec)) return p.string();
        tried += (tried.empty() ? "" : ", ") + p.string();
    }
    throw value_error("predict: no --model given and no pretrained model found (looked for " + tried +
                      "); give --model or set FERRUM_MODEL_DIR");
}

/// A shard of a predict run: shard k of N of the sources (by source_id), or (per_file) the k-th of the N
/// --epoch-photometry files.
struct predict_shard {
    shard_spec spec;
    bool per_file = false;
};

/// predict, of all the stars into --out, or of one shard into OUT.shard-k-of-N and its manifest. `catalogue`: the
/// process's catalogue, read by its first --per-file shard and kept for the next (catalogue_reuse).
int predict_stars(const args& a, std::optional<predict_shard> shard, catalogue_reuse* catalogue = nullptr) {
    const std::string mp = a.has("model") ? a.path("model") : default_model_path(), out = a.path("out");
    if (!a.has("model")) std::fprintf(stderr, "predict: the pretrained model %s\n", mp.c_str());
    const unsigned threads = threads_or(a, 0);
    const std::size_t mc = a.count("mc-samples");
    const auto seed = std::uint64_t(a.count("seed"));
    std::vector<std::string> shard_inputs, files;
    json settings;
    if (a.has("epoch-photometry")) files = input_files(a, "epoch-photometry");
    if (shard) {
        if (!a.has("epoch-photometry"))
            throw cli::usage_error("predict: --shard, --per-file (and mpirun) need --epoch-photometry F --catalogue C");
        need(a, "catalogue");
        // what decides a shard's rows: its inputs (a shard of one file reads that file alone) and settings; a
        // finished shard is reused only with the same
        if (shard->per_file) files = {files.at(shard->spec.index)};
        shard_inputs = files;
        for (auto& f : input_files(a, "catalogue")) shard_inputs.push_back(std::move(f));
        shard_inputs.push_back(mp);
        // the shard's files are named from --out: neither may be a file this run reads
        cli::check_derived_output(a, shard_output_path(out, shard->spec), "the shard file of --out");
        cli::check_derived_output(a, shard_manifest_path(out, shard->spec), "the shard manifest of --out");
        settings = {{"command", "predict"},
                    {"mc_samples", mc},
                    {"seed", seed},
                    {"mc_dropout_masks", "keyed by source_id"},  // earlier builds' shards (by batch position) are rerun
                    {"partition", shard->per_file ? partition_by_file : partition_by_source_id},
                    {"format", is_ecsv_path(out) ? "ecsv" : "csv"}};
        const std::string why = shard_staleness(out, shard->spec, shard_inputs, settings);
        if (why.empty()) {
            std::fprintf(stderr, "predict: shard %zu of %zu is finished and its inputs are unchanged (%s): skipped\n",
                         shard->spec.index, shard->spec.count, shard_manifest_path(out, shard->spec).c_str());
            return 0;
        }
    }
    auto models = load_rrlyrae_models(mp);
    // a star's MC-dropout masks are keyed by (seed, its source_id): the same whatever its batch, shard or file
    const auto batch_predict = [&](const std::vector<rrl_star_input>& stars, std::uint64_t) {
        return predict_rrlyrae(models, stars, mc, seed, threads);
    };
    prediction_counts n;
    if (a.has("epoch-photometry")) {  // the archive's files, of any size: streamed in batches
        if (shard) {
            std::ostringstream rows;
            n = stream_archive_predictions(a, files, models.front().options().input, threads, a.count("batch"), rows,
                                           shard->per_file ? nullptr : &shard->spec,
                                           shard->per_file ? catalogue : nullptr, batch_predict);
            write_shard(out, shard->spec, shard_inputs, settings, predictions_header(out, true, "ferrum-rrl predict"),
                        rows.str(), shard->per_file ? partition_by_file : partition_by_source_id,
                        shard->per_file ? 1 : 0);
        } else {
            n = stream_archive_to_file(a, models.front().options().input, threads, a.count("batch"),
                                       "ferrum-rrl predict", batch_predict);
        }
    } else {  // a per-star table (--folded, --light-curves): streamed in batches too
        n = table_predictions_to_file(a, models.front().options().input, threads, a.count("batch"),
                                      "ferrum-rrl predict", batch_predict);
    }
    std::fprintf(stderr, "predict: %zu stars, %zu predicted (%zu outside the training domain), %zu flagged -> %s\n",
                 n.stars, n.predicted, n.warned, n.stars - n.predicted,
                 shard ? shard_output_path(out, shard->spec).c_str() : out.c_str());
    return 0;
}

/// calibrate: a new sigma calibration of a trained model on labelled stars; the networks are not touched.
int cmd_calibrate(const args& a) {
    const std::string mp = a.has("model") ? a.path("model") : default_model_path(), out = a.path("out");
    if (cli::detail::same_file(out, mp))
        throw cli::usage_error("--out '" + out + "' is the model file this run reads ('" + mp +
                               "'): an output never replaces an input; write it elsewhere");
    const std::size_t feh_bins = a.has("calibration-feh-bins") ? feh_bins_of(a) : 0;  // before any reading
    auto models = load_rrlyrae_models(mp);
    run_config c;
    c.model = models.front().options();
    c.train.threads = threads_or(a, 0);
    const bool quiet = a.flag("quiet");
    const auto ls = read_labelled_stars(a, c, quiet);
    const auto method = rrl_calibration_method_from_string(a.choice("method"));
    const auto seed = std::uint64_t(a.count("seed"));
    for (auto& m : models) {
        std::vector<std::size_t> idx;
        for (std::size_t i = 0; i < ls.stars.size(); ++i)
            if (std::isfinite(ls.y[i]) && m.serves(ls.stars[i].type)) idx.push_back(i);
        std::string name;
        for (auto t : m.options().types) name += std::string(name.empty() ? "" : "+") + to_string(t);
        if (idx.empty()) {
            std::fprintf(stderr, "calibrate: no labelled star for the %s model: its calibration is kept\n",
                         name.c_str());
            continue;
        }
        const auto& old = m.calibration();
        const std::size_t mc =
            a.has("mc-samples") ? a.count("mc-samples") : (old.empty() || !old.mc_samples() ? 20 : old.mc_samples());
        if (!quiet) std::fprintf(stderr, "calibrate: %s model, %zu stars, %zu MC-dropout passes\n", name.c_str(),
                                 idx.size(), mc);
        const auto pts = m.calibration_points(ls.stars, ls.y, idx, mc, seed, c.train.threads);
        auto cal = rrl_sigma_calibration::fit(pts, mc, rrlyrae_model::calibration_min_per_bin(pts.size()),
                                              rrl_sigma_calibration::default_edges(), method, feh_bins);
        for (auto t : m.options().types)  // the label-error factor is not refitted here: kept
            for (const auto& b : old.bins())
                if (b.type == t && b.label_scale > 0) {
                    cal.set_label_scale(t, b.label_scale);
                    break;
                }
        const auto cover = [&pts](const rrl_sigma_calibration& k, double z) {
            std::vector<double> r, s;
            for (const auto& p : pts) {
                r.push_back(p.residual);
                s.push_back(k.empty() ? p.sigma_raw : k.apply(p.type, p.n_epochs, p.sigma_raw, p.sigma_label, p.prediction));
            }
            return rrl_coverage(r, s, z);
        };
        const double c1 = cover(cal, 1), c2 = cover(cal, 2);
        std::fprintf(stderr,
                     "calibrate: %s coverage on these stars (1 sigma, 2 sigma): %.3f, %.3f before; %.3f, %.3f "
                     "after (%s)\n",
                     name.c_str(), cover(old, 1), cover(old, 2), c1, c2, to_string(method));
        cal.set_fitted_on({{"command", "ferrum-rrl calibrate"},
                           {"method", to_string(method)},
                           {"feh_bins", cal.feh_bins().size()},
                           {"labels", std::filesystem::path(a.path("labels")).filename().string()},
                           {"label_column", a.text("label-column")},
                           {"n", pts.size()},
                           {"coverage_1sigma", c1},
                           {"coverage_2sigma", c2},
                           {"replaced", old.empty() ? json(nullptr) : old.to_json()}});
        m.set_calibration(std::move(cal));
    }
    save_rrlyrae_models(out, models);
    std::fprintf(stderr, "calibrate: wrote %s\n", out.c_str());
    return 0;
}

using cli::mpi_world;

/// predict: by hand or in a job array (--shard k/N), or under mpirun, where rank r predicts shard r of the
/// ranks (static: a hash partition gives every rank about the same mix of stars) and, once every rank has
/// finished, rank 0 merges them into --out. With --per-file each --epoch-photometry file is a shard: a job
/// array task takes files k, k+N, ...; under mpirun the ranks take the next unfinished file from a shared
/// counter (cli::shared_counter) until none is left, so a rank that finishes early takes more. A rank that
/// fails makes the whole job fail with no merged output.
int cmd_predict(const args& a, const mpi_world& world) {
    const bool per_file = a.flag("per-file");
    if (per_file && !a.has("epoch-photometry"))
        throw cli::usage_error("predict: --per-file needs --epoch-photometry F (one shard per file) --catalogue C");
    const std::size_t nfiles = per_file ? input_files(a, "epoch-photometry").size() : 0;
    const auto file_shard = [&](std::size_t i) { return predict_shard{{i, nfiles}, true}; };
    catalogue_reuse catalogue;  // read once by this process (rank) and reused for every file it takes
    if (!world.active()) {
        if (!a.has("shard")) {
            if (!per_file) return predict_stars(a, std::nullopt);
            for (std::size_t i = 0; i < nfiles; ++i) predict_stars(a, file_shard(i), &catalogue);
            const std::size_t rows = merge_shards(a.path("out"), nfiles);
            std::fprintf(stderr, "predict: merged %zu rows from %zu files into %s\n", rows, nfiles,
                         a.path("out").c_str());
            return 0;
        }
        const shard_spec task = parse_shard_spec(a.text("shard"));
        if (!per_file) return predict_stars(a, predict_shard{task, false});
        for (std::size_t i = task.index; i < nfiles; i += task.count) predict_stars(a, file_shard(i), &catalogue);
        return 0;
    }
    if (a.has("shard"))
        throw cli::usage_error("predict: --shard is for job arrays; under mpirun each rank takes its own shard");
    if (!per_file) {
        const shard_spec mine{std::size_t(world.rank()), std::size_t(world.size())};
        return cli::predict_across_ranks("ferrum-rrl", world, a.path("out"), mine.count, [&] {
            predict_stars(a, predict_shard{mine, false});
        });
    }
    cli::shared_counter next_file(world);
    return cli::predict_across_ranks("ferrum-rrl", world, a.path("out"), nfiles, [&] {
        for (std::size_t i = next_file.next(); i < nfiles; i = next_file.next()) predict_stars(a, file_shard(i), &catalogue);
    });
}

/// train under mpirun: data-parallel. An error on one rank would leave the others waiting in a collective,
/// so it is printed with the rank and ends the whole job (MPI_Abort); the outputs, written by rank 0 at the
/// end, atomically, are then absent.
/// Runs a command that works across the ranks (train, tune): a rank that fails says so and ends the job.
int cmd_ranks(const args& a, const mpi_world& world, int (*command)(const args&, const communicator&)) {
    if (world.size() == 1) return command(a, world.comm());
    try {
        return command(a, world.comm());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferrum-rrl: rank %d of %d: %s\n", world.rank(), world.size(), e.what());
        std::fflush(stderr);
        world.abort(1);
    }
}

int cmd_merge(const args& a) {
    const std::size_t rows = merge_shards(a.path("out"), a.count("shards"));
    std::fprintf(stderr, "merge: %zu rows from %zu shards -> %s\n", rows, std::size_t(a.count("shards")),
                 a.path("out").c_str());
    return 0;
}

int cmd_classical(const args& a) {
    const auto classical = [](const std::vector<rrl_star_input>& stars, std::uint64_t) { return classical_feh(stars); };
    if (a.has("epoch-photometry"))
        stream_archive_to_file(a, {}, threads_or(a, 0), a.count("batch"), "ferrum-rrl classical", classical);
    else if (a.has("folded") || a.has("light-curves"))
        table_predictions_to_file(a, {}, threads_or(a, 0), a.count("batch"), "ferrum-rrl classical", classical);
    else no_inputs(a);
    return 0;
}

/// A label as evaluate's join holds it (core/external_sort.hpp): plain data, with its line for errors.
struct evaluate_label {
    double feh = 0, sigma = 0, mean_g = 0;
    int blazhko = -1;
    std::size_t line = 0;
};

/// A scored star as evaluate keeps it for its passes (rrl_scored_star without the id, which no metric uses).
struct evaluate_star {
    rr_type type = rr_type::unknown;
    double truth = 0, label_sigma = 0, feh = 0;
    std::size_t n_epochs = 0;
    double mean_g = 0;
    int blazhko = -1;
    double sigma = 0;
    rrl_scored_star scored() const { return {{}, type, truth, label_sigma, feh, n_epochs, mean_g, blazhko, sigma}; }
};

// The predictions are joined to the labels by id in bounded memory: the labels and the predictions' ids go
// through an external sort (temporary files beyond FERRUM_EVALUATE_RUN_BYTES, 32 MiB), which hands back, for
// each prediction row in file order, its label. The predictions are then read a second time, row by row as
// before, so every error is the one (and at the line) that holding the labels in a map gave, and the
// metrics add the stars in the same order: the same JSON, bit for bit.
int cmd_evaluate(const args& a) {
    cli::check_output_dir_files(a, "plots", rrlyrae_plot_files());  // no plot on top of an input
    const std::string pp = a.path("predictions"), lp = a.path("labels");
    const external_sort_options sort_options = cli::evaluate_sort_options();
    sorted_lookup<evaluate_label, char> labels(sort_options);
    std::string id_field;
    cli::read_keyed_rows(
        [&] {
        for_each_label(lp, a.text("label-column"), a.text("error-column"),
                       [&](const std::string& id, const label_row& l, std::size_t line, const std::string& field) {
            id_field = field;
            labels.add_build(id, {l.feh, l.sigma, l.mean_g, l.blazhko, line});
        });
        },
        [&] {
        if (const auto r = labels.repeated_build_key()) throw repeated_label(lp, r->value.line, id_field, r->key);
    });
    {  // pass 1: the id of every row, until a row that pass 2 will refuse
        csv_reader csv(pp);
        const auto cid = csv.column("source_id");
        try {
            while (const csv_record* r = csv.next()) {
                require_field_count(csv, *r);
                labels.add_probe(trimmed((*r)[cid]), 0);
            }
        } catch (const ferrum::error&) {
        }
    }
    auto label_of = labels.results();
    csv_reader csv(pp);
    const auto cid = csv.column("source_id"), ct = csv.column("type"), cf = csv.column("feh"),
               cn = csv.column("n_epochs");
    const auto cs = csv.find_column("feh_sigma");
    record_store<evaluate_star> scored(sort_options);
    std::size_t rows = 0, unpredicted = 0, unlabelled = 0;
    while (const csv_record* r = csv.next()) {
        ++rows;
        require_field_count(csv, *r);
        const auto* label = label_of.next();  // one per row of pass 1, in the same order
        if (!label) throw value_error("evaluate: '" + pp + "' changed while it was read");
        const std::string id(trimmed((*r)[cid]));
        if (trimmed((*r)[cf]).empty()) {
            ++unpredicted;
            continue;
        }
        const auto f = parse_double((*r)[cf]);
        if (!f.ok()) throw input_error(pp, r->line(), "feh", "not a number: '" + std::string((*r)[cf]) + "'");
        const auto n = parse_int64((*r)[cn]);
        if (!n.ok()) throw input_error(pp, r->line(), "n_epochs", "not an integer: '" + std::string((*r)[cn]) + "'");
        if (!label->found) {
            ++unlabelled;
            continue;
        }
        const evaluate_label& l = label->build;
        const rr_type type = classify_rr_type((*r)[ct]);
        if (type == rr_type::unknown)
            throw input_error(pp, r->line(), "type", "not an RR Lyrae type: '" + std::string((*r)[ct]) + "'");
        evaluate_star sc{type,
                         l.feh,
                         l.sigma,
                         cli::plausible_feh(f.value, pp, r->line(), "feh"),
                         std::size_t(n.value),
                         l.mean_g,
                         l.blazhko,
                         std::numeric_limits<double>::quiet_NaN()};
        if (cs && !trimmed((*r)[*cs]).empty()) {
            const auto s = parse_double((*r)[*cs]);
            if (!s.ok() || !(s.value >= 0))
                throw input_error(pp, r->line(), "feh_sigma", "not a number >= 0: '" + std::string((*r)[*cs]) + "'");
            sc.sigma = cli::plausible_feh(s.value, pp, r->line(), "feh_sigma");
        }
        scored.push_back(sc);
    }
    cli::require_usable_rows(pp, rows, rows - unpredicted, "every star is flagged: no feh");
    if (scored.size() < 2) throw value_error("evaluate: fewer than 2 predicted stars have labels");
    // --plots: the figures are gathered in the metrics' passes, in bounded memory (models/rrlyrae_plots.hpp)
    rrl_plot_accumulator plots;
    const auto each_star = [&](auto&& visit) {
        scored.for_each([&](const evaluate_star& s) { visit(s.scored()); });
    };
    json j = a.has("plots") ? evaluate_rrlyrae_streamed(each_star, unpredicted, plots)
                            : evaluate_rrlyrae_streamed(each_star, unpredicted);
    j["n_without_label"] = unlabelled;
    cli::require_finite_metrics(j, "evaluate");
    if (a.has("plots")) j["plots"] = plots.write(a.path("plots"), a.text("title"));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    cli::tool_conventions conventions;
    conventions.unexpected_exit = 3;
    const mpi_world world(&argc, &argv);
    return cli::run_tool(
        program(), argc, argv,
        [&world](const args& a) {
        if (a.flag("quiet")) setenv("FERRUM_QUIET", "1", 1);
        if (a.command() == "predict") return cmd_predict(a, world);
        if (a.command() == "train") return cmd_ranks(a, world, cmd_train);
        if (a.command() == "tune") return cmd_ranks(a, world, cmd_tune);
        if (world.size() > 1)
            throw cli::usage_error(a.command() + ": only predict, train and tune run under mpirun (here " +
                                   std::to_string(world.size()) + " ranks would each run it)");
        if (a.command() == "merge") return cmd_merge(a);
        if (a.command() == "simulate") return cmd_simulate(a);
        if (a.command() == "transfer") return cmd_transfer(a);
        if (a.command() == "classical") return cmd_classical(a);
        if (a.command() == "calibrate") return cmd_calibrate(a);
        return cmd_evaluate(a);
        },
        conventions);
}
