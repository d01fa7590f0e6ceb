// XP continuous spectra -> sampled spectra in pseudo-wavelength (GaiaXPy's `convert`) against GaiaXPy's own
// expected outputs (../shared/data/gaiaxpy/test_files/converter_solution, from the test sources in
// test_files/xp_continuous): the 481-point grid, GaiaXPy's older reference spectra, truncation, BP missing
// (default 600-point grid), every row of each file, from the archive's CSV and ECSV forms. The covariance,
// whose GaiaXPy solution file is not in ../shared/data, against tests/data/xp_convert_covariance.json
// (tools/make_xp_convert_reference.py: GaiaXPy's sums in NumPy/SciPy, which reproduce GaiaXPy's solution
// above to 3e-14) and against GaiaXPy's flux errors (its diagonal). Then bad input.
// Skips (WARN) when ../shared/data is absent.
#include <catch2/catch.hpp>

#include <ferrum/core/csv.hpp>
#include <ferrum/spectra/xp_convert.hpp>

#include "gaiaxpy_files.hpp"
#include "reference.hpp"
#include "scratch_files.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace ferrum;
using namespace ferrum::spectra;
using ferrum_test::gaiaxpy_cell;
using ferrum_test::gaiaxpy_sampling;
using ferrum_test::gaiaxpy_worst_relative;
using ferrum_test::write_text_file;

namespace {

struct xpconv_expected {
    std::vector<double> flux, flux_error;
};

// Rows of a converter solution keyed by (source_id, "BP" | "RP"); the error column is `flux_error`, or
// `error` in GaiaXPy's older SampledMeanSpectrum files.
std::map<std::pair<std::int64_t, std::string>, xpconv_expected> xpconv_solution(const std::string& path) {
    csv_reader in(path);
    const std::size_t c_err = in.find_column("flux_error") ? in.column("flux_error") : in.column("error");
    std::map<std::pair<std::int64_t, std::string>, xpconv_expected> out;
    while (const csv_record* r = in.next())
        out[{parse_int64((*r)[in.column("source_id")]).value, std::string((*r)[in.column("xp")])}] = {
            gaiaxpy_cell((*r)[in.column("flux")]), gaiaxpy_cell((*r)[c_err])};
    return out;
}

// Every row of `solution` (and no other) is reproduced: flux and flux_error within the relative tolerances;
// an empty row is a band the source lacks.
void xpconv_check(const std::vector<xp_converted_spectrum>& got, const std::string& solution, std::size_t rows,
                  double flux_tol, double error_tol) {
    const auto want = xpconv_solution(solution);
    REQUIRE(want.size() == rows);
    REQUIRE(want.size() == 2 * got.size());
    for (const auto& [key, w] : want) {
        INFO("source " << key.first << " " << key.second << " vs " << solution);
        const auto id = key.first;  // a lambda may not capture a structured binding in C++17
        const auto s = std::find_if(got.begin(), got.end(), [&](const auto& g) { return g.source_id == id; });
        REQUIRE(s != got.end());
        const xp_sampled_band& b = key.second == "BP" ? s->bp : s->rp;
        if (w.flux.empty()) {
            CHECK_FALSE(b.present());
            CHECK(b.flux_error.empty());
            continue;
        }
        CHECK(gaiaxpy_worst_relative(b.flux, w.flux) < flux_tol);
        CHECK(gaiaxpy_worst_relative(b.flux_error, w.flux_error) < error_tol);
    }
}

xp_conversion xpconv_coarse(const std::string& config) {
    xp_conversion_options o;
    o.sampling = {0, 30, 60};
    return load_xp_conversion(config, o);
}

}  // namespace

