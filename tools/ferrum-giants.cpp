// ferrum-giants: giant-star [Fe/H] with uncertainties -- UA-CSNet on Gaia XP spectra (Yang et al.) and the
// two-stage Bayesian MLP on Gaia/2MASS/WISE colours (Fallows & Sanders 2022): simulate, train, predict, evaluate.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferrum/core/atomic_file.hpp>
#include <ferrum/core/csv.hpp>
#include <ferrum/core/external_sort.hpp>
#include <ferrum/core/shards.hpp>
#include <ferrum/models/detail/giants_common.hpp>
#include <ferrum/models/photometric_parallax.hpp>
#include <ferrum/models/ua_csnet.hpp>
#include <ferrum/photometry/colour_features.hpp>
#include <ferrum/sim/giants.hpp>
#include <ferrum/spectra/xp_continuous.hpp>
#include <ferrum/spectra/xp_spectra.hpp>
#include <ferrum/stats/streamed_selection.hpp>

#include "cli/inputs.hpp"
#include "cli/options.hpp"
#include "cli/ranks.hpp"
#include "cli/run_tool.hpp"

namespace {

using namespace ferrum;
using json = nlohmann::json;

/// --gaiaxpy-config, for the commands that read --xp.
cli::option gaiaxpy_config_option() {
    return cli::path("gaiaxpy-config",
                     "GaiaXPy's config folder, for archive XP coefficients in --xp (default $GAIAXPY_CONFIG)")
        .shown_as("DIR");
}

const cli::program& program() {
    static const cli::program p{
        "ferrum-giants",
        "ferrum-giants: giant-star [Fe/H] with uncertainties",
        {{"simulate",
          "Simulated giants with known answers: DIR/xp_spectra.csv (GaiaXPy sampled-spectrum CSV) and\n"
          "DIR/catalogue.csv (labels feh, feh_error, truth, bp_rp0, Gaia/2MASS/AllWISE photometry, parallax).",
          {cli::count("n", "number of giants (at least 1)", "10000").range(0, 1e8),
           cli::path("out", "output directory").output_dir().shown_as("DIR").required(),
           cli::count("seed", "random seed", "1"), cli::flag("no-spectra", "the catalogue only"),
           cli::number("tail-fraction", "fraction of metal-poor tail stars",
                       cli::default_of(sim::giant_sim_options{}.tail_fraction))}},
         {"train",
          "ua_csnet: UA-CSNet on XP spectra; the catalogue gives feh and bp_rp0 (for the cost-sensitive weights)\n"
          "per source_id. bnn: the two-stage colour model, photometric parallax by K-fold, then the Bayesian MLP\n"
          "(labels feh, feh_error).",
          {cli::choice("model", "which model", {"ua_csnet", "bnn"}).required(),
           cli::path("catalogue", "labels (and, for bnn, the photometry) by source_id").required(),
           cli::path("xp", "XP spectra (ua_csnet): GaiaXPy's sampled CSV or the archive's continuous ones"),
           gaiaxpy_config_option(), cli::path("out", "model file (JSON)").output().required(),
           cli::count("max-epochs",
                      "training epochs (default " + cli::default_of(models::ua_csnet_training_options{}.max_epochs) +
                          " for ua_csnet, " + cli::default_of(models::bnn_training_options{}.max_epochs) + " for bnn)")
               .range(0, 1e6),
           cli::count("folds", "photometric-parallax folds (bnn)",
                      cli::default_of(models::photometric_parallax_options{}.folds))
               .range(2, 1000),
           cli::count("mc-samples", "MC-dropout samples (bnn)",
                      cli::default_of(models::photometric_parallax_options{}.mc_samples))
               .range(0, 100000),
           cli::flag("no-costs",
                     "without the cost-sensitive weights (bnn: W = |[Fe/H]| + 0.5 of Fallows & "
                     "Sanders eq. 11)"),
           cli::count("seed", "random seed", "1")}},
         {"predict",
          "Writes source_id,feh,feh_sigma,sigma_model,sigma_dropout,parallax,parallax_error,giant,flag.",
          {cli::path("model", "model file").required(), cli::path("catalogue", "photometry (colour model)"),
           cli::path("xp", "XP spectra (UA-CSNet): GaiaXPy's sampled CSV or the archive's continuous ones"),
           gaiaxpy_config_option(), cli::path("out", "predictions CSV").output().required(),
           cli::count("mc-samples", "MC-dropout samples (colour model; default: the model's)").range(0, 100000),
           cli::count("batch", "stars predicted at a time: memory holds one batch", "65536").range(1, 1e7),
           cli::count("seed", "random seed of the MC-dropout samples", "12345"),
           cli::text("shard",
                     "k/N: only the sources of shard k (0-based) of N (splitmix64 of source_id mod N), written to "
                     "OUT.shard-k-of-N sorted by source_id with a manifest OUT.shard-k-of-N.json; a finished shard "
                     "whose inputs are unchanged is skipped. Then merge. Under mpirun (built with MPI) rank r runs "
                     "shard r and rank 0 merges into OUT (docs/scaling.md)")}},
         {"merge",
          "Merges OUT.shard-k-of-N (k = 0..N-1, from predict --shard k/N) into OUT sorted by source_id,\n"
          "atomically; refuses a missing shard and a stale one (its inputs or output changed since).",
          {cli::path("out", "the merged predictions (the --out of predict)").output().required(),
           cli::count("shards", "N, the number of shards").required().range(1, 1e6)}},
         {"evaluate",
          "Calibration JSON on stdout: fractions of |residual| below 1 and 2 sigma (sigma combined with the\n"
          "label error when --error-column names one; --error-column none compares with sigma alone), bias and\n"
          "rms overall and per [Fe/H] bin.",
          {cli::path("predictions", "predictions CSV").required(),
           cli::path("catalogue", "labels by source_id").required(),
           cli::text("label-column", "the catalogue's [Fe/H] column", "feh"),
           cli::text("error-column", "the catalogue's label-error column, or none", "feh_error")}}},
        {cli::flag("quiet", "no progress on stderr (also FERRUM_QUIET=1)"),
         cli::count("threads", "worker threads (default: all cores; results do not depend on it)").range(1, 1024)}};
    return p;
}

using args = cli::parsed;

/// Labels and colours of the catalogue, by source_id.
struct catalogue {
    std::vector<std::int64_t> id;
    std::map<std::string, std::vector<double>> col;
    std::unordered_map<std::int64_t, std::size_t> row;
};

/// Reads a source_id table row by row, in file order: on_id(source_id, line) once a row's id is read, then
/// on_row(values) with its `columns` (NaN where empty). `feh_columns`: the columns holding [Fe/H] or its error,
/// whose values must be plausible (cli::plausible_feh). Returns the number of rows (a file without rows is an
/// input_error).
template <class OnId, class OnRow>
std::size_t for_each_catalogue_row(const std::string& path, const std::vector<std::string>& columns, bool required,
                                   const std::vector<std::string>& feh_columns, OnId&& on_id, OnRow&& on_row) {
    csv_reader in(path);
    const std::size_t cid = in.column("source_id");
    std::vector<std::optional<std::size_t>> idx;
    for (const auto& n : columns)
        idx.push_back(required ? std::optional<std::size_t>(in.column(n)) : in.find_column(n));
    std::vector<double> values(columns.size());
    std::size_t rows = 0;
    while (const csv_record* r = in.next()) {
        require_field_count(in, *r);
        const auto id = parse_int64((*r)[cid]);
        if (!id.ok()) throw input_error(path, r->line(), "source_id", "not an integer");
        on_id(id.value, r->line());
        for (std::size_t k = 0; k < columns.size(); ++k) {
            double v = NAN;
            if (idx[k]) {
                const auto f = parse_double((*r)[*idx[k]]);
                if (f.ok()) v = f.value;
                else if (f.status != field_status::empty)
                    throw input_error(path, r->line(), columns[k], "not a finite number");
                if (f.ok() && std::find(feh_columns.begin(), feh_columns.end(), columns[k]) != feh_columns.end())
                    cli::plausible_feh(v, path, r->line(), columns[k]);
            }
            values[k] = v;
        }
        on_row(values);
        ++rows;
    }
    cli::require_usable_rows(path, rows, rows);
    return rows;
}

input_error duplicate_source(const std::string& path, std::size_t line, std::int64_t id) {
    return input_error(path, line, "source_id", "duplicate source_id " + std::to_string(id));
}

catalogue read_catalogue(const std::string& path, const std::vector<std::string>& columns, bool required,
                         const std::vector<std::string>& feh_columns = {}) {
    catalogue c;
    for (const auto& n : columns) c.col[n];
    for_each_catalogue_row(
        path, columns, required, feh_columns,
        [&](std::int64_t id, std::size_t line) {
        if (!c.row.emplace(id, c.id.size()).second) throw duplicate_source(path, line, id);
        c.id.push_back(id);
        },
        [&](const std::vector<double>& values) {
        for (std::size_t k = 0; k < columns.size(); ++k) c.col[columns[k]].push_back(values[k]);
    });
    return c;
}

/// The catalogue's feh and bp_rp0 by source_id for `train --model ua_csnet`, whose training set is the --xp
/// spectra: a whole-survey catalogue beside a few thousand spectra costs memory for an index, not a map of every
/// row. Every row is read and checked in file order as read_catalogue reads it; the rows, sorted by source_id,
/// stay in memory up to FERRUM_PREDICT_RUN_BYTES (32 MiB, about 600,000 rows) and beyond it go to one temporary
/// file beside --out (cli::predict_sort_options), looked up a block at a time. A repeated source_id, found once
/// the ids are sorted, is the error read_catalogue gives: the repeat earliest in the file, unless a bad row
/// comes before it.
class label_index {
public:
    struct row {
        std::int64_t id = 0;
        std::uint64_t line = 0;
        double feh = NAN, bp_rp0 = NAN;
    };

