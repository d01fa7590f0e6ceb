// ferrum-giants: giant-star [Fe/H] with uncertainties -- UA-CSNet on Gaia XP spectra (Yang et al.) and the
// two-stage Bayesian MLP on Gaia/2MASS/WISE colours (Fallows & Sanders 2022): simulate, train, predict, evaluate.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferrum/core/atomic_file.hpp>
#include <ferrum/core/csv.hpp>
#include <ferrum/models/detail/giants_common.hpp>
#include <ferrum/models/photometric_parallax.hpp>
#include <ferrum/models/ua_csnet.hpp>
#include <ferrum/photometry/colour_features.hpp>
#include <ferrum/sim/giants.hpp>
#include <ferrum/spectra/xp_spectra.hpp>

namespace {

using namespace ferrum;
using json = nlohmann::json;

const char* const usage = R"(ferrum-giants: giant-star [Fe/H] with uncertainties

  ferrum-giants simulate --n N --out DIR [--seed S] [--no-spectra] [--tail-fraction 0.15]
      Simulated giants with known answers: DIR/xp_spectra.csv (GaiaXPy sampled-spectrum CSV) and
      DIR/catalogue.csv (labels feh, feh_error, truth, bp_rp0, Gaia/2MASS/AllWISE photometry, parallax).

  ferrum-giants train --model ua_csnet --xp XP.csv --catalogue C.csv --out model.json
                      [--max-epochs 200] [--no-costs] [--seed 1]
      UA-CSNet; the catalogue gives feh and bp_rp0 (for the cost-sensitive weights) per source_id.
  ferrum-giants train --model bnn --catalogue C.csv --out model.json
                      [--max-epochs 300] [--folds 8] [--mc-samples 50] [--no-costs] [--seed 1]
      Two-stage colour model: 8-fold photometric parallax, then the Bayesian MLP (labels feh, feh_error).
      --no-costs: without the weight W = |[Fe/H]| + 0.5 of Fallows & Sanders eq. 11.

  ferrum-giants predict --model M --catalogue C.csv [--xp XP.csv] --out predictions.csv [--mc-samples N]
      source_id,feh,feh_sigma,sigma_model,sigma_dropout,parallax,parallax_error,giant,flag

  ferrum-giants evaluate --predictions P.csv --catalogue C.csv [--label-column feh] [--error-column feh_error]
      Calibration JSON on stdout: fractions of |residual| below 1 and 2 sigma (sigma combined with the
      label error when --error-column names one; --error-column none compares with sigma alone), bias and
      rms overall and per [Fe/H] bin.

  Common: --quiet (also FERRUM_QUIET=1), --threads N, --help.
)";

struct args {
    std::string command;
    std::map<std::string, std::string> kv;
    std::set<std::string> flags;
    std::string get(const std::string& k, const std::string& def = "") const {
        auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
    std::string need(const std::string& k) const {
        auto it = kv.find(k);
        if (it == kv.end()) throw value_error(command + ": --" + k + " is required (see ferrum-giants --help)");
        return it->second;
    }
    long long integer(const std::string& k, long long def) const {
        if (!kv.count(k)) return def;
        const auto r = parse_int64(kv.at(k));
        if (!r.ok()) throw value_error("--" + k + " needs an integer, got '" + kv.at(k) + "'");
        return r.value;
    }
    double number(const std::string& k, double def) const {
        if (!kv.count(k)) return def;
        const auto r = parse_double(kv.at(k));
        if (!r.ok()) throw value_error("--" + k + " needs a number, got '" + kv.at(k) + "'");
        return r.value;
    }
};

/// Refuses an option the command does not take (a misspelt `--max-epoch 5` must not be ignored).
void check_known(const args& a, std::set<std::string> allowed) {
    allowed.insert("threads");
    for (const auto& [k, v] : a.kv)
        if (!allowed.count(k)) throw value_error(a.command + ": unknown option --" + k + " (see ferrum-giants --help)");
}

args parse(int argc, char** argv) {
    static const std::set<std::string> flag_names{"no-spectra", "no-costs", "quiet", "help"};
    args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            s = s.substr(2);
            if (flag_names.count(s)) {
                a.flags.insert(s);
            } else {
                if (i + 1 >= argc) throw value_error("--" + s + " needs a value");
                a.kv[s] = argv[++i];
            }
        } else if (a.command.empty()) {
            a.command = s;
        } else {
            throw value_error("unexpected argument '" + s + "'");
        }
    }
    return a;
}