TEST_CASE("convert equals GaiaXPy on its test sources, CSV and ECSV", "[spectra][xp_convert]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const std::string config = data + "/gaiaxpy/config", in = data + "/gaiaxpy/test_files/xp_continuous/",
                      sol = data + "/gaiaxpy/test_files/converter_solution/";
    xp_conversion_options o481;
    o481.sampling = gaiaxpy_sampling(sol + "converter_solution_0_60_481_sampling.csv");
    REQUIRE(o481.sampling == gaiaxpy_default_pwl_sampling(481));
    const auto c481 = load_xp_conversion(config, o481);
    const auto c600 = load_xp_conversion(config);
    REQUIRE(c600.sampling == gaiaxpy_sampling(sol + "with_missing_converter_solution_sampling.csv"));
    REQUIRE(c600.bp_design.rows() == 600);
    REQUIRE(c600.bp_design.cols() == 55);
    REQUIRE(c600.rp_design.cols() == 55);

    for (const std::string ext : {".csv", ".ecsv"}) {
        SECTION("both bands, 481 pseudo-wavelengths" + ext) {
            const auto src = read_xp_continuous(in + "XP_CONTINUOUS_RAW" + ext);
            const auto got = convert(c481, src);
            // written by GaiaXPy with every digit: measured 7.7e-14 (flux), 1.9e-14 (error)
            xpconv_check(got, sol + "converter_solution_0_60_481.csv", 4, 1e-10, 1e-10);
            // the same sources from GaiaXPy's Avro input and its older reference: the errors differ from the
            // CSV input's by 1.9e-7 (the Avro file's own covariances), the fluxes not at all
            xpconv_check(got, sol + "converter_avro_solution_0_60_481.csv", 4, 1e-10, 1e-6);
            xpconv_check(got, sol + "SampledMeanSpectrum.csv", 4, 1e-10, 1e-6);
            // one source at a time gives the batch's numbers
            const auto one = convert(c481, src[1]);
            CHECK(one.source_id == got[1].source_id);
            CHECK(gaiaxpy_worst_relative(one.rp.flux, got[1].rp.flux) < 1e-14);
            CHECK(got[0].bp.covariance.size() == 0);  // only with_correlation
        }
        SECTION("truncation to n_relevant_bases" + ext) {
            xp_convert_options t;
            t.truncation = true;
            const auto got = convert_xp_file(in + "XP_CONTINUOUS_RAW" + ext, c481, t);
            xpconv_check(got, sol + "SampledMeanSpectrum_truncated.csv", 4, 1e-10, 1e-6);
            const auto full = convert_xp_file(in + "XP_CONTINUOUS_RAW" + ext, c481);
            CHECK(gaiaxpy_worst_relative(got[0].bp.flux, full[0].bp.flux) > 1e-4);
        }
        SECTION("BP missing for one of three sources, default grid" + ext) {
            const auto got = convert_xp_file(in + "XP_CONTINUOUS_RAW_with_missing_BP" + ext, c600, {}, 2);
            REQUIRE(got.size() == 3);
            CHECK_FALSE(got[1].bp.present());
            CHECK(got[1].rp.present());
            xpconv_check(got, sol + "with_missing_converter_solution.csv", 6, 1e-10, 1e-10);
            // the same RP spectrum in the file GaiaXPy wrote with 9 significant digits
            const auto lone = xpconv_solution(sol + "missing_band_default_sampling_solution.csv");
            REQUIRE(lone.size() == 1);
            const auto& w = lone.begin()->second;
            CHECK(lone.begin()->first.first == got[1].source_id);
            CHECK(gaiaxpy_worst_relative(got[1].rp.flux, w.flux) < 2e-8);
            CHECK(gaiaxpy_worst_relative(got[1].rp.flux_error, w.flux_error) < 2e-8);
        }
        SECTION("the missing-BP source alone" + ext) {
            const auto got = convert_xp_file(in + "XP_CONTINUOUS_RAW_missing_BP_dr3int6" + ext, c600);
            REQUIRE(got.size() == 1);
            CHECK_FALSE(got[0].bp.present());
            const auto want = xpconv_solution(sol + "with_missing_converter_solution.csv").at({got[0].source_id, "RP"});
            CHECK(gaiaxpy_worst_relative(got[0].rp.flux, want.flux) < 1e-10);
            CHECK(gaiaxpy_worst_relative(got[0].rp.flux_error, want.flux_error) < 1e-10);
        }
    }
}

