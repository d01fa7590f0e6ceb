// XP continuous spectra -> sampled spectra against GaiaXPy's own expected outputs of `calibrate`
// (../shared/data/gaiaxpy/test_files/calibrator_solution, written by GaiaXPy 2.x from the test sources in
// test_files/xp_continuous): default grid (both BP models GaiaXPy ships), a user grid, BP missing, and
// truncation, read from the archive's CSV and ECSV forms; then bad input and an incomplete configuration.
// Skips (WARN) when ../shared/data is absent.
#include <catch2/catch.hpp>

#include <ferrum/core/csv.hpp>
#include <ferrum/spectra/xp_continuous.hpp>

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
#include <vector>

namespace fs = std::filesystem;
using namespace ferrum;
using namespace ferrum::spectra;
using ferrum_test::gaiaxpy_cell;
using ferrum_test::gaiaxpy_sampling;
using ferrum_test::gaiaxpy_worst_relative;
using ferrum_test::write_text_file;

namespace {

struct expected_spectrum {
    std::vector<double> flux, flux_error;
};

std::map<std::int64_t, expected_spectrum> read_solution(const std::string& path) {
    csv_reader in(path);
    std::map<std::int64_t, expected_spectrum> out;
    while (const csv_record* r = in.next())
        out[parse_int64((*r)[in.column("source_id")]).value] = {gaiaxpy_cell((*r)[in.column("flux")]),
                                                                gaiaxpy_cell((*r)[in.column("flux_error")])};
    return out;
}

void check_against(const std::vector<xp_spectrum>& got, const std::string& solution, std::size_t expected_sources,
                   double tol = 1e-6) {
    const auto want = read_solution(solution);
    REQUIRE(want.size() == expected_sources);
    REQUIRE(got.size() == expected_sources);
    for (const auto& s : got) {
        INFO("source " << s.source_id << " vs " << solution);
        REQUIRE(want.count(s.source_id) == 1);
        CHECK(gaiaxpy_worst_relative(s.flux, want.at(s.source_id).flux) < tol);
        CHECK(gaiaxpy_worst_relative(s.flux_error, want.at(s.source_id).flux_error) < tol);
    }
}

}  // namespace