/// Labels and colours of the catalogue, by source_id.
struct catalogue {
    std::vector<std::int64_t> id;
    std::map<std::string, std::vector<double>> col;
    std::unordered_map<std::int64_t, std::size_t> row;
};

catalogue read_catalogue(const std::string& path, const std::vector<std::string>& columns, bool required) {
    csv_reader in(path);
    catalogue c;
    const std::size_t cid = in.column("source_id");
    std::vector<std::optional<std::size_t>> idx;
    for (const auto& n : columns) {
        idx.push_back(required ? std::optional<std::size_t>(in.column(n)) : in.find_column(n));
        c.col[n];
    }
    while (const csv_record* r = in.next()) {
        const auto id = parse_int64(cid < r->size() ? (*r)[cid] : std::string_view());
        if (!id.ok()) throw input_error(path, r->line(), "source_id", "not an integer");
        if (!c.row.emplace(id.value, c.id.size()).second)
            throw input_error(path, r->line(), "source_id", "duplicate source_id " + std::to_string(id.value));
        c.id.push_back(id.value);
        for (std::size_t k = 0; k < columns.size(); ++k) {
            double v = NAN;
            if (idx[k]) {
                const auto f = parse_double(*idx[k] < r->size() ? (*r)[*idx[k]] : std::string_view());
                if (f.ok())
                    v = f.value;
                else if (f.status != field_status::empty)
                    throw input_error(path, r->line(), columns[k], "not a finite number");
            }
            c.col[columns[k]].push_back(v);
        }
    }
    return c;
}

struct xp_set {
    std::vector<std::int64_t> id;
    std::vector<spectra::xp_pixels> pixels;
};

xp_set read_xp(const std::string& path) {
    const auto raw = spectra::read_xp_spectra(path);
    const auto wl = spectra::gaiaxpy_default_sampling();
    xp_set s;
    for (const auto& r : raw) {
        s.id.push_back(r.source_id);
        try {
            s.pixels.push_back(spectra::resample_xp(r, wl));
        } catch (const value_error& e) {
            throw input_error(path, 0, "flux", "source_id " + std::to_string(r.source_id) + ": " + e.what());
        }
    }
    return s;
}