    label_index(const std::string& path, const external_sort_options& so) : index_(so) {
        external_sorter<row> sorter(so);
        const auto repeated = [&](const repeated_key<row>& r) {
            return duplicate_source(path, std::size_t(r.repeat.value.line), r.repeat.value.id);
        };
        try {
            row cur;
            for_each_catalogue_row(
                path, {"feh", "bp_rp0"}, true, {"feh"},
                [&](std::int64_t id, std::size_t line) {
                cur.id = id;
                cur.line = line;
                },
                [&](const std::vector<double>& v) {
                cur.feh = v[0];
                cur.bp_rp0 = v[1];
                sorter.push(key(cur.id), cur);
            });
        } catch (const ferrum::error&) {
            if (const auto r = index_sorted_groups<row>(sorter, nullptr, 0, false)) throw repeated(*r);
            throw;
        }
        if (const auto r = index_sorted_groups(sorter, &index_, 0, false)) throw repeated(*r);
    }

    /// The row of `source_id`, if the catalogue has it.
    std::optional<row> find(std::int64_t source_id) const {
        const auto e = index_.find(key(source_id));
        if (!e) return std::nullopt;
        return e->value;
    }

private:
    /// The order-preserving big-endian bytes of a source_id.
    static std::string key(std::int64_t id) {
        std::uint64_t u = std::uint64_t(id) ^ (std::uint64_t(1) << 63);
        std::string k(sizeof u, '\0');
        for (int i = 7; i >= 0; --i, u >>= 8) k[std::size_t(i)] = char(u & 0xff);
        return k;
    }

