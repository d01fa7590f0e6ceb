// Gaia DR3 archive formats (issue #14): gzip streamed by csv_reader (the oracle is the system's gzip program:
// the same text plain and compressed must give the same records), CR-only files refused, ECSV column lists
// checked, the array-cell parser, the bulk / DataLink RAW layout read to the same light curves as the long
// layout for the same transits, layout detection, the DR3 vari_rrlyrae columns, the simulator's dr3-bulk
// writer, and each bad input of the issue as an input_error naming file, line and column (or a counted skip).
// The archive's own conventions come from GaiaXPy's test files (XP_CONTINUOUS_RAW.ecsv / .csv, read when
// ../shared/data is present): ECSV cells "[a,b,...]", archive CSV cells "(a, b, ...)", empty fields and nan.
#include <catch2/catch.hpp>

#include "expect_error.hpp"

#include <ferrum/core/array_field.hpp>
#include <ferrum/core/csv.hpp>
#include <ferrum/core/gzip.hpp>
#include <ferrum/core/input_files.hpp>
#include <ferrum/lightcurve/epoch_files.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>
#include <ferrum/sim/rrlyrae.hpp>

#include "reference.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ferrum::bad_row_policy;

namespace {

fs::path scratch() {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_dr3_formats";
    fs::create_directories(dir);
    return dir;
}

std::string temp_file(const std::string& name, const std::string& content) {
    const fs::path p = scratch() / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    return p.string();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Compresses `path` with the system's gzip (an implementation independent of ours); "" when unavailable.
std::string system_gzip(const std::string& path) {
    const std::string out = path + ".gz";
    fs::remove(out);
    const std::string cmd = "gzip -c -n '" + path + "' > '" + out + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0 || !fs::exists(out)) return {};
    return out;
}

std::vector<std::vector<std::string>> records(const std::string& path, std::size_t block = std::size_t(1) << 20) {
    ferrum::csv_options o;
    o.block_size = block;
    ferrum::csv_reader csv(path, o);
    std::vector<std::vector<std::string>> out{csv.header()};
    while (const auto* r = csv.next()) {
        std::vector<std::string> row;
        for (std::size_t i = 0; i < r->size(); ++i) row.emplace_back((*r)[i]);
        row.push_back(std::to_string(r->line()));
        out.push_back(std::move(row));
    }
    return out;
}

using ferrum_test::expect_input_error;

// A CSV big enough to cross many blocks, with quotes, CRLF and comments.
std::string sample_text() {
    std::string t = "# a comment\nid,name,value\n";
    for (int i = 0; i < 20000; ++i) {
        t += std::to_string(i) + ",\"star, " + std::to_string(i % 7) + "\"," + std::to_string(i * 0.25);
        t += (i % 3 == 0) ? "\r\n" : "\n";
    }
    return t;
}

}  // namespace

TEST_CASE("gzip: a .gz file reads as the same records as its text, whatever its name", "[dr3][gzip]") {
    const std::string plain = temp_file("sample.csv", sample_text());
    const std::string gz = system_gzip(plain);
    if (gz.empty()) {
        WARN("no gzip program: skipped");
        return;
    }
    const auto want = records(plain);
    REQUIRE(want.size() == 20001);
    CHECK(records(gz) == want);
    CHECK(records(gz, 100) == want);  // tiny blocks: every record crosses an inflate boundary
    // detected by the magic bytes, not the name
    const std::string renamed = (scratch() / "compressed_but_named.csv").string();
    fs::copy_file(gz, renamed, fs::copy_options::overwrite_existing);
    ferrum::csv_reader csv(renamed);
    CHECK(csv.is_gzip());
    CHECK(records(renamed) == want);
    // concatenated members (cat a.gz b.gz) are one stream
    const std::string tail = temp_file("tail.csv", "20000,\"last\",1\n");
    const std::string tail_gz = system_gzip(tail);
    const std::string both = temp_file("both.csv.gz", slurp(gz) + slurp(tail_gz));
    const auto two = records(both);
    REQUIRE(two.size() == want.size() + 1);
    CHECK(two.back()[1] == "last");
}

TEST_CASE("gzip: a truncated or corrupt .gz is an input_error naming the file and the line reached",
          "[dr3][gzip][bad_input]") {
    const std::string plain = temp_file("trunc.csv", sample_text());
    const std::string gz = system_gzip(plain);
    if (gz.empty()) {
        WARN("no gzip program: skipped");
        return;
    }
    const std::string whole = slurp(gz);
    const std::string cut = temp_file("cut.csv.gz", whole.substr(0, whole.size() / 2));
    const auto e = expect_input_error([&] { records(cut); });
    CHECK(e.file() == cut);
    CHECK(e.line() > 100);  // the line the text had reached, not 0
    CHECK(std::string(e.what()).find("truncated") != std::string::npos);
    // only the 8-byte trailer missing: still an error, never a silent short read
    const std::string no_trailer = temp_file("no_trailer.csv.gz", whole.substr(0, whole.size() - 8));
    CHECK_THROWS_AS(records(no_trailer), ferrum::input_error);
    std::string bad = whole;
    for (std::size_t i = bad.size() / 3; i < bad.size() / 3 + 64; ++i) bad[i] = char(bad[i] ^ 0x5a);
    const std::string corrupt = temp_file("corrupt.csv.gz", bad);
    const auto c = expect_input_error([&] { records(corrupt); });
    CHECK(c.file() == corrupt);
}