std::string fmt(double v) {
    if (!std::isfinite(v)) return "";
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

int cmd_simulate(const args& a) {
    check_known(a, {"n", "out", "seed", "tail-fraction"});
    sim::giant_sim_options o;
    o.spectra = !a.flags.count("no-spectra");
    o.tail_fraction = a.number("tail-fraction", o.tail_fraction);
    const long long n = a.integer("n", 10000);
    if (n <= 0) throw value_error("--n must be positive");
    const auto s = sim::simulate_giants(std::size_t(n), o, std::uint64_t(a.integer("seed", 1)));
    const std::filesystem::path dir = a.need("out");
    std::filesystem::create_directories(dir);
    if (o.spectra) sim::write_giant_xp_csv((dir / "xp_spectra.csv").string(), s);
    sim::write_giant_catalogue_csv((dir / "catalogue.csv").string(), s);
    std::cerr << "wrote " << n << " giants to " << dir.string() << "\n";
    return 0;
}

int cmd_train(const args& a) {
    check_known(a, {"model", "out", "xp", "catalogue", "max-epochs", "seed", "folds", "mc-samples"});
    const std::string model = a.need("model");
    const std::string out = a.need("out");
    const bool quiet = a.flags.count("quiet") || !progress_enabled_by_default();
    const auto seed = std::uint64_t(a.integer("seed", 1));
    if (model == "ua_csnet") {
        const auto cat = read_catalogue(a.need("catalogue"), {"feh", "bp_rp0"}, true);
        const auto xp = read_xp(a.need("xp"));
        std::vector<spectra::xp_pixels> x;
        std::vector<double> y, c;
        for (std::size_t i = 0; i < xp.id.size(); ++i) {
            const auto it = cat.row.find(xp.id[i]);
            if (it == cat.row.end()) continue;
            const double f = cat.col.at("feh")[it->second], b = cat.col.at("bp_rp0")[it->second];
            if (!std::isfinite(f) || !std::isfinite(b)) continue;
            x.push_back(xp.pixels[i]);
            y.push_back(f);
            c.push_back(b);
        }
        std::cerr << x.size() << " labelled spectra\n";
        models::ua_csnet_training_options t;
        t.max_epochs = int(a.integer("max-epochs", t.max_epochs));
        t.cost_sensitive = !a.flags.count("no-costs");
        t.seed = seed;
        t.threads = unsigned(a.integer("threads", 2));
        t.progress = !quiet;
        models::ua_csnet m;
        const auto h = m.fit(x, y, c, {}, t);
        m.save(out);
        std::cerr << "best epoch " << h.best_epoch << " (validation loss " << h.best_val_loss << "); wrote " << out << "\n";
        return 0;
    }
    if (model == "bnn") {
        const auto phot = photometry::read_photometry_csv(a.need("catalogue"));
        const auto cat = read_catalogue(a.need("catalogue"), {"feh", "feh_error"}, true);
        std::vector<photometry::photometry_row> stars;
        std::vector<double> y, ye;
        for (const auto& p : phot) {
            const std::size_t r = cat.row.at(p.source_id);
            if (!std::isfinite(cat.col.at("feh")[r]) || !(cat.col.at("feh_error")[r] >= 0)) continue;
            stars.push_back(p);
            y.push_back(cat.col.at("feh")[r]);
            ye.push_back(cat.col.at("feh_error")[r]);
        }
        models::photometric_parallax_options po;
        po.folds = std::size_t(a.integer("folds", 8));
        po.mc_samples = std::size_t(a.integer("mc-samples", 50));
        po.seed = seed;
        po.training.max_epochs = int(a.integer("max-epochs", 300));
        po.training.threads = unsigned(a.integer("threads", 2));
        po.training.progress = !quiet;
        models::bnn_training_options t;
        t.max_epochs = po.training.max_epochs;
        t.feh_weight = !a.flags.count("no-costs");
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
    throw value_error("train: --model must be ua_csnet or bnn, got '" + model + "'");
}

int cmd_predict(const args& a) {
    check_known(a, {"model", "catalogue", "xp", "out", "mc-samples", "seed"});
    const std::string path = a.need("model");
    const json doc = ferrum::read_json_file(path, "model file");
    std::string text = "source_id,feh,feh_sigma,sigma_model,sigma_dropout,parallax,parallax_error,giant,flag\n";
    if (doc.value("format", "") == "ferrum-giants-colour-model") {
        auto m = models::colour_feh_model::from_json(doc, path);
        if (a.kv.count("mc-samples")) m.set_mc_samples(std::size_t(a.integer("mc-samples", 50)));
        const auto phot = photometry::read_photometry_csv(a.need("catalogue"));
        const auto res = m.predict(phot, std::uint64_t(a.integer("seed", 12345)));
        for (std::size_t i = 0; i < phot.size(); ++i) {
            const auto& r = res[i];
            text += std::to_string(phot[i].source_id) + "," + fmt(r.feh.value) + "," + fmt(r.feh.sigma) + "," +
                    fmt(r.feh.sigma_model) + "," + fmt(r.feh.sigma_dropout) + "," + fmt(r.parallax.parallax.value) +
                    "," + fmt(r.parallax.parallax.error) + "," + (r.giant ? "1" : "0") + ",\"" + r.flag + "\"\n";
        }
    } else {
        if (a.kv.count("mc-samples"))
            throw value_error("predict: --mc-samples is for the colour model; UA-CSNet's sigma comes from its uncertainty branch");
        auto m = models::ua_csnet::from_json(doc, path);
        const auto xp = read_xp(a.need("xp"));
        const auto p = m.predict(xp.pixels, unsigned(a.integer("threads", 2)));
        for (std::size_t i = 0; i < p.size(); ++i)
            text += std::to_string(xp.id[i]) + "," + fmt(p[i].value) + "," + fmt(p[i].sigma) + "," +
                    fmt(p[i].sigma_model) + ",0,,,,\"\"\n";
    }
    write_file_atomically(a.need("out"), text);
    return 0;
}

int cmd_evaluate(const args& a) {
    check_known(a, {"predictions", "catalogue", "label-column", "error-column"});
    const std::string label = a.get("label-column", "feh"), error = a.get("error-column", "feh_error");
    std::vector<std::string> cols{label};
    if (error != "none") cols.push_back(error);
    const auto cat = read_catalogue(a.need("catalogue"), cols, true);
    const auto pred = read_catalogue(a.need("predictions"), {"feh", "feh_sigma"}, true);
    std::vector<double> y, extra;
    std::vector<models::giant_prediction> p;
    std::size_t unmatched = 0, unpredicted = 0;
    for (std::size_t i = 0; i < pred.id.size(); ++i) {
        const auto it = cat.row.find(pred.id[i]);
        if (it == cat.row.end()) {
            ++unmatched;
            continue;
        }
        models::giant_prediction g;
        g.value = pred.col.at("feh")[i];
        g.sigma = pred.col.at("feh_sigma")[i];
        const double yl = cat.col.at(label)[it->second];
        if (!std::isfinite(g.value) || !std::isfinite(g.sigma) || !std::isfinite(yl)) {
            ++unpredicted;
            continue;
        }
        p.push_back(g);
        y.push_back(yl);
        extra.push_back(error == "none" ? 0.0 : cat.col.at(error)[it->second]);
    }
    if (p.empty()) throw value_error("evaluate: no prediction matches a labelled star");
    auto to_json = [](const models::calibration_result& c) {
        return json{{"n", c.n},       {"within_1sigma", c.within_1sigma}, {"within_2sigma", c.within_2sigma},
                    {"bias", c.bias}, {"rms", c.rms},                    {"median_sigma", c.median_sigma}};
    };
    json j{{"all", to_json(models::calibration(y, p, extra))}, {"unmatched", unmatched}, {"unpredicted", unpredicted}};
    j["bins"] = json::array();
    for (double lo : {-4.0, -2.0, -1.5, -1.0, -0.5, 0.0}) {
        const double hi = lo == 0.0 ? 1.0 : (lo == -4.0 ? -2.0 : lo + 0.5);
        std::vector<std::size_t> idx;
        for (std::size_t i = 0; i < y.size(); ++i)
            if (y[i] >= lo && y[i] < hi) idx.push_back(i);
        if (idx.empty()) continue;
        auto b = to_json(models::calibration(y, p, extra, idx));
        b["feh_min"] = lo;
        b["feh_max"] = hi;
        j["bins"].push_back(b);
    }
    std::cout << j.dump(2) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const args a = parse(argc, argv);
        if (a.flags.count("help") || a.command.empty() || a.command == "help") {
            std::cout << usage;
            return a.command.empty() && !a.flags.count("help") ? 2 : 0;
        }
        if (a.flags.count("quiet")) setenv("FERRUM_QUIET", "1", 1);
        if (a.command == "simulate") return cmd_simulate(a);
        if (a.command == "train") return cmd_train(a);
        if (a.command == "predict") return cmd_predict(a);
        if (a.command == "evaluate") return cmd_evaluate(a);
        std::cerr << "ferrum-giants: unknown command '" << a.command << "'\n" << usage;
        return 2;
    } catch (const ferrum::error& e) {
        std::cerr << "ferrum-giants: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "ferrum-giants: unexpected error: " << e.what() << "\n";
        return 1;
    }
}