TEST_CASE("convert with_correlation: the samples' covariance", "[spectra][xp_convert]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const std::string config = data + "/gaiaxpy/config",
                      input = data + "/gaiaxpy/test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.csv";
    xp_convert_options with;
    with.with_correlation = true;

    SECTION("GaiaXPy's case (BP missing, default grid): the diagonal is GaiaXPy's flux_error squared") {
        const auto c = load_xp_conversion(config);
        const auto got = convert_xp_file(input, c, with);
        const auto want = xpconv_solution(data +
                                          "/gaiaxpy/test_files/converter_solution/with_missing_converter_solution.csv");
        std::size_t bands = 0;
        for (const auto& s : got)
            for (const auto* b : {&s.bp, &s.rp}) {
                if (!b->present()) {
                    CHECK(b->covariance.size() == 0);
                    continue;
                }
                ++bands;
                const auto& w = want.at({s.source_id, b == &s.bp ? "BP" : "RP"});
                REQUIRE(b->covariance.rows() == 600);
                REQUIRE(b->covariance.cols() == 600);
                std::vector<double> sd(600);
                for (Eigen::Index i = 0; i < 600; ++i) sd[std::size_t(i)] = std::sqrt(b->covariance(i, i));
                CHECK(gaiaxpy_worst_relative(sd, w.flux_error) < 1e-10);
                CHECK((b->covariance - b->covariance.transpose()).cwiseAbs().maxCoeff() <=
                      1e-12 * b->covariance.cwiseAbs().maxCoeff());
                // a correlation matrix within [-1, 1]
                const Eigen::VectorXd inv = Eigen::Map<const Eigen::VectorXd>(sd.data(), 600).cwiseInverse();
                CHECK((inv.asDiagonal() * b->covariance * inv.asDiagonal()).cwiseAbs().maxCoeff() < 1.0 + 1e-12);
            }
        CHECK(bands == 5);
    }
    SECTION("every element against GaiaXPy's sums in NumPy, full and truncated") {
        const auto ref = ferrum_test::load_reference("xp_convert_covariance.json");
        xp_conversion_options o;
        o.sampling = ferrum_test::vec(ref["sampling"]);
        const std::size_t n = o.sampling.size();
        const auto c = load_xp_conversion(config, o);
        for (const char* mode : {"full", "truncated"}) {
            with.truncation = std::string(mode) == "truncated";
            const auto got = convert_xp_file(input, c, with);
            REQUIRE(got.size() == ref[mode].size());
            for (std::size_t k = 0; k < got.size(); ++k) {
                const auto& r = ref[mode][k];
                CHECK(std::to_string(got[k].source_id) == r["source_id"].get<std::string>());
                for (const char* band : {"bp", "rp"}) {
                    INFO(mode << " source " << got[k].source_id << " " << band);
                    const xp_sampled_band& b = std::string(band) == "bp" ? got[k].bp : got[k].rp;
                    REQUIRE(b.present() == r.contains(band));
                    if (!b.present()) continue;
                    const auto& w = r[band];
                    CHECK(gaiaxpy_worst_relative(b.flux, ferrum_test::vec(w["flux"])) < 1e-10);
                    CHECK(gaiaxpy_worst_relative(b.flux_error, ferrum_test::vec(w["flux_error"])) < 1e-10);
                    CHECK(b.standard_deviation == w["standard_deviation"].get<double>());
                    // GaiaXPy's covariance is ours over s^2; compared relative to the matrix's largest element
                    const auto gx = ferrum_test::vec(w["gaiaxpy_covariance"]);
                    REQUIRE(gx.size() == n * n);
                    const double s2 = b.standard_deviation * b.standard_deviation;
                    double scale = 0, worst = 0;
                    for (const double v : gx) scale = std::max(scale, std::abs(v));
                    for (std::size_t i = 0; i < n; ++i)
                        for (std::size_t j = 0; j < n; ++j)
                            worst = std::max(
                                worst, std::abs(b.covariance(Eigen::Index(i), Eigen::Index(j)) / s2 - gx[i * n + j]));
                    CHECK(worst / scale < 1e-12);
                }
            }
        }
    }
}