    sorted_key_index<row> index_;
};

/// One source of --xp: its network input, or why it has none (a band missing in a continuous spectrum).
struct xp_item {
    std::int64_t id = 0;
    spectra::xp_pixels pixels;
    std::string unusable;  ///< empty: `pixels` holds the input
};

/// The sources of --xp, read a batch at a time so memory holds one batch whatever the size of the file:
/// GaiaXPy's sampled CSV, or the archive's xp_continuous_mean_spectrum (told apart by the header), which is
/// calibrated with GaiaXPy's configuration (--gaiaxpy-config or $GAIAXPY_CONFIG) onto GaiaXPy's default
/// grid first. Continuous sources without BP or RP cannot cover UA-CSNet's range: they come back with a
/// reason in `unusable`, not predicted.
class xp_source {
public:
    explicit xp_source(const args& a) : path_(a.path("xp")), wl_(spectra::gaiaxpy_default_sampling()) {
        if (spectra::is_xp_continuous_file(path_)) {
            std::string config = a.has("gaiaxpy-config") ? a.path("gaiaxpy-config") : "";
            if (config.empty())
                if (const char* e = std::getenv("GAIAXPY_CONFIG")) config = e;
            if (config.empty())
                throw cli::usage_error("--xp '" + path_ +
                                       "' holds continuous XP spectra (coefficients): name GaiaXPy's config folder "
                                       "with --gaiaxpy-config DIR or $GAIAXPY_CONFIG to sample them");
            calibration_ = spectra::load_xp_calibration(config);
            continuous_.emplace(path_);
        } else {
            sampled_.emplace(path_);
        }
    }

    /// Replaces `out` with the next (at most) `n` sources; false at the end of the file. A sampled spectrum
    /// (343 fluxes and errors) is reduced to its pixels as soon as it is read, continuous ones are calibrated
    /// 512 at a time: the batch holds pixels only.
    bool next(std::vector<xp_item>& out, std::size_t n) {
        out.clear();
        while (out.size() < n) {
            std::vector<spectra::xp_spectrum> raw;
            if (continuous_) {
                std::vector<spectra::xp_continuous_spectrum> chunk;
                while (chunk.size() < std::min<std::size_t>(512, n - out.size()))
                    if (auto c = continuous_->next()) chunk.push_back(std::move(*c));
                    else break;
                if (chunk.empty()) break;
                raw = spectra::calibrate(*calibration_, chunk);
            } else if (auto r = sampled_->next()) {
                raw.push_back(std::move(*r));
            }
            if (raw.empty()) break;
            for (const auto& r : raw) out.push_back(item_of(r));
        }
        return !out.empty();
    }

