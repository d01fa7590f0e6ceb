// Streams a Gaia epoch-photometry CSV (archive layout) one source at a time, skips and reports bad rows,
// and folds each star on its vari_rrlyrae period. Build: cmake --build <dir> --target read_gaia_csv
// Run:   read_gaia_csv [epoch_photometry.csv [vari_rrlyrae.csv]]   (without arguments: a small demo file)
#include <ferrum/core/atomic_file.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/lightcurve/phase_fold.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace {
// A few rows as the Gaia archive writes them, with one broken row (a magnitude of "n/a").
std::string write_demo_files(std::string& catalogue) {
    const auto dir = std::filesystem::temp_directory_path();
    const std::string photometry = (dir / "ferrum_demo_epoch_photometry.csv").string();
    ferrum::write_file_atomically(
        photometry,
        std::string("source_id,transit_id,band,time,mag,flux,flux_error,flux_over_error,rejected_by_photometry,"
                    "rejected_by_variability,other_flags,solution_id\n"
                    "4111,101,G,1700.10,15.20,1,1,250.0,false,false,1,1\n"
                    "4111,102,G,1700.45,15.61,1,1,180.0,false,false,1,1\n"
                    "4111,103,G,1701.30,15.48,1,1,200.0,false,false,1,1\n"
                    "4111,104,G,1702.05,n/a,1,1,200.0,false,false,1,1\n"
                    "4111,104,BP,1702.05,15.71,1,1,90.0,false,false,1,1\n"
                    "4222,201,G,1700.20,17.02,1,1,60.0,false,false,1,1\n"
                    "4222,202,G,1700.90,16.71,1,1,70.0,false,true,1,1\n"
                    "4222,203,G,1703.70,16.88,1,1,65.0,false,false,1,1\n"));
    catalogue = (dir / "ferrum_demo_vari_rrlyrae.csv").string();
    ferrum::write_file_atomically(catalogue,
                                  std::string("source_id,best_classification,pf,p1_o,epoch_g\n"
                                              "4111,RRab,0.5612,,1700.02\n"
                                              "4222,RRc,,,1700.11\n"));  // an RRc without p1_o: cannot be folded
    return photometry;
}
}  // namespace

int main(int argc, char** argv) {
    std::string catalogue_path = argc > 2 ? argv[2] : "";
    const std::string path = argc > 1 ? argv[1] : write_demo_files(catalogue_path);
    try {
        ferrum::gaia_read_options options;
        options.band = ferrum::gaia_band::G;
        options.on_bad_row = ferrum::bad_row_policy::skip;  // count broken rows instead of stopping
        ferrum::gaia_epoch_reader reader(path, options);
        std::optional<ferrum::rrlyrae_catalogue> catalogue;
        if (!catalogue_path.empty()) catalogue.emplace(catalogue_path);

        std::printf("%20s %7s %9s %9s  %s\n", "source_id", "epochs", "mean mag", "mean err", "folding");
        while (auto lc = reader.next()) {  // memory holds one source
            double mag = 0, err = 0;
            for (std::size_t i = 0; i < lc->size(); ++i) mag += lc->mag[i], err += lc->mag_err[i];
            std::string fold = "not in the catalogue";
            if (const ferrum::rrlyrae_star* star = catalogue ? catalogue->find(lc->source_id) : nullptr) {
                if (const auto f = star->folding()) {
                    const ferrum::folded_curve folded = ferrum::phase_fold(*lc, f->period, star->epoch_g.value_or(0.0));
                    fold = std::string(ferrum::to_string(f->type)) + ", P = " + std::to_string(f->period) +
                           " d, first phase " + std::to_string(folded.phase.front());
                } else {
                    fold = star->folding_problem();
                }
            }
            std::printf("%20lld %7zu %9.3f %9.4f  %s\n", static_cast<long long>(lc->source_id), lc->size(),
                        mag / double(lc->size()), err / double(lc->size()), fold.c_str());
        }
        std::printf("%s\n", reader.report().summary().c_str());
    } catch (const ferrum::error& e) {  // input_error says file:line: field '...': what is wrong
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