TEST_CASE("csv_reader: CR-only line ends are refused, not read as one header line", "[dr3][csv][bad_input]") {
    const std::string path = temp_file("mac.csv", "source_id,mag\r1,15.2\r2,15.3\r");
    const auto e = expect_input_error([&] { ferrum::csv_reader csv(path); });
    CHECK(e.line() == 1);
    CHECK(std::string(e.what()).find("CR") != std::string::npos);
    // CRLF stays fine
    ferrum::csv_reader ok(temp_file("crlf.csv", "source_id,mag\r\n1,15.2\r\n"));
    CHECK(ok.header() == std::vector<std::string>{"source_id", "mag"});
}

TEST_CASE("csv_reader: the ECSV column list is read and must match the column line", "[dr3][csv][bad_input]") {
    const std::string good = temp_file("cols.ecsv",
                                       "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: source_id, datatype: int64}\n"
                                       "# -\n#   name: g_transit_mag\n#   datatype: string\n"
                                       "#   subtype: 'float64[null]'\n#   meta:\n#     ucd: phot.mag\n"
                                       "# schema: astropy-2.0\nsource_id,g_transit_mag\n1,\"[1.5,null]\"\n");
    ferrum::csv_reader csv(good);
    CHECK(csv.is_ecsv());
    REQUIRE(csv.ecsv_columns().size() == 2);
    CHECK(csv.ecsv_columns()[1].name == "g_transit_mag");
    CHECK(csv.ecsv_columns()[1].datatype == "string");
    CHECK(csv.ecsv_columns()[1].subtype == "float64[null]");
    // a header promising a column the column line lacks
    const std::string bad = temp_file("promise.ecsv",
                                      "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: source_id, datatype: int64}\n"
                                      "# - {name: n_transits, datatype: int16}\nsource_id\n1\n");
    const auto e = expect_input_error([&] { ferrum::csv_reader c(bad); });
    CHECK(e.line() == 6);
    CHECK(e.field() == "n_transits");
}

TEST_CASE("parse_array: ECSV and archive-CSV cells, NaN, null, empty, blanks", "[dr3][array]") {
    const auto a = ferrum::parse_array<double>(" [1.5, NaN,null , -2e-3,,nan] ");
    REQUIRE(a.ok());
    REQUIRE(a.size() == 6);
    CHECK(a.values[0] == 1.5);
    CHECK(a.values[3] == -2e-3);
    CHECK(std::vector<unsigned char>(a.missing) == std::vector<unsigned char>{0, 1, 1, 0, 1, 1});
    CHECK(std::isnan(a.values[1]));
    const auto p = ferrum::parse_array<std::int64_t>("(17128409767276358, 17132500551233560)");
    REQUIRE(p.ok());
    CHECK(p.values == std::vector<std::int64_t>{17128409767276358, 17132500551233560});
    const auto b = ferrum::parse_array<bool>("[true,False, null,1]");
    REQUIRE(b.ok());
    CHECK(b.values == std::vector<bool>{true, false, false, true});
    CHECK(b.missing[2] == 1);
    CHECK(ferrum::parse_array<double>("[]").ok());
    // NumPy's own list text has no commas: blanks separate, runs of them once
    const auto numpy = ferrum::parse_array<double>("[ 1.5e-17  2.0e-17\t3 ]");
    REQUIRE(numpy.ok());
    CHECK(numpy.values == std::vector<double>{1.5e-17, 2.0e-17, 3.0});
    CHECK(ferrum::parse_array<double>("[1 2, 3]").status == ferrum::array_status::bad_element);  // mixed: "1 2"
    CHECK(ferrum::parse_array<double>("[ ]").size() == 0);
    CHECK(ferrum::parse_array<double>("").status == ferrum::array_status::null);
    CHECK(ferrum::parse_array<double>("[1, 2").status == ferrum::array_status::unclosed);
    CHECK(ferrum::parse_array<double>("1, 2").status == ferrum::array_status::not_an_array);
    const auto bad = ferrum::parse_array<double>("[1, 2, x3, 4]");
    CHECK(bad.status == ferrum::array_status::bad_element);
    CHECK(bad.index == 2);
    CHECK(ferrum::describe_array_problem(bad, "[1, 2, x3, 4]").find("element 2 ('x3')") != std::string::npos);
    CHECK(ferrum::parse_array<double>("[1, inf]").status == ferrum::array_status::bad_element);
    CHECK(ferrum::parse_array<std::int64_t>("[1.5]").status == ferrum::array_status::bad_element);
}