TEST_CASE("convert: bad sampling, bases and input are named", "[spectra][xp_convert]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const std::string config = data + "/gaiaxpy/config", in = data + "/gaiaxpy/test_files/xp_continuous/";
    const fs::path dir = ferrum_test::fresh_dir("ferrum_test_xp_convert");

    SECTION("a sampling outside -10..70 or decreasing (GaiaXPy's test_sampling_error cases)") {
        xp_conversion_options o;
        for (const auto& u :
             std::vector<std::vector<double>>{{-15, 0, 60}, {-10, 0, 71}, {-11, 71}, {10, 5}, {0, NAN}}) {
            o.sampling = u;
            CHECK_THROWS_AS(load_xp_conversion(config, o), value_error);
        }
        o.sampling = {-10, 0, 0, 70};  // the limits and a repeated point are accepted, as by GaiaXPy
        CHECK(load_xp_conversion(config, o).bp_design.rows() == 4);
    }
    SECTION("a malformed or missing bases file") {
        const fs::path c = dir / "config";
        fs::create_directories(c);
        const std::string xml = ferrum_test::slurp(config +
                                                   "/OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml");
        auto expect = [&](const std::string& text, const std::string& field) {
            write_text_file(c / "OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml", text);
            try {
                load_xp_conversion(c.string());
                FAIL("no error for " << field);
            } catch (const input_error& e) {
                INFO(e.what());
                CHECK(e.field() == field);
                CHECK(e.line() > 0);
            }
        };
        expect(xml.substr(0, xml.find("</rpConfig>") - 40), "rpConfig");  // cut short
        std::string t = xml;
        t.replace(t.find("<dimension>55</dimension>"), 25, "<dimension>5x</dimension>");
        expect(t, "dimension");
        t = xml;
        const std::size_t v = t.find("<value>", t.find("<rpConfig>"));
        t.erase(v, t.find("</value>", v) + 8 - v);  // one value fewer than 55 x 55
        expect(t, "transformationMatrix");
        t = xml;
        t.replace(t.find("from=\"-9.933\""), 13, "from=\"abc\"");
        expect(t, "normalizedRange.from");
        CHECK_THROWS_AS(load_xp_conversion((dir / "nowhere").string()), io_error);
        xp_conversion_options o;
        o.bases_file = "no_such_bases.xml";
        try {
            load_xp_conversion(config, o);
            FAIL("no error");
        } catch (const io_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("no_such_bases.xml"));
        }
    }
    SECTION("a malformed row is an input_error naming file, line and column; or a counted skip") {
        const std::string good = ferrum_test::slurp(in + "XP_CONTINUOUS_RAW.csv");
        const std::size_t row1 = good.find('\n') + 1;
        std::string t = good;
        t.erase(t.find(")\"", row1), 1);  // the first source's bp_coefficients never closes
        const std::string p = write_text_file(dir / "open.csv", t);
        const auto c = xpconv_coarse(config);
        try {
            convert_xp_file(p, c);
            FAIL("no error");
        } catch (const input_error& e) {
            CHECK(e.file() == p);
            CHECK(e.line() == 2);
            CHECK(e.field() == "bp_coefficients");
        }
        read_report rep;
        const auto got = convert_xp_file(p, c, {}, 512, bad_row_policy::skip, &rep);
        CHECK(got.size() == 1);
        CHECK(rep.bad_rows() == 1);
    }
    SECTION("coefficients of another basis") {
        auto src = read_xp_continuous(in + "XP_CONTINUOUS_RAW.csv");
        src[0].rp.coefficients.pop_back();
        const auto c = xpconv_coarse(config);
        try {
            convert(c, src);
            FAIL("no error");
        } catch (const value_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("convert: source " + std::to_string(src[0].source_id)));
        }
    }
}