TEST_CASE("calibrate equals GaiaXPy on its test sources, CSV and ECSV", "[spectra][xp_continuous]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const std::string config = data + "/gaiaxpy/config", in = data + "/gaiaxpy/test_files/xp_continuous/",
                      sol = data + "/gaiaxpy/test_files/calibrator_solution/";
    const auto calib = load_xp_calibration(config);
    REQUIRE(calib.sampling == gaiaxpy_sampling(sol + "calibrator_solution_default_sampling.csv"));
    REQUIRE(calib.sampling == gaiaxpy_default_sampling());
    REQUIRE(calib.bp_design.rows() == 343);
    REQUIRE(calib.bp_design.cols() == 55);

    for (const std::string ext : {".csv", ".ecsv"}) {
        SECTION("both bands, default grid" + ext) {
            const auto src = read_xp_continuous(in + "XP_CONTINUOUS_RAW" + ext);
            REQUIRE(src.size() == 2);
            CHECK(src[0].source_id == 5853498713190525696);
            CHECK(src[0].bp.correlations.size() == 55 * 54 / 2);
            check_against(calibrate(calib, src), sol + "calibrator_solution_default.csv", 2);
            // one source at a time gives the same as the batch
            const auto one = calibrate(calib, src[1]);
            CHECK(gaiaxpy_worst_relative(one.flux, calibrate(calib, src)[1].flux) < 1e-14);
        }
        SECTION("BP missing for one of three sources" + ext) {
            const auto got = calibrate_xp_file(in + "XP_CONTINUOUS_RAW_with_missing_BP" + ext, calib);
            REQUIRE(got.size() == 3);
            CHECK(std::isnan(got[1].flux[0]));
            CHECK(std::isfinite(got[1].flux[150]));  // 636 nm: RP alone
            check_against(got, sol + "with_missing_calibrator_solution.csv", 3);
        }
        SECTION("the missing-BP source alone" + ext) {
            const auto got = calibrate_xp_file(in + "XP_CONTINUOUS_RAW_missing_BP_dr3int6" + ext, calib);
            REQUIRE(got.size() == 1);
            const auto want = read_solution(sol + "with_missing_calibrator_solution.csv").at(got[0].source_id);
            CHECK(gaiaxpy_worst_relative(got[0].flux, want.flux) < 1e-6);
            CHECK(gaiaxpy_worst_relative(got[0].flux_error, want.flux_error) < 1e-6);
        }
        SECTION("truncation to n_relevant_bases" + ext) {
            xp_calibrate_options o;
            o.truncation = true;
            const auto got = calibrate_xp_file(in + "XP_CONTINUOUS_RAW" + ext, calib, o);
            // GaiaXPy wrote this solution with 9 significant digits
            check_against(got, sol + "calibrator_solution_truncation_default.csv", 2);
            CHECK(gaiaxpy_worst_relative(got[0].flux,
                                 calibrate(calib, read_xp_continuous(in + "XP_CONTINUOUS_RAW" + ext))[0].flux) > 1e-3);
        }
    }
    SECTION("the other BP model GaiaXPy ships (v211w), on its own grid") {
        xp_calibration_options o;
        o.bp_model = "v211w";
        const auto c = load_xp_calibration(config, o);
        CHECK(c.sampling == gaiaxpy_sampling(sol + "calibrator_solution_v211w_default_sampling.csv"));
        check_against(calibrate_xp_file(in + "XP_CONTINUOUS_RAW.csv", c), sol + "calibrator_solution_v211w_default.csv",
                      2);
    }
    SECTION("a user grid, from the instrument model (dispersion, response, inverse bases)") {
        xp_calibration_options o;
        o.sampling = gaiaxpy_sampling(sol + "calibrator_solution_custom_sampling.csv");
        REQUIRE(o.sampling == std::vector<double>{350, 550, 750, 950});
        check_against(calibrate_xp_file(in + "XP_CONTINUOUS_RAW.ecsv", load_xp_calibration(config, o)),
                      sol + "calibrator_solution_custom.csv", 2);
        o.bp_model = "v211w";
        check_against(calibrate_xp_file(in + "XP_CONTINUOUS_RAW.csv", load_xp_calibration(config, o)),
                      sol + "calibrator_solution_v211w_custom.csv", 2);
        o.sampling = {320, 400, 500};
        CHECK_THROWS_AS(load_xp_calibration(config, o), value_error);
        o.sampling = {500, 400, 600};
        CHECK_THROWS_AS(load_xp_calibration(config, o), value_error);
    }
    SECTION("header detection") {
        CHECK(is_xp_continuous_file(in + "XP_CONTINUOUS_RAW.ecsv"));
        CHECK_FALSE(is_xp_continuous_file(sol + "calibrator_solution_default.csv"));
    }
}