TEST_CASE("parse_array on GaiaXPy's archive files: ECSV and CSV give the same coefficients", "[dr3][array][real]") {
    const std::string dir = ferrum_test::shared_data_dir() + "/gaiaxpy/test_files/xp_continuous/";
    if (!fs::exists(dir + "XP_CONTINUOUS_RAW_with_missing_BP.ecsv")) {
        WARN("../shared/data/gaiaxpy absent: skipped");
        return;
    }
    ferrum::csv_reader ecsv(dir + "XP_CONTINUOUS_RAW_with_missing_BP.ecsv");
    ferrum::csv_reader csv(dir + "XP_CONTINUOUS_RAW_with_missing_BP.csv");
    CHECK(ecsv.is_ecsv());
    CHECK(ecsv.ecsv_columns().size() == ecsv.header().size());
    const auto c_e = ecsv.column("bp_coefficients"), n_e = ecsv.column("bp_n_parameters");
    const auto c_c = csv.column("bp_coefficients");
    std::size_t rows = 0, missing_bp = 0;
    while (const auto* re = ecsv.next()) {
        const auto* rc = csv.next();
        REQUIRE(rc != nullptr);
        const auto a = ferrum::parse_array<double>((*re)[c_e]);
        const auto b = ferrum::parse_array<double>((*rc)[c_c]);
        CHECK(a.status == b.status);
        if (a.status == ferrum::array_status::null) {
            ++missing_bp;  // no BP spectrum: an empty cell, and an empty bp_n_parameters
            CHECK(ferrum::detail::trim((*re)[n_e]).empty());
        } else {
            REQUIRE(a.ok());
            CHECK(std::int64_t(a.size()) == ferrum::parse_int64((*re)[n_e]).value);  // 55 in DR3
            CHECK(a.values == b.values);
        }
        ++rows;
    }
    CHECK(rows == 3);
    CHECK(missing_bp == 1);
}