    /// Once the file is read: refuses a file without a usable source, and says how many were left out.
    void finish() const {
        cli::require_usable_rows(path_, rows_, rows_ - unusable_,
                                 unusable_ ? std::to_string(unusable_) + " without BP or RP" : std::string());
        if (unusable_)
            std::cerr << path_ << ": " << unusable_
                      << " sources without BP or RP left out (UA-CSNet needs 400-1000 nm)\n";
    }

private:
    xp_item item_of(const spectra::xp_spectrum& r) {
        xp_item item;
        item.id = r.source_id;
        ++rows_;
        if (std::isnan(r.flux.front()) || std::isnan(r.flux.back())) {
            item.unusable = std::isnan(r.flux.front()) ? "no BP spectrum" : "no RP spectrum";
            ++unusable_;
            return item;
        }
        try {
            item.pixels = spectra::resample_xp(r, wl_);
        } catch (const value_error& e) {
            throw input_error(path_, 0, "flux", "source_id " + std::to_string(r.source_id) + ": " + e.what());
        }
        return item;
    }

    std::string path_;
    std::vector<double> wl_;
    std::optional<spectra::xp_calibration> calibration_;
    std::optional<spectra::xp_continuous_reader> continuous_;
    std::optional<spectra::xp_spectra_reader> sampled_;
    std::size_t rows_ = 0, unusable_ = 0;
};

/// What the colour model may be given: values outside are not a star (a sentinel such as 99 or -99, a
/// wrong column, a corrupt file), and the network would turn them into a confident-looking number.
struct giants_plausible_range {
    static constexpr double min_mag = -5.0, max_mag = 30.0;  ///< any of the 8 bands (Ks of the brightest giants: -4)
    static constexpr double max_abs_parallax = 1000.0;       ///< mas (the nearest star: 768 mas)
    static constexpr double min_parallax_error = 1e-4, max_parallax_error = 1000.0;  ///< mas; 0 or less is no error
};

/// Why a star of --catalogue gets no number ("implausible_magnitude: G=-99"); empty when its values are plausible.
/// A missing value (an empty field) is not implausible: the model flags a missing band itself, and predicts
/// without the Gaia parallax when there is none.
std::string implausible(const photometry::photometry_row& p) {
    using r = giants_plausible_range;
    char b[160];
    for (std::size_t k = 0; k < photometry::n_bands; ++k)
        if (std::isfinite(p.mag[k]) && !(p.mag[k] >= r::min_mag && p.mag[k] <= r::max_mag)) {
            std::snprintf(b, sizeof b, "implausible_magnitude: %s=%.6g (outside %g-%g mag)", photometry::band_names[k],
                          p.mag[k], r::min_mag, r::max_mag);
            return b;
        }
    if (std::isfinite(p.parallax) && !(std::abs(p.parallax) <= r::max_abs_parallax)) {
        std::snprintf(b, sizeof b, "implausible_parallax: %.6g mas (|parallax| <= %g expected)", p.parallax,
                      r::max_abs_parallax);
        return b;
    }
    if (std::isfinite(p.parallax_error) &&
        !(p.parallax_error >= r::min_parallax_error && p.parallax_error <= r::max_parallax_error)) {
        std::snprintf(b, sizeof b, "implausible_parallax_error: %.6g mas (%g-%g expected)", p.parallax_error,
                      r::min_parallax_error, r::max_parallax_error);
        return b;
    }
    return {};
}

/// The flag of a star whose prediction came out NaN or infinite: never an empty number without a reason.
constexpr const char* no_number_flag = "no_prediction: the model gave a non-finite [Fe/H] or sigma";

std::string fmt(double v) {
    if (!std::isfinite(v)) return "";
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

int cmd_simulate(const args& a) {
    sim::giant_sim_options o;
    o.spectra = !a.flag("no-spectra");
    o.tail_fraction = a.number("tail-fraction");
    const std::size_t n = a.count("n");
    if (n == 0) throw cli::usage_error("--n must be positive");
    const auto s = sim::simulate_giants(n, o, std::uint64_t(a.count("seed")));
    const std::filesystem::path dir = a.path("out");
    std::filesystem::create_directories(dir);
    if (o.spectra) sim::write_giant_xp_csv((dir / "xp_spectra.csv").string(), s);
    sim::write_giant_catalogue_csv((dir / "catalogue.csv").string(), s);
    std::cerr << "wrote " << n << " giants to " << dir.string() << "\n";
    return 0;
}

int cmd_train(const args& a) {
    const std::string model = a.choice("model");
    const std::string out = a.path("out");
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto seed = std::uint64_t(a.count("seed"));
    const auto threads = a.has("threads") ? unsigned(a.count("threads")) : 0u;  // 0: all cores
    if (model == "ua_csnet") {
        if (!a.has("xp")) throw cli::usage_error("train --model ua_csnet: --xp is required");
        const label_index cat(a.path("catalogue"), cli::predict_sort_options(out));  // bounded, whatever its rows
        xp_source xp(a);
        std::vector<spectra::xp_pixels> x;
        std::vector<double> y, c;
        for (std::vector<xp_item> batch; xp.next(batch, 4096);)
            for (auto& item : batch) {
                if (!item.unusable.empty()) continue;
                const auto row = cat.find(item.id);
                if (!row) continue;
                const double f = row->feh, b = row->bp_rp0;
                if (!std::isfinite(f) || !std::isfinite(b)) continue;
                x.push_back(std::move(item.pixels));
                y.push_back(f);
                c.push_back(b);
            }
        xp.finish();
        std::cerr << x.size() << " labelled spectra\n";
        models::ua_csnet_training_options t;
        if (a.has("max-epochs")) t.max_epochs = int(a.count("max-epochs"));
        t.cost_sensitive = !a.flag("no-costs");
        t.seed = seed;
        t.threads = threads;
        t.progress = !quiet;
        models::ua_csnet m;
        const auto h = m.fit(x, y, c, {}, t);
        m.save(out);
        std::cerr << "best epoch " << h.best_epoch << " (validation loss " << h.best_val_loss << "); wrote " << out
                  << "\n";
        return 0;
    }
    if (model == "bnn") {
        const auto phot = photometry::read_photometry_csv(a.path("catalogue"));
        const auto cat = read_catalogue(a.path("catalogue"), {"feh", "feh_error"}, true, {"feh", "feh_error"});
        std::vector<photometry::photometry_row> stars;
        std::vector<double> y, ye;
        for (const auto& p : phot) {
            const std::size_t r = cat.row.at(p.source_id);
            if (!std::isfinite(cat.col.at("feh")[r]) || !(cat.col.at("feh_error")[r] >= 0)) continue;
            stars.push_back(p);
            y.push_back(cat.col.at("feh")[r]);
            ye.push_back(cat.col.at("feh_error")[r]);
        }
        models::bnn_training_options t;
        if (a.has("max-epochs")) t.max_epochs = int(a.count("max-epochs"));
        models::photometric_parallax_options po;
        po.folds = a.count("folds");
        po.mc_samples = a.count("mc-samples");
        po.seed = seed;
        po.training.max_epochs = t.max_epochs;
        po.training.threads = threads;
        po.training.progress = !quiet;
        t.feh_weight = !a.flag("no-costs");
        t.seed = seed;
        t.threads = po.training.threads;
        t.progress = !quiet;
        models::colour_feh_model m;
        const auto res = m.fit(stars, y, ye, po, t);
        std::size_t flagged = 0;
        for (const auto& r : res) flagged += !r.flag.empty();
        m.save(out);
        std::cerr << stars.size() - flagged << " stars trained (" << flagged << " flagged); wrote " << out << "\n";
        return 0;
    }
    throw std::logic_error("train: --model " + model + " is declared but not handled");
}

constexpr const char* giants_header =
    "source_id,feh,feh_sigma,sigma_model,sigma_dropout,parallax,parallax_error,giant,flag\n";

/// The predictions CSV rows of one batch of the colour model: implausible stars get their flag and no number,
/// the others are predicted with MC-dropout seed `seed`, each star's masks keyed by its source_id (so its row
/// does not depend on its batch or shard).
std::string colour_prediction_rows(const models::colour_feh_model& m,
                                   const std::vector<photometry::photometry_row>& phot, std::uint64_t seed) {
    std::vector<models::colour_feh_result> res(phot.size());
    std::vector<photometry::photometry_row> plausible;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < phot.size(); ++i) {
        res[i].flag = implausible(phot[i]);
        if (!res[i].flag.empty()) continue;
        plausible.push_back(phot[i]);
        at.push_back(i);
    }
    if (!plausible.empty()) {
        const auto got = m.predict(plausible, seed, true);
        for (std::size_t k = 0; k < at.size(); ++k) res[at[k]] = got[k];
    }
    std::string text;
    for (std::size_t i = 0; i < phot.size(); ++i) {
        auto& r = res[i];
        if (r.flag.empty() && !(std::isfinite(r.feh.value) && std::isfinite(r.feh.sigma))) r.flag = no_number_flag;
        text += std::to_string(phot[i].source_id) + "," + fmt(r.feh.value) + "," + fmt(r.feh.sigma) + "," +
                fmt(r.feh.sigma_model) + "," + fmt(r.feh.sigma_dropout) + "," + fmt(r.parallax.parallax.value) + "," +
                fmt(r.parallax.parallax.error) + "," + (r.giant ? "1" : "0") + ",\"" + r.flag + "\"\n";
    }
    return text;
}

/// predict into `os` (the header, then the rows in input order), of every source, or with `shard` only those
/// of that shard (splitmix64(source_id) mod N, core/shards.hpp), filtered as they are read.
void predict_rows(const args& a, std::ostream& os, const shard_spec* shard) {
    const auto keep = [shard](std::int64_t id) { return !shard || shard_of(id, shard->count) == shard->index; };
    const std::string path = a.path("model");
    const json doc = ferrum::read_json_object(path, "model file");
    // the colour model: version 2 (kind "colour_feh") or version 1 ("ferrum-giants-colour-model"); else UA-CSNet
    const auto string_field = [&](const char* key) {  // "format": [] must not throw json::type_error here
        const auto it = doc.find(key);
        return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (string_field("format") == "ferrum-giants-colour-model" || string_field("kind") == "colour_feh") {
        auto m = models::colour_feh_model::from_json(doc, path);
        if (a.has("mc-samples")) m.set_mc_samples(a.count("mc-samples"));
        if (!a.has("catalogue")) throw cli::usage_error("predict with a colour model: --catalogue is required");
        // streamed in batches of --batch stars: memory holds one batch, whatever the size of the catalogue; a
        // star's dropout masks are keyed by its source_id, so its row does not depend on the batch
        photometry::photometry_reader in(a.path("catalogue"));
        const std::size_t batch = a.count("batch");
        os << giants_header;
        std::vector<photometry::photometry_row> stars;
        const auto flush = [&] {
            os << colour_prediction_rows(m, stars, std::uint64_t(a.count("seed")));
            stars.clear();
        };
        while (auto p = in.next()) {
            if (keep(p->source_id)) stars.push_back(*p);
            if (stars.size() >= batch) flush();
        }
        if (!stars.empty()) flush();
        cli::require_usable_rows(in.path(), in.rows(), in.rows());  // throwing here leaves no output file
        return;
    }
    if (a.has("mc-samples"))
        throw cli::usage_error(
            "predict: --mc-samples is for the colour model; UA-CSNet's sigma comes from its uncertainty branch");
    auto m = models::ua_csnet::from_json(doc, path);
    if (!a.has("xp")) throw cli::usage_error("predict with UA-CSNet: --xp is required");
    // streamed in batches of --batch sources: memory holds one batch, whatever the size of the file
    xp_source xp(a);
    const std::size_t batch = a.count("batch");
    const unsigned threads = a.has("threads") ? unsigned(a.count("threads")) : 0u;
    os << giants_header;
    {
        std::vector<xp_item> items;
        std::vector<spectra::xp_pixels> x;
        while (xp.next(items, batch)) {
            items.erase(std::remove_if(items.begin(), items.end(), [&](const xp_item& i) { return !keep(i.id); }),
                        items.end());
            x.clear();
            for (const auto& item : items)
                if (item.unusable.empty()) x.push_back(item.pixels);
            const auto p = m.predict(x, threads);
            std::string text;
            std::size_t k = 0;
            for (const auto& item : items) {
                if (!item.unusable.empty()) {
                    text += std::to_string(item.id) + ",,,,,,,,\"" + item.unusable + "\"\n";
                    continue;
                }
                const auto& q = p[k++];
                const bool ok = std::isfinite(q.value) && std::isfinite(q.sigma);
                text += std::to_string(item.id) + "," + (ok ? fmt(q.value) + "," + fmt(q.sigma) : ",") + "," +
                        fmt(q.sigma_model) + ",0,,,,\"" + (ok ? "" : no_number_flag) + "\"\n";
            }
            os << text;
        }
        xp.finish();  // throwing here leaves no output file
    }
}

/// predict, of every source into --out, or of shard k of N (--shard k/N, or rank k of N under mpirun) into
/// OUT.shard-k-of-N sorted by source_id with its manifest (core/shards.hpp); a finished shard whose inputs
/// and settings are unchanged is skipped.
int predict_giants(const args& a, std::optional<shard_spec> shard) {
    const std::string out = a.path("out");
    if (!shard) {
        write_file_atomically(out, [&](std::ostream& os) { predict_rows(a, os, nullptr); });
        return 0;
    }
    std::vector<std::string> inputs{a.path("model")};
    for (const char* o : {"catalogue", "xp"})
        if (a.has(o)) inputs.push_back(a.path(o));
    const json settings{{"command", "ferrum-giants predict"},
                        {"mc_samples", a.has("mc-samples") ? json(a.count("mc-samples")) : json("the model's")},
                        {"seed", a.count("seed")},
                        {"mc_dropout_masks", "keyed by source_id"},
                        {"gaiaxpy_config", a.has("gaiaxpy-config") ? a.path("gaiaxpy-config") : ""}};
    cli::check_derived_output(a, shard_output_path(out, *shard), "the shard file of --out");
    cli::check_derived_output(a, shard_manifest_path(out, *shard), "the shard manifest of --out");
    if (shard_staleness(out, *shard, inputs, settings).empty()) {
        std::fprintf(stderr, "predict: shard %zu of %zu is finished and its inputs are unchanged (%s): skipped\n",
                     shard->index, shard->count, shard_manifest_path(out, *shard).c_str());
        return 0;
    }
    std::ostringstream text;
    predict_rows(a, text, &*shard);
    const std::string all = text.str(), header = all.substr(0, std::strlen(giants_header));
    const auto m = write_shard(out, *shard, inputs, settings, header, all.substr(header.size()));
    if (!a.flag("quiet"))
        std::fprintf(stderr, "predict: shard %zu of %zu: %zu sources -> %s\n", shard->index, shard->count, m.rows,
                     shard_output_path(out, *shard).c_str());
    return 0;
}

/// predict by hand, in a job array (--shard k/N), or under mpirun: rank r predicts shard r of the ranks and
/// rank 0 merges them into --out once all have finished (cli::predict_across_ranks, as ferrum-rrl does).
int cmd_predict(const args& a, const cli::mpi_world& world) {
    if (!world.active())
        return predict_giants(a, a.has("shard") ? std::optional(parse_shard_spec(a.text("shard"))) : std::nullopt);
    if (a.has("shard"))
        throw cli::usage_error("predict: --shard is for job arrays; under mpirun each rank takes its own shard");
    const shard_spec mine{std::size_t(world.rank()), std::size_t(world.size())};
    return cli::predict_across_ranks("ferrum-giants", world, a.path("out"), mine.count,
                                     [&] { predict_giants(a, mine); });
}

int cmd_merge(const args& a) {
    const std::size_t rows = merge_shards(a.path("out"), a.count("shards"));
    std::fprintf(stderr, "merge: %zu rows from %zu shards -> %s\n", rows, std::size_t(a.count("shards")),
                 a.path("out").c_str());
    return 0;
}

/// A row of evaluate's join (core/external_sort.hpp): two values, the source_id and the line, for errors.
struct evaluate_row {
    double value[2] = {NAN, NAN};
    std::int64_t id = 0;
    std::size_t line = 0;
};

/// Reads one of evaluate's tables into a side of the join (`add(key, row)`); a repeated source_id is an error
/// at the line of its second row, unless an earlier row's error comes first (cli::read_keyed_rows).
template <class Add, class Repeated>
void read_evaluate_table(const std::string& path, const std::vector<std::string>& columns, Add&& add,
                         Repeated&& repeated) {
    evaluate_row row;
    bool pending = false;  // a row whose id is read and whose values are not (yet)
    cli::read_keyed_rows(
        [&] {
        for_each_catalogue_row(
            path, columns, true, columns,
            [&](std::int64_t id, std::size_t line) {
            row = evaluate_row{{NAN, NAN}, id, line};
            pending = true;
            },
            [&](const std::vector<double>& v) {
            for (std::size_t k = 0; k < v.size(); ++k) row.value[k] = v[k];
            add(std::to_string(row.id), row);
            pending = false;
        });
        },
        [&] {
        if (pending) add(std::to_string(row.id), row);  // the failing row's id may repeat an earlier one
        pending = false;
        if (const auto r = repeated()) throw duplicate_source(path, r->value.line, r->value.id);
    });
}

/// models::calibration (models/detail/giants_common.hpp) of groups of stars read in passes: the same sums
/// (models::calibration_sums) in the same order, the median sigma by exact selection
/// (stats/streamed_selection.hpp).
struct streamed_calibration {
    std::vector<models::calibration_sums> groups;

    explicit streamed_calibration(std::size_t n_groups) : groups(n_groups) {}
    void add(std::size_t g, double y, double value, double sigma, double extra) {
        groups[g].add(y, value, sigma, extra);
    }
    template <class ForEachSigma>
    std::vector<models::calibration_result> results(ForEachSigma&& for_each_sigma) const {
        std::vector<std::uint64_t> rank(groups.size(), std::numeric_limits<std::uint64_t>::max()), count(groups.size());
        for (std::size_t g = 0; g < groups.size(); ++g)
            if (groups[g].n > 0) rank[g] = groups[g].n / 2, count[g] = groups[g].n;
        const auto median = streamed_kth_smallest(rank, count, for_each_sigma);
        std::vector<models::calibration_result> out(groups.size());
        for (std::size_t g = 0; g < groups.size(); ++g)
            if (groups[g].n > 0) out[g] = groups[g].result(median[g]);
        return out;
    }
};

/// A matched, predicted star, as evaluate keeps it for its passes.
struct evaluate_star {
    double y = 0, value = 0, sigma = 0, extra = 0;
};

// Predictions and catalogue are joined by source_id in bounded memory (an external sort through $TMPDIR beyond
// FERRUM_EVALUATE_RUN_BYTES, 32 MiB): the stars come back in the predictions' order, so the sums are those of
// the in-memory join, bit for bit, and every error is the one it gave.
int cmd_evaluate(const args& a) {
    const std::string label = a.text("label-column"), error = a.text("error-column");
    std::vector<std::string> cols{label};
    if (error != "none") cols.push_back(error);
    const external_sort_options sort_options = cli::evaluate_sort_options();
    sorted_lookup<evaluate_row, evaluate_row> join(sort_options);
    read_evaluate_table(
        a.path("catalogue"), cols, [&](const std::string& k, const evaluate_row& r) { join.add_build(k, r); },
        [&] { return join.repeated_build_key(); });
    read_evaluate_table(
        a.path("predictions"), {"feh", "feh_sigma"},
        [&](const std::string& k, const evaluate_row& r) { join.add_probe(k, r); },
        [&] { return join.repeated_probe_key(); });
    record_store<evaluate_star> stars(sort_options);
    std::size_t unmatched = 0, unpredicted = 0;
    auto matches = join.results();
    while (const auto* m = matches.next()) {
        if (!m->found) {
            ++unmatched;
            continue;
        }
        const double value = m->probe.value[0], sigma = m->probe.value[1], yl = m->build.value[0];
        if (!std::isfinite(value) || !std::isfinite(sigma) || !std::isfinite(yl)) {
            ++unpredicted;
            continue;
        }
        stars.push_back({yl, value, sigma, error == "none" ? 0.0 : m->build.value[1]});
    }
    if (stars.size() == 0) throw value_error("evaluate: no prediction matches a labelled star");
    // group 0: all stars; group 1 + b: the [Fe/H] bin b of the label
    std::vector<std::pair<double, double>> bins;
    for (double lo : {-4.0, -2.0, -1.5, -1.0, -0.5, 0.0})
        bins.emplace_back(lo, lo == 0.0 ? 1.0 : (lo == -4.0 ? -2.0 : lo + 0.5));
    const auto for_each_group = [&](const evaluate_star& s, auto&& visit) {
        visit(std::size_t(0));
        for (std::size_t b = 0; b < bins.size(); ++b)
            if (s.y >= bins[b].first && s.y < bins[b].second) visit(1 + b);
    };
    streamed_calibration cal(1 + bins.size());
    stars.for_each([&](const evaluate_star& s) {
        for_each_group(s, [&](std::size_t g) { cal.add(g, s.y, s.value, s.sigma, s.extra); });
    });
    const auto c = cal.results([&](auto&& visit) {
        stars.for_each([&](const evaluate_star& s) { for_each_group(s, [&](std::size_t g) { visit(g, s.sigma); }); });
    });
    auto to_json = [](const models::calibration_result& c) {
        return json{
            {"n", c.n},     {"within_1sigma", c.within_1sigma}, {"within_2sigma", c.within_2sigma}, {"bias", c.bias},
            {"rms", c.rms}, {"median_sigma", c.median_sigma}};
    };
    json j{{"all", to_json(c[0])}, {"unmatched", unmatched}, {"unpredicted", unpredicted}};
    j["bins"] = json::array();
    for (std::size_t b = 0; b < bins.size(); ++b) {
        if (c[1 + b].n == 0) continue;
        auto o = to_json(c[1 + b]);
        o["feh_min"] = bins[b].first;
        o["feh_max"] = bins[b].second;
        j["bins"].push_back(o);
    }
    cli::require_finite_metrics(j, "evaluate");
    std::cout << j.dump(2) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const cli::mpi_world world(&argc, &argv);
    return cli::run_tool(program(), argc, argv, [&world](const args& a) {
        if (a.flag("quiet")) setenv("FERRUM_QUIET", "1", 1);
        if (a.command() == "predict") return cmd_predict(a, world);
        if (world.size() > 1)
            throw cli::usage_error(a.command() + ": only predict runs under mpirun (here " +
                                   std::to_string(world.size()) + " ranks would each run it)");
        if (a.command() == "simulate") return cmd_simulate(a);
        if (a.command() == "train") return cmd_train(a);
        if (a.command() == "merge") return cmd_merge(a);
        return cmd_evaluate(a);
    });
}