TEST_CASE("xp_continuous: bad input and an incomplete configuration name file, line and column",
          "[spectra][xp_continuous]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const std::string config = data + "/gaiaxpy/config";
    const fs::path dir = ferrum_test::fresh_dir("ferrum_test_xp_continuous");
    // The real two-source ECSV, edited one way or another below.
    const std::string good = ferrum_test::slurp(data + "/gaiaxpy/test_files/xp_continuous/XP_CONTINUOUS_RAW.ecsv");
    const std::size_t header_end = good.find("\nsource_id,");
    REQUIRE(header_end != std::string::npos);
    const std::size_t row1 = good.find('\n', header_end + 1) + 1;
    const std::size_t row1_line = std::size_t(std::count(good.begin(), good.begin() + std::ptrdiff_t(row1), '\n')) + 1;
    auto expect_error =
        [&](const std::string& name, const std::string& text, const std::string& field, std::size_t line) {
        const std::string p = write_text_file(dir / name, text);
        try {
            read_xp_continuous(p);
            FAIL("no error for " << name);
        } catch (const input_error& e) {
            INFO(e.what());
            CHECK(e.file() == p);
            CHECK(e.field() == field);
            CHECK(e.line() == line);
        }
    };
    SECTION("a bracket that never closes") {
        std::string t = good;
        const std::size_t close = t.find("]\"", row1);  // end of the first source's bp_coefficients
        t.erase(close, 1);
        expect_error("open_bracket.ecsv", t, "bp_coefficients", row1_line);
    }
    SECTION("an array shorter than n_parameters") {
        std::string t = good;
        const std::size_t close = t.find("]\"", row1);
        const std::size_t last_comma = t.rfind(',', close);
        t.erase(last_comma, close - last_comma);
        expect_error("short.ecsv", t, "bp_coefficients", row1_line);
    }
    SECTION("correlations of the wrong length") {
        std::string t = good;
        const std::size_t corr_start = t.find("\"[", t.find("\"[", t.find("\"[", row1) + 2) + 2);
        t.insert(corr_start + 2, "0.5,");
        expect_error("corr.ecsv", t, "bp_coefficient_correlations", row1_line);
    }
    SECTION("a source_id that is not an int64") {
        std::string t = good;
        t.replace(row1, 19, "5853498713190525696.5");
        expect_error("id_fraction.ecsv", t, "source_id", row1_line);
        t = good;
        t.replace(row1, 19, "99999999999999999999");  // beyond int64
        expect_error("id_big.ecsv", t, "source_id", row1_line);
    }
    SECTION("a missing column") {
        std::string t = good;
        const std::size_t col = t.find(",rp_coefficient_errors", header_end);
        t.erase(col, std::string(",rp_coefficient_errors").size());
        const std::size_t header_line =
            std::size_t(std::count(good.begin(), good.begin() + std::ptrdiff_t(header_end + 1), '\n')) + 1;
        expect_error("no_column.ecsv", t, "rp_coefficient_errors", header_line);
    }
    SECTION("bad rows are counted and skipped under bad_row_policy::skip") {
        std::string t = good;
        t.replace(row1, 19, "not_a_source_id_abc");
        const std::string p = write_text_file(dir / "skip.ecsv", t);
        read_report rep;
        const auto got = read_xp_continuous(p, bad_row_policy::skip, &rep);
        CHECK(got.size() == 1);
        CHECK(rep.bad_rows() == 1);
        CHECK(rep.rows == 2);
    }
    SECTION("a configuration folder lacking a file") {
        const fs::path c = dir / "config";
        fs::create_directories(c / "filters");
        // default grid: the XpFilter table is missing
        try {
            load_xp_calibration(c.string());
            FAIL("no error");
        } catch (const io_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("XpFilter_v375wiv142r.xml"));
        }
        // user grid: BP's tables are there, RP's response is not
        for (const char* f : {"bpC03_v375wi_bases.csv", "bpC03_v375wi_dispersion.csv", "bpC03_v375wi_response.csv",
                              "rpC03_v142r_bases.csv", "rpC03_v142r_dispersion.csv"})
            fs::copy_file(config + "/" + f, c / f);
        xp_calibration_options o;
        o.sampling = {400, 700};
        try {
            load_xp_calibration(c.string(), o);
            FAIL("no error");
        } catch (const io_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("rpC03_v142r_response.csv"));
        }
        // a truncated XpFilter table: an input_error naming the element
        const std::string xml = ferrum_test::slurp(config + "/filters/XpFilter_v375wiv142r.xml");
        write_text_file(c / "filters" / "XpFilter_v375wiv142r.xml", xml.substr(0, xml.find("<rpSampledBases")));
        try {
            load_xp_calibration(c.string());
            FAIL("no error");
        } catch (const input_error& e) {
            CHECK(e.field() == "rpSampledBases");
        }
        CHECK_THROWS_AS(load_xp_calibration((dir / "nowhere").string()), io_error);
    }
}