namespace {

// One source's transits, written in the long layout (G and BP rows) and in the bulk layout (arrays).
struct transit {
    std::int64_t id;
    double g_time, g_mag;  // g_mag NaN: no G value for this transit
    float g_foe;
    bool g_reject;
    double bp_time, bp_mag;  // bp_mag NaN: no BP value
    float bp_foe;
};

const std::vector<transit>& transits() {
    static const std::vector<transit> t = {
        {17128409767276358, 1712.8409, 15.112, 812.5f, false, 1712.8412, 15.40, 120.0f},
        {17132500551233560, 1713.2500, 15.487, 640.25f, false, 1713.2503, NAN, 0.0f},
        {17455011240094466, 1745.5011, NAN, 0.0f, false, 1745.5015, 15.62, 99.5f},
        {17459102021018752, 1745.9102, 14.998, 900.0f, true, 1745.9105, 15.30, 101.0f},
        {17011234567890123, 1701.1234, 15.301, 700.75f, false, 1701.1237, 15.55, 110.25f},  // earlier: sorted
    };
    return t;
}

std::string num(double x) {  // the shortest text that reads back to x, as the archive writes
    char buf[32];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

std::string long_layout(std::int64_t source, bool header = true) {
    std::string s = !header
                        ? ""
                        : "source_id,transit_id,band,time,mag,flux,flux_error,flux_over_error,rejected_by_photometry,"
                          "rejected_by_variability,other_flags,solution_id\n";
    for (const auto& t : transits()) {
        const auto row = [&](const char* band, double time, double mag, float foe, bool reject) {
            s += std::to_string(source) + "," + std::to_string(t.id) + "," + band + "," + num(time) + "," +
                 (std::isnan(mag) ? "" : num(mag)) + ",1000.0,1.0," + (std::isnan(mag) ? "" : num(foe)) + ",false," +
                 (reject ? "true" : "false") + ",1,375316653866487564\n";
        };
        row("G", t.g_time, t.g_mag, t.g_foe, t.g_reject);
        row("BP", t.bp_time, t.bp_mag, t.bp_foe, false);
    }
    return s;
}

std::string bulk_header(bool with_ecsv) {
    const char* cols[] = {"solution_id",
                          "source_id",
                          "n_transits",
                          "transit_id",
                          "g_transit_time",
                          "g_transit_mag",
                          "g_transit_flux_over_error",
                          "bp_obs_time",
                          "bp_mag",
                          "bp_flux_over_error",
                          "variability_flag_g_reject",
                          "variability_flag_bp_reject"};
    std::string h, line;
    if (with_ecsv) h = "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n";
    for (const char* c : cols) {
        const std::string name(c);
        if (with_ecsv) {
            const bool scalar = name == "solution_id" || name == "source_id" || name == "n_transits";
            h += "# - {name: " + name + ", datatype: " + (scalar ? "int64" : "string") +
                 (scalar ? "" : ", subtype: 'float64[null]'") + "}\n";
        }
        line += (line.empty() ? "" : ",") + name;
    }
    return h + line + "\n";
}

// The bulk row of `source`, archive style: JSON cells, null for a missing element, and a BP flag array
// with nulls where there is no BP value.
std::string bulk_row(std::int64_t source) {
    const auto& t = transits();
    const auto cell = [&](auto value_of) {
        std::string c = "\"[";
        for (std::size_t i = 0; i < t.size(); ++i) c += (i ? ", " : "") + value_of(t[i]);
        return c + "]\"";
    };
    const auto opt = [](double v) { return std::isnan(v) ? std::string("null") : num(v); };
    return "375316653866487564," + std::to_string(source) + "," + std::to_string(t.size()) + "," +
           cell([](const transit& x) { return std::to_string(x.id); }) + "," +
           cell([&](const transit& x) { return num(x.g_time); }) + "," +
           cell([&](const transit& x) { return opt(x.g_mag); }) + "," +
           cell([&](const transit& x) { return std::isnan(x.g_mag) ? "NaN" : num(x.g_foe); }) + "," +
           cell([&](const transit& x) { return num(x.bp_time); }) + "," +
           cell([&](const transit& x) { return opt(x.bp_mag); }) + "," +
           cell([&](const transit& x) { return std::isnan(x.bp_mag) ? "NaN" : num(x.bp_foe); }) + "," +
           cell([](const transit& x) { return std::string(x.g_reject ? "true" : "false"); }) + "," +
           cell([](const transit& x) { return std::string(std::isnan(x.bp_mag) ? "null" : "false"); }) + "\n";
}

}  // namespace

TEST_CASE("DR3 bulk layout: the same transits read as the same light curves as the long layout", "[dr3][epoch]") {
    const std::string lng = temp_file("long.csv", long_layout(42) + long_layout(7, false));
    const std::string blk = temp_file("bulk.ecsv", bulk_header(true) + bulk_row(42) + bulk_row(7));
    const std::string blk_csv = temp_file("bulk.csv", bulk_header(false) + bulk_row(42) + bulk_row(7));
    for (const auto band : {ferrum::gaia_band::G, ferrum::gaia_band::BP}) {
        ferrum::gaia_read_options o;
        o.band = band;
        o.show_progress = false;
        const auto a = ferrum::read_gaia_epoch_photometry(lng, o);
        for (const std::string& path : {blk, blk_csv}) {
            ferrum::gaia_epoch_reader probe(path, o);
            CHECK(probe.layout() == ferrum::gaia_epoch_layout::bulk);
            const auto b = ferrum::read_gaia_epoch_photometry(path, o);
            REQUIRE(a.curves.size() == 2);
            REQUIRE(b.curves.size() == 2);
            for (std::size_t k = 0; k < 2; ++k) {
                CHECK(b.curves[k].source_id == a.curves[k].source_id);
                CHECK(b.curves[k].band == a.curves[k].band);
                CHECK(b.curves[k].time == a.curves[k].time);
                CHECK(b.curves[k].mag == a.curves[k].mag);
                CHECK(b.curves[k].mag_err == a.curves[k].mag_err);
            }
            CHECK(b.report.used == a.report.used);
            CHECK(b.report.count(ferrum::skip_reasons::missing_mag) ==
                  a.report.count(ferrum::skip_reasons::missing_mag));
            CHECK(b.report.count(ferrum::skip_reasons::rejected_by_variability) ==
                  a.report.count(ferrum::skip_reasons::rejected_by_variability));
        }
        // the values themselves, from the table above: G keeps transits 4 (earliest), 0, 1 in time order
        if (band == ferrum::gaia_band::G) {
            const auto& c = a.curves[0];
            CHECK(c.source_id == 42);
            REQUIRE(c.size() == 3);
            CHECK(c.time == std::vector<double>{1701.1234, 1712.8409, 1713.2500});
            CHECK(c.mag == std::vector<double>{15.301, 15.112, 15.487});
            CHECK(c.mag_err[1] == Approx(1.0857362047581294 / 812.5).epsilon(1e-15));
        } else {
            CHECK(a.curves[0].size() == 4);  // BP: transit 1 has no value
        }
    }
}

TEST_CASE("epoch photometry: the layout is detected, a file in none is an error naming each layout's columns",
          "[dr3][epoch][bad_input]") {
    const std::string ecsv_long = temp_file("long.ecsv", "# %ECSV 1.0\n# ---\n# delimiter: ','\n" + long_layout(5));
    ferrum::gaia_epoch_reader r(ecsv_long);
    CHECK(r.layout() == ferrum::gaia_epoch_layout::long_table);
    CHECK(r.next()->size() == 3);
    const std::string none = temp_file("none.csv", "source_id,time,flux\n1,2,3\n");
    const auto e = expect_input_error([&] { ferrum::gaia_epoch_reader x(none); });
    const std::string m = e.what();
    CHECK(e.line() == 1);
    CHECK(m.find("long (DataLink INDIVIDUAL/COMBINED, DR2) needs source_id, transit_id, band, time, mag, "
                 "flux_over_error, rejected_by_variability (missing: transit_id, band, mag, flux_over_error, "
                 "rejected_by_variability)") != std::string::npos);
    CHECK(m.find("missing: transit_id, g_transit_time, g_transit_mag, g_transit_flux_over_error, "
                 "variability_flag_g_reject") != std::string::npos);
}

TEST_CASE("DR3 bulk layout: bad input names file, line, column and element, or is a counted skip",
          "[dr3][epoch][bad_input]") {
    const std::string head = bulk_header(false);
    const std::string good = bulk_row(42);
    const auto with = [&](const std::string& from, const std::string& to) {
        std::string r = good;
        const auto at = r.find(from);
        REQUIRE(at != std::string::npos);
        return r.replace(at, from.size(), to);
    };
    struct bad_case {
        const char* name;
        std::string row;
        const char* field;
        const char* says;
    };
    const std::vector<bad_case> cases = {
        // a bracket that never closes (the row ends inside the cell)
        {"unclosed", with("15.112, 15.487, null, 14.998, 15.301]\"", "15.112, 15.487, null, 14.998, 15.301\""),
         "g_transit_mag", "never closed"},
        // arrays of unequal length within a row
        {"unequal", with("15.112, 15.487, null, 14.998, 15.301]", "15.112, 15.487, null, 14.998]"), "g_transit_mag",
         "has 4 elements but transit_id has 5"},
        // n_transits disagreeing with the arrays
        {"n_transits", with("42,5,", "42,6,"), "n_transits", "n_transits is 6 but transit_id has 5"},
        // a source_id that is not an int64
        {"source_id", with(",42,", ",18446744073709551616,"), "source_id", "out of range"},
        // a bad element: its index is named
        {"element", with("15.112, 15.487", "15.112, 15.4x87"), "g_transit_mag", "element 1 ('15.4x87')"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const std::string path = temp_file(std::string("bad_") + c.name + ".csv",
                                           head + bulk_row(41) + c.row + bulk_row(43));
        ferrum::gaia_read_options o;
        o.show_progress = false;
        const auto e = expect_input_error([&] { ferrum::read_gaia_epoch_photometry(path, o); });
        CHECK(e.file() == path);
        CHECK(e.line() == 3);
        CHECK(e.field() == c.field);
        CHECK(std::string(e.what()).find(c.says) != std::string::npos);
        // under skip: the bad source is counted and left out, the two good ones read
        o.on_bad_row = bad_row_policy::skip;
        const auto r = ferrum::read_gaia_epoch_photometry(path, o);
        CHECK(r.report.bad_rows() == 1);
        CHECK(r.report.rows == 3);
        REQUIRE(r.curves.size() == 2);
        CHECK(r.curves[0].source_id == 41);
        CHECK(r.curves[1].source_id == 43);
    }
    // an ECSV header that promises columns the rows lack: the short row names the first missing column
    const std::string shorter = temp_file("short_rows.ecsv", bulk_header(true) + "375316653866487564,42,0\n");
    const auto e = expect_input_error([&] { ferrum::read_gaia_epoch_photometry(shorter); });
    CHECK(e.field() == "transit_id");
    CHECK(e.line() == 18);
}

TEST_CASE("vari_rrlyrae: the DR3 column set, nan as missing, .gz, required columns named", "[dr3][catalogue]") {
    std::string header = ferrum::sim::detail::dr3_vari_rrlyrae_header();
    std::string row;
    for (const char* c : ferrum::sim::detail::dr3_vari_rrlyrae_columns()) {
        const std::string n(c);
        std::string v = "nan";
        if (n == "source_id") v = "5978423713587319040";
        else if (n == "solution_id") v = "375316653866487564";
        else if (n == "pf") v = "0.5652";
        else if (n == "epoch_g") v = "1723.25";
        else if (n == "num_clean_epochs_g") v = "48";
        else if (n == "metallicity") v = "-1.43";
        else if (n == "best_classification") v = "RRab";
        else if (n.find("fund_freq1_harmonic") == 0) v = "\"[0.31, 0.15, null]\"";  // array columns: ignored
        else if (n == "p1_o") v = "";
        row += (row.empty() ? "" : ",") + v;
    }
    const std::string plain = temp_file("vari.csv", header + row + "\n");
    for (const std::string& path : {plain, system_gzip(plain)}) {
        if (path.empty()) continue;
        const auto cat = ferrum::read_rrlyrae_catalogue(path);
        REQUIRE(cat.size() == 1);
        const auto& s = cat.stars()[0];
        CHECK(s.source_id == 5978423713587319040);
        CHECK(s.solution_id == std::optional<std::int64_t>(375316653866487564));
        CHECK(s.pf == std::optional<double>(0.5652));
        CHECK(!s.p1_o);
        CHECK(!s.zp_mag_g);  // nan: missing
        CHECK(s.metallicity == std::optional<double>(-1.43));
        CHECK(s.num_clean_epochs_g == std::optional<std::int64_t>(48));
        CHECK(cat.folding(5978423713587319040).period == 0.5652);
    }
    ferrum::catalogue_read_options o;
    o.required_columns = {"best_classification", "pf", "epoch_g"};
    const std::string lacking = temp_file("lacking.csv", "source_id,pf,extra\n1,0.5,x\n");
    const auto e = expect_input_error([&] { ferrum::read_rrlyrae_catalogue(lacking, o); });
    CHECK(e.field() == "best_classification, epoch_g");
    CHECK(e.line() == 1);
}

TEST_CASE("join on source_id: files in any order, unmatched counted both ways", "[dr3][catalogue]") {
    const std::string cat_path = temp_file("join_cat.csv",
                                           "source_id,best_classification,pf\n9,RRab,0.5\n7,RRab,0.6\n"
                                           "3,RRab,0.55\n");
    const auto cat = ferrum::read_rrlyrae_catalogue(cat_path);
    std::vector<ferrum::light_curve> curves(4);
    curves[0].source_id = 3, curves[1].source_id = 100, curves[2].source_id = 9, curves[3].source_id = 101;
    const auto m = ferrum::match_catalogue(curves, cat);
    CHECK(m.matched == 2);
    CHECK(m.curves_not_in_catalogue == 2);
    CHECK(m.catalogue_without_curve == 1);
}

TEST_CASE("simulator: the dr3-bulk set reads as the same stars as the long set", "[dr3][sim]") {
    const fs::path dir = scratch();
    ferrum::sim::simulation_options so;
    so.seed = 11;
    so.min_epochs = 20;
    ferrum::sim::write_options w;
    w.threads = 1;
    w.progress = false;
    const auto lng = ferrum::sim::write_gaia_like_set(dir / "sim_long", 4, 3, so, w);
    w.format = ferrum::sim::output_format::dr3_bulk;
    const auto blk = ferrum::sim::write_gaia_like_set(dir / "sim_bulk", 4, 3, so, w);
    CHECK(blk.epoch_photometry.filename() == "epoch_photometry.csv.gz");
    CHECK(blk.epochs == lng.epochs);
    ferrum::gaia_read_options o;
    o.show_progress = false;
    const auto a = ferrum::read_gaia_epoch_photometry(lng.epoch_photometry.string(), o);
    const auto b = ferrum::read_gaia_epoch_photometry(blk.epoch_photometry.string(), o);
    {
        ferrum::csv_reader csv(blk.epoch_photometry.string());
        CHECK(csv.is_gzip());
        CHECK(csv.is_ecsv());
        CHECK(csv.ecsv_columns().size() == csv.header().size());
    }
    REQUIRE(a.curves.size() == 7);
    REQUIRE(b.curves.size() == 7);
    for (std::size_t k = 0; k < 7; ++k) {
        CHECK(b.curves[k].source_id == a.curves[k].source_id);
        CHECK(b.curves[k].time == a.curves[k].time);
        CHECK(b.curves[k].mag == a.curves[k].mag);
        CHECK(b.curves[k].mag_err == a.curves[k].mag_err);
    }
    CHECK(b.report.count(ferrum::skip_reasons::rejected_by_variability) ==
          a.report.count(ferrum::skip_reasons::rejected_by_variability));
    const auto ca = ferrum::read_rrlyrae_catalogue(lng.vari_rrlyrae.string());
    const auto cb = ferrum::read_rrlyrae_catalogue(blk.vari_rrlyrae.string());
    REQUIRE(cb.size() == ca.size());
    for (std::size_t k = 0; k < ca.size(); ++k) {
        const auto &x = ca.stars()[k], &y = cb.stars()[k];
        CHECK(y.source_id == x.source_id);
        CHECK(y.type == x.type);
        CHECK(y.pf == x.pf);
        CHECK(y.p1_o == x.p1_o);
        CHECK(y.epoch_g == x.epoch_g);
        CHECK(y.phi31_g == x.phi31_g);
        CHECK(y.r21_g == x.r21_g);
        CHECK(y.peak_to_peak_g == x.peak_to_peak_g);
    }
}

// --- many bulk files read as one (issue #14: the archive ships DR3 in ~3,400 files) ---------------------------

namespace {

// The sources of a reader, in the order it gives them.
template <class Reader>
std::vector<ferrum::light_curve> dr3_files_all(Reader& r) {
    std::vector<ferrum::light_curve> out;
    while (auto lc = r.next()) out.push_back(std::move(*lc));
    return out;
}

// The system's gzip -dc of `path` (an inflater independent of ours); "" when unavailable.
std::string dr3_files_gunzip(const std::string& path) {
    const std::string out = path + ".txt";
    const std::string cmd = "gzip -dc '" + path + "' > '" + out + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return {};
    return slurp(out);
}

// A three-file and a one-file dr3-bulk set of the same 11 stars.
struct dr3_files_sets {
    ferrum::sim::gaia_like_set one, three;
};

dr3_files_sets dr3_files_simulate() {
    ferrum::sim::simulation_options so;
    so.seed = 5;
    so.min_epochs = 20;
    ferrum::sim::write_options w;
    w.threads = 2;
    w.chunk = 2;  // chunks straddle the file boundaries
    w.progress = false;
    w.format = ferrum::sim::output_format::dr3_bulk;
    fs::remove_all(scratch() / "files_one");
    fs::remove_all(scratch() / "files_three");
    dr3_files_sets s;
    s.one = ferrum::sim::write_gaia_like_set(scratch() / "files_one", 7, 4, so, w);
    w.files = 3;
    s.three = ferrum::sim::write_gaia_like_set(scratch() / "files_three", 7, 4, so, w);
    return s;
}

}  // namespace

TEST_CASE("input lists: commas, globs sorted by name, a pattern that matches nothing named", "[dr3][files]") {
    const fs::path d = scratch() / "globs";
    fs::remove_all(d);
    fs::create_directories(d);
    for (const char* f : {"EpochPhotometry_000010-000019.csv.gz", "EpochPhotometry_000000-000009.csv.gz", "other.csv"})
        std::ofstream(d / f) << "x\n";
    const std::string p = d.string() + "/";
    const auto g = ferrum::expand_input_files(p + "EpochPhotometry_*.csv.gz");
    REQUIRE(g.size() == 2);
    CHECK(g[0] == p + "EpochPhotometry_000000-000009.csv.gz");
    CHECK(g[1] == p + "EpochPhotometry_000010-000019.csv.gz");
    const auto l = ferrum::expand_input_files(
        std::vector<std::string>{p + "other.csv, " + p + "EpochPhotometry_0000[1]*", p + "missing.csv"});
    CHECK(l == std::vector<std::string>{p + "other.csv", g[1], p + "missing.csv"});  // a plain path is kept as given
    const auto e = expect_input_error([&] { ferrum::expand_input_files(p + "EpochPhotometry_9*.csv.gz"); });
    CHECK(e.file() == p + "EpochPhotometry_9*.csv.gz");
    CHECK(std::string(e.what()).find("matches no file") != std::string::npos);
}

TEST_CASE("many bulk files: read in parallel as the one file of the same stars, in its order", "[dr3][files]") {
    const auto s = dr3_files_simulate();
    REQUIRE(s.three.epoch_files.size() == 3);
    CHECK(s.three.epoch_files[0].filename() == "EpochPhotometry_000000-000002.csv.gz");
    CHECK(s.three.epoch_files[2].filename() == "EpochPhotometry_000007-000010.csv.gz");
    CHECK(s.three.epochs == s.one.epochs);
    // the writer: the three texts (system gzip) are the one file's text cut between rows, each with the header
    const std::string whole = dr3_files_gunzip(s.one.epoch_photometry.string());
    if (!whole.empty()) {
        const std::string header = ferrum::sim::detail::dr3_epoch_photometry_header();
        std::string joined = header;
        for (const auto& f : s.three.epoch_files) {
            const std::string t = dr3_files_gunzip(f.string());
            REQUIRE(t.compare(0, header.size(), header) == 0);
            joined += t.substr(header.size());
        }
        CHECK(joined == whole);
    }
    ferrum::gaia_read_options o;
    o.show_progress = false;
    ferrum::gaia_epoch_reader single(s.one.epoch_photometry.string(), o);
    const auto want = dr3_files_all(single);
    REQUIRE(want.size() == 11);
    const auto files = ferrum::expand_input_files(s.three.epoch_photometry.string());
    REQUIRE(files.size() == 3);
    for (const unsigned readers : {1u, 2u, 3u})
        for (const std::size_t chunk : {std::size_t(1), std::size_t(2), std::size_t(100)}) {
            ferrum::gaia_files_options fo;
            fo.readers = readers;
            fo.chunk = chunk;
            ferrum::gaia_epoch_files_reader r(files, fo);
            const auto got = dr3_files_all(r);
            REQUIRE(got.size() == want.size());
            for (std::size_t k = 0; k < want.size(); ++k) {
                CHECK(got[k].source_id == want[k].source_id);
                CHECK(got[k].time == want[k].time);
                CHECK(got[k].mag == want[k].mag);
                CHECK(got[k].mag_err == want[k].mag_err);
            }
            CHECK(r.report().rows == single.report().rows);
            CHECK(r.report().used == single.report().used);
            CHECK(r.report().curves == 11);
        }
    // read-all over the list: the same curves; the catalogue given twice (a list) is a repeated source_id
    const auto all = ferrum::read_gaia_epoch_photometry(files, o, 2);
    REQUIRE(all.curves.size() == 11);
    CHECK(all.curves[10].mag == want[10].mag);
    const std::string cat = s.one.vari_rrlyrae.string();
    const auto c = expect_input_error([&] { ferrum::read_rrlyrae_catalogue(std::vector<std::string>{cat, cat}); });
    CHECK(c.field() == "source_id");
    CHECK(std::string(c.what()).find("appears twice (first on line") != std::string::npos);
    // a reader dropped half-way (the caller failed) stops its threads
    {
        ferrum::gaia_files_options fo;
        fo.readers = 3;
        fo.chunk = 1;
        ferrum::gaia_epoch_files_reader r(files, fo);
        CHECK(r.next().has_value());
    }
    // a source in two files is an error naming both
    const std::vector<std::string> twice{files[0], files[1], files[0]};
    ferrum::gaia_epoch_files_reader r(twice, {});
    const auto e = expect_input_error([&] { dr3_files_all(r); });
    CHECK(e.file() == files[0]);
    CHECK(std::string(e.what()).find("already read from " + files[0]) != std::string::npos);
}

TEST_CASE("many bulk files: a bad row or a truncated .gz in the 2nd of 3 names that file and line", "[dr3][files]") {
    const auto s = dr3_files_simulate();
    const auto files = ferrum::expand_input_files(s.three.epoch_photometry.string());
    REQUIRE(files.size() == 3);
    // the second file with the source_id of its 2nd data row made text, compressed by our writer
    const std::string text = dr3_files_gunzip(files[1]);
    if (text.empty()) {
        WARN("no gzip program: skipped");
        return;
    }
    std::size_t line = 0, at = 0, data_rows = 0;
    for (std::size_t pos = 0; pos < text.size(); pos = text.find('\n', pos) + 1) {
        ++line;
        if (text[pos] == '#' || text.compare(pos, 11, "solution_id") == 0) continue;
        if (++data_rows == 2) {
            at = pos;
            break;
        }
    }
    REQUIRE(data_rows == 2);
    std::string bad = text;
    const std::size_t comma = bad.find(',', at);
    bad.insert(comma + 1, "x");  // "x4..." is not an int64
    const fs::path dir = scratch() / "files_bad";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::string> list{files[0], (dir / fs::path(files[1]).filename()).string(), files[2]};
    {
        std::ofstream out(list[1], std::ios::binary);
        ferrum::gzip_writer gz(out);
        gz.write(bad);
        gz.finish();
    }
    for (const unsigned readers : {1u, 3u}) {
        ferrum::gaia_files_options fo;
        fo.readers = readers;
        fo.chunk = 1;
        ferrum::gaia_epoch_files_reader r(list, fo);
        std::size_t before = 0;
        const auto e = expect_input_error([&] {
            while (r.next()) ++before;
        });
        CHECK(e.file() == list[1]);
        CHECK(e.line() == line);
        CHECK(e.field() == "source_id");
        CHECK(before == 4);  // the 3 stars of the first file and the 1st of the second came first, as in one file
    }
    // under skip the row is counted, the files go on
    ferrum::gaia_files_options skip;
    skip.read.on_bad_row = bad_row_policy::skip;
    skip.readers = 2;
    ferrum::gaia_epoch_files_reader r(list, skip);
    CHECK(dr3_files_all(r).size() == 10);
    CHECK(r.report().bad_rows() == 1);
    CHECK(r.report().rows == 11);
    // a truncated download among several: its file, never a short read
    const std::string whole = slurp(files[1]);
    std::ofstream(list[1], std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() / 2);
    ferrum::gaia_files_options fo;
    fo.readers = 3;
    ferrum::gaia_epoch_files_reader t(list, fo);
    const auto e = expect_input_error([&] { dr3_files_all(t); });
    CHECK(e.file() == list[1]);
    CHECK(std::string(e.what()).find("truncated") != std::string::npos);
}
