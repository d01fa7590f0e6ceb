// Readers: the CSV tokenizer (quoting, CRLF, comments/ECSV, block boundaries), number parsing, the Gaia
// epoch-photometry reader, the vari_rrlyrae catalogue and plain per-star tables. Expected values come from
// the hand-written fixtures in tests/data/readers (read by eye) and, for the real sample, from rows of the
// file copied by hand and counts made with Python's csv module.
#include <catch2/catch.hpp>

#include "expect_error.hpp"

#include <ferrum/core/csv.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>
#include <ferrum/lightcurve/tables.hpp>
#include <ferrum/photometry/colour_features.hpp>
#include <ferrum/relations/table_io.hpp>
#include <ferrum/spectra/xp_spectra.hpp>

#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ferrum::bad_row_policy;
using ferrum::skip_reason;
namespace skip_reasons = ferrum::skip_reasons;

namespace {

std::string fixture(const std::string& name) { return std::string(FERRUM_TEST_DATA_DIR) + "/readers/" + name; }

// Writes `content` byte for byte (CRLF, BOM and missing final newlines survive) to a temporary file.
std::string temp_file(const std::string& name, const std::string& content) {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_readers";
    fs::create_directories(dir);
    const fs::path p = dir / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    return p.string();
}

std::vector<std::vector<std::string>> read_all_records(const std::string& path, ferrum::csv_options options = {}) {
    ferrum::csv_reader csv(path, options);
    std::vector<std::vector<std::string>> rows;
    while (const auto* rec = csv.next()) {
        std::vector<std::string> row;
        for (std::size_t i = 0; i < rec->size(); ++i) row.emplace_back((*rec)[i]);
        rows.push_back(row);
    }
    return rows;
}

using ferrum_test::expect_input_error;

std::vector<ferrum::light_curve> stream_gaia(const std::string& path, ferrum::gaia_read_options options = {}) {
    ferrum::gaia_epoch_reader reader(path, options);
    std::vector<ferrum::light_curve> out;
    while (auto lc = reader.next()) out.push_back(std::move(*lc));
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// numbers
// ---------------------------------------------------------------------------------------------------

TEST_CASE("parse_double accepts decimal numbers and names every failure", "[readers][csv]") {
    using ferrum::field_status;
    CHECK(ferrum::parse_double("1.5").value == 1.5);
    CHECK(ferrum::parse_double(" 2 ").value == 2.0);
    CHECK(ferrum::parse_double("+3").value == 3.0);
    CHECK(ferrum::parse_double("-4e-3").value == -0.004);
    CHECK(ferrum::parse_double(".25").value == 0.25);
    CHECK(ferrum::parse_double("16.68589964089321").value == 16.68589964089321);
    CHECK(ferrum::parse_double("").status == field_status::empty);
    CHECK(ferrum::parse_double("   ").status == field_status::empty);
    CHECK(ferrum::parse_double("abc").status == field_status::not_a_number);
    CHECK(ferrum::parse_double("1.5x").status == field_status::not_a_number);
    CHECK(ferrum::parse_double("1,5").status == field_status::not_a_number);
    CHECK(ferrum::parse_double("+-1").status == field_status::not_a_number);
    CHECK(ferrum::parse_double("nan").status == field_status::not_finite);
    CHECK(ferrum::parse_double("NaN").status == field_status::not_finite);
    CHECK(ferrum::parse_double("inf").status == field_status::not_finite);
    CHECK(ferrum::parse_double("-Infinity").status == field_status::not_finite);
    CHECK(ferrum::parse_double("1e999").status == field_status::out_of_range);
}

TEST_CASE("parse_int64 and parse_bool", "[readers][csv]") {
    using ferrum::field_status;
    CHECK(ferrum::parse_int64("1762302047363988608").value == 1762302047363988608LL);
    CHECK(ferrum::parse_int64("9223372036854775807").value == 9223372036854775807LL);
    CHECK(ferrum::parse_int64("9223372036854775808").status == field_status::out_of_range);
    CHECK(ferrum::parse_int64("-7").value == -7);
    CHECK(ferrum::parse_int64("12.0").status == field_status::not_a_number);
    CHECK(ferrum::parse_int64("").status == field_status::empty);
    CHECK(ferrum::parse_bool("true").value);
    CHECK(ferrum::parse_bool("True").value);
    CHECK_FALSE(ferrum::parse_bool("false").value);
    CHECK(ferrum::parse_bool("FALSE").ok());
    CHECK(ferrum::parse_bool("1").value);
    CHECK(ferrum::parse_bool("yes").status == field_status::not_a_number);
}

// ---------------------------------------------------------------------------------------------------
// the tokenizer
// ---------------------------------------------------------------------------------------------------

TEST_CASE("csv_reader: quotes, empty fields, CRLF, comments, blank lines, BOM, no final newline", "[readers][csv]") {
    const std::string path = temp_file("tokens.csv",
                                       "\xEF\xBB\xBF# a comment\r\n"
                                       " a , b ,c\r\n"
                                       "1,,\"x, y\"\r\n"
                                       "\r\n"
                                       "# another comment\n"
                                       "\"say \"\"hi\"\"\",\"\",3\n"
                                       "\"two\nlines\",5,6\r\n"
                                       "7,8,");
    ferrum::csv_reader csv(path);
    CHECK(csv.header() == std::vector<std::string>{"a", "b", "c"});
    CHECK(csv.header_line() == 2);
    CHECK(csv.find_column("B") == std::optional<std::size_t>(1));
    CHECK_FALSE(csv.find_column("d"));
    const auto e = expect_input_error([&] { (void)csv.column("mag"); });
    CHECK(e.line() == 2);
    CHECK(e.field() == "mag");

    std::vector<std::vector<std::string>> rows;
    std::vector<std::size_t> lines;
    while (const auto* rec = csv.next()) {
        std::vector<std::string> row;
        for (std::size_t i = 0; i < rec->size(); ++i) row.emplace_back((*rec)[i]);
        rows.push_back(row);
        lines.push_back(rec->line());
    }
    using row = std::vector<std::string>;
    REQUIRE(rows.size() == 4);
    CHECK(rows[0] == row{"1", "", "x, y"});
    CHECK(rows[1] == row{"say \"hi\"", "", "3"});
    CHECK(rows[2] == row{"two\nlines", "5", "6"});
    CHECK(rows[3] == row{"7", "8", ""});
    CHECK(lines == std::vector<std::size_t>{3, 6, 7, 9});
}

TEST_CASE("csv_reader: a quote inside an unquoted field is an ordinary character (as in Python's csv)",
          "[readers][csv]") {
    // Python: list(csv.reader(['ab"c,d', '"x"y,"1""2"'])) == [['ab"c', 'd'], ['xy', '1"2']]
    const auto rows = read_all_records(temp_file("stray_quote.csv", "h1,h2\nab\"c,d\n\"x\"y,\"1\"\"2\"\n"));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == std::vector<std::string>{"ab\"c", "d"});
    CHECK(rows[1] == std::vector<std::string>{"xy", "1\"2"});
}

TEST_CASE("csv_reader: an ECSV header sets the delimiter", "[readers][csv]") {
    const std::string path = temp_file(
        "space.ecsv",
        "# %ECSV 1.0\n# ---\n# delimiter: ' '\n# datatype:\n"
        "# - {name: id, datatype: int64}\n# - {name: mag, datatype: string}\nid mag\n1 15.5\n"
        "2 \"16 .5\"\n");
    const auto rows = read_all_records(path);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == std::vector<std::string>{"1", "15.5"});
    CHECK(rows[1] == std::vector<std::string>{"2", "16 .5"});
}

TEST_CASE("csv_reader: errors for missing files, empty files and unclosed quotes", "[readers][csv]") {
    CHECK_THROWS_AS(ferrum::csv_reader("/nonexistent/ferrum/file.csv"), ferrum::io_error);
    CHECK_THROWS_AS(ferrum::csv_reader(temp_file("empty.csv", "# only a comment\n\n")), ferrum::input_error);
    const std::string path = temp_file("unclosed.csv", "a,b\n1,2\n3,\"open\n4,5\n");
    ferrum::csv_reader csv(path);
    CHECK(csv.next() != nullptr);
    const auto e = expect_input_error([&] { csv.next(); });
    CHECK(e.line() == 3);
}

TEST_CASE("csv_reader: a line or a column name beyond the bound is an input_error, not unbounded memory (issue #13)",
          "[readers][csv]") {
    // the default bound: a 16 MiB "line" without a line break (a binary file, say) is refused naming the line
    {
        std::string big = "a,b\n1,2\n";
        big += std::string(ferrum::default_max_record_bytes, 'x');
        const std::string path = temp_file("long_line.csv", big + "\n3,4\n");
        ferrum::csv_reader csv(path);
        REQUIRE(csv.next() != nullptr);
        const auto e = expect_input_error([&] { csv.next(); });
        CHECK(e.file() == path);
        CHECK(e.line() == 3);
        CHECK_THAT(e.what(), Catch::Contains("a line of 16777216 bytes or more"));
    }
    // a smaller bound in csv_options; a record just under it still reads, across blocks
    {
        ferrum::csv_options o;
        o.block_size = 64;
        o.max_record_bytes = 256;
        const std::string ok(200, 'y'),
            path = temp_file("bounded.csv", "h\n" + ok + "\n" + std::string(300, 'z') + "\n");
        ferrum::csv_reader csv(path, o);
        const auto* rec = csv.next();
        REQUIRE(rec != nullptr);
        CHECK((*rec)[0] == ok);
        const auto e = expect_input_error([&] { csv.next(); });
        CHECK(e.line() == 3);
        // the same bound holds for a quoted record that never closes within it
        const std::string q = temp_file("bounded_quote.csv", "h\n\"" + std::string(400, 'q') + "\n");
        ferrum::csv_reader qc(q, o);
        CHECK(expect_input_error([&] { qc.next(); }).line() == 2);
    }
    // a 10 MB column name is refused on the header line, quoting only its first 64 characters
    {
        std::string name(10 << 20, 'n');
        for (std::size_t i = 0; i < 64; ++i) name[i] = char('a' + i % 26);
        const std::string path = temp_file("long_name.csv", "id," + name + "\n1,2\n");
        const auto e = expect_input_error([&] { ferrum::csv_reader csv(path); });
        CHECK(e.line() == 1);
        const std::string what = e.what();
        CHECK(what.size() < 600);
        CHECK_THAT(what, Catch::Contains("column 2's name is 10485760 bytes long") &&
                             Catch::Contains("'" + name.substr(0, 64) + "'"));
        CHECK(what.find(name.substr(0, 65)) == std::string::npos);
        const std::string fine(ferrum::default_max_column_name_bytes, 'k');  // at the bound: accepted
        CHECK(ferrum::csv_reader(temp_file("name_at_bound.csv", "id," + fine + "\n1,2\n")).header()[1] == fine);
    }
    // an error about a huge field quotes its first 64 bytes, not the whole field
    {
        const std::string path = temp_file("huge_field.csv", "x,y\n" + std::string(1 << 20, '7') + "q,1\n");
        const auto e = expect_input_error([&] { ferrum::read_numeric_columns(path, {"x"}); });
        CHECK(std::string(e.what()).size() < 400);
        CHECK_THAT(e.what(), Catch::Contains("(1048577 bytes)"));
    }
}

TEST_CASE("csv_reader: records that straddle tiny blocks round-trip exactly", "[readers][csv]") {
    // An independent writer (quote every field that needs it, double the quotes) and random fields full
    // of delimiters, quotes and line breaks; a 64-byte block forces refills inside records and growth.
    std::mt19937 rng(12345);
    const std::string alphabet = "ab,\"\n 9.-";
    std::vector<std::vector<std::string>> rows;
    std::string text = "c0,c1,c2\n";
    for (int r = 0; r < 400; ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < 3; ++c) {
            std::string f;
            const int len = int(rng() % (r % 50 == 0 ? 200 : 8));
            for (int k = 0; k < len; ++k) f += alphabet[rng() % alphabet.size()];
            row.push_back(f);
            const bool quote = f.find_first_of(",\"\n") != std::string::npos || (c == 0 && f.empty());
            std::string out = f;
            if (quote) {
                out.clear();
                for (char ch : f) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
                out = "\"" + out + "\"";
            }
            text += out + (c < 2 ? "," : "");
        }
        text += (r % 3 == 0) ? "\r\n" : "\n";
        rows.push_back(row);
    }
    ferrum::csv_options small;
    small.block_size = 64;
    const std::string path = temp_file("roundtrip.csv", text);
    CHECK(read_all_records(path, small) == rows);
    CHECK(read_all_records(path) == rows);
}

TEST_CASE("csv: the SIMD scan marks the same bytes as the plain loop", "[readers][csv]") {
    std::mt19937 rng(7);
    const std::string alphabet = "abc012,;\"\n\r \t#.";
    for (int trial = 0; trial < 2000; ++trial) {
        std::string text(64 + std::size_t(rng() % 64), 'x');
        for (auto& c : text) c = rng() % 4 == 0 ? alphabet[rng() % alphabet.size()] : 'x';
        const std::size_t start = rng() % 64;
        for (const char delimiter : {',', ';', ' ', '\t'}) {
            const std::size_t n = text.size() - start;
            REQUIRE(ferrum::detail::special_mask(text.data() + start, n, delimiter) ==
                    ferrum::detail::special_mask_scalar(text.data() + start, n, delimiter));
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Gaia epoch photometry
// ---------------------------------------------------------------------------------------------------

TEST_CASE("gaia: columns by name, band choice, rejected and empty epochs, sorting, errors", "[readers][gaia]") {
    ferrum::gaia_epoch_reader reader(fixture("gaia_small.csv"));
    auto a = reader.next();
    REQUIRE(a);
    CHECK(a->source_id == 100);
    CHECK(a->band == "G");
    CHECK(a->time == std::vector<double>{1700.1, 1700.5});  // sorted, rejected and empty-mag epochs gone
    CHECK(a->mag == std::vector<double>{15.4, 15.5});
    REQUIRE(a->mag_err.size() == 2);
    CHECK(a->mag_err[0] == Approx(1.0857 / 200.0).epsilon(1e-4));
    CHECK(a->mag_err[1] == Approx(1.0857 / 100.0).epsilon(1e-4));
    CHECK(a->mag_err[1] == 2.5 / std::log(10.0) / 100.0);
    auto b = reader.next();  // source 200 has no G epoch: left out
    REQUIRE(b);
    CHECK(b->source_id == 300);
    CHECK(b->time == std::vector<double>{1800.25, 1800.75});
    CHECK(b->mag == std::vector<double>{17.25, 17.5});
    CHECK_FALSE(reader.next());
    CHECK_FALSE(reader.next());

    const auto& r = reader.report();
    CHECK(r.rows == 8);
    CHECK(r.used == 4);
    CHECK(r.curves == 2);
    CHECK(r.empty_curves == 1);
    CHECK(r.count(skip_reasons::other_band) == 2);
    CHECK(r.count(skip_reasons::rejected_by_variability) == 1);
    CHECK(r.count(skip_reasons::missing_mag) == 1);
    CHECK(r.bad_rows() == 0);

    ferrum::gaia_read_options keep;
    keep.drop_rejected = false;
    const auto kept = stream_gaia(fixture("gaia_small.csv"), keep);
    CHECK(kept.at(0).time == std::vector<double>{1700.1, 1700.5, 1702.0});

    ferrum::gaia_read_options rp;
    rp.band = ferrum::gaia_band::RP;
    const auto red = stream_gaia(fixture("gaia_small.csv"), rp);
    REQUIRE(red.size() == 1);
    CHECK(red[0].source_id == 200);
    CHECK(red[0].band == "RP");
    CHECK(red[0].mag == std::vector<double>{14.0});
}

TEST_CASE("gaia: ECSV header lines are tolerated", "[readers][gaia]") {
    const auto curves = stream_gaia(fixture("gaia_ecsv.csv"));
    REQUIRE(curves.size() == 1);
    CHECK(curves[0].source_id == 5);
    CHECK(curves[0].mag == std::vector<double>{18.1, 18.2});
    CHECK(curves[0].mag_err[1] == Approx(1.0857 / 50.0).epsilon(1e-4));
}

TEST_CASE("gaia: a missing required column names the column, the file and line 1", "[readers][gaia]") {
    const auto e = expect_input_error([] { ferrum::gaia_epoch_reader r(fixture("gaia_missing_column.csv")); });
    CHECK(e.field() == "flux_over_error");
    CHECK(e.line() == 1);
    CHECK(e.file() == fixture("gaia_missing_column.csv"));
    CHECK(std::string(e.what()).find("flux_over_error") != std::string::npos);
}

TEST_CASE("gaia: each kind of bad row is an input_error naming file, line and column", "[readers][gaia]") {
    struct bad_case {
        const char* file;
        std::size_t line;
        const char* field;
    };
    const bad_case cases[] = {
        {"gaia_short_row.csv", 3, "flux_over_error"},  // the first column the short row lacks
        {"gaia_not_number.csv", 3, "mag"},
        {"gaia_nan.csv", 2, "mag"},
        {"gaia_unknown_band.csv", 3, "band"},
        {"gaia_duplicate_transit.csv", 5, "transit_id"},
    };
    for (const auto& c : cases) {
        INFO(c.file);
        const auto e = expect_input_error([&] { stream_gaia(fixture(c.file)); });
        CHECK(e.file() == fixture(c.file));
        CHECK(e.line() == c.line);
        CHECK(e.field() == c.field);
        // and the read-all function says the same
        const auto e2 = expect_input_error([&] { ferrum::read_gaia_epoch_photometry(fixture(c.file)); });
        CHECK(e2.line() == c.line);
    }
}

TEST_CASE("gaia: with on_bad_row = skip, bad rows are skipped and counted per reason", "[readers][gaia]") {
    ferrum::gaia_read_options skip;
    skip.on_bad_row = bad_row_policy::skip;
    struct skip_case {
        const char* file;
        skip_reason reason;
        std::size_t count;
        std::vector<double> times;  // of the G curve that remains
    };
    const skip_case cases[] = {
        {"gaia_short_row.csv", skip_reasons::field_count, 1, {1700.0, 1700.2}},
        {"gaia_not_number.csv", skip_reasons::not_a_number, 2, {1700.0, 1700.3}},  // "15.x" and "maybe"
        {"gaia_nan.csv", skip_reasons::not_finite, 2, {1700.1}},
        {"gaia_unknown_band.csv", skip_reasons::unknown_band, 1, {1700.0, 1700.2}},
        {"gaia_duplicate_transit.csv", skip_reasons::duplicate_transit, 1, {1700.0, 1700.1}},
    };
    for (const auto& c : cases) {
        INFO(c.file);
        ferrum::gaia_epoch_reader reader(fixture(c.file), skip);
        auto lc = reader.next();
        REQUIRE(lc);
        CHECK(lc->time == c.times);
        CHECK_FALSE(reader.next());
        const auto& r = reader.report();
        CHECK(r.count(c.reason) == c.count);
        CHECK(r.bad_rows() == c.count);
        CHECK(r.used == c.times.size());
        CHECK(r.first_example(c.reason).find(fixture(c.file) + ":") == 0);
        CHECK(r.summary().find(ferrum::describe(c.reason)) != std::string::npos);
        for (double m : lc->mag) CHECK(std::isfinite(m));
    }
}

TEST_CASE("gaia: a reappearing source stops the stream; the read-all function merges it", "[readers][gaia]") {
    ferrum::gaia_epoch_reader reader(fixture("gaia_split_source.csv"));
    REQUIRE(reader.next());  // source 1, first piece
    const auto e = expect_input_error([&] { reader.next(); });
    CHECK(e.line() == 5);
    CHECK(e.field() == "source_id");
    CHECK(std::string(e.what()).find("line 2") != std::string::npos);

    const auto all = ferrum::read_gaia_epoch_photometry(fixture("gaia_split_source.csv"));
    REQUIRE(all.curves.size() == 2);
    CHECK(all.curves[0].source_id == 1);
    CHECK(all.curves[0].time == std::vector<double>{1700.0, 1700.1, 1700.2});
    CHECK(all.curves[0].mag == std::vector<double>{15.0, 15.1, 15.2});
    CHECK(all.curves[1].source_id == 2);
    CHECK(all.report.curves == 2);

    // a transit repeated across the two pieces is still a duplicate after merging
    const std::string h = "source_id,transit_id,band,time,mag,flux_over_error,rejected_by_variability\n";
    const std::string path = temp_file("split_dup.csv", h + "1,11,G,1,15,100,false\n2,21,G,2,16,100,false\n"
                                                            "1,11,G,3,17,100,false\n");
    const auto e2 = expect_input_error([&] { ferrum::read_gaia_epoch_photometry(path); });
    CHECK(e2.line() == 4);
    CHECK(e2.field() == "transit_id");
}

TEST_CASE("gaia: flux_over_error must be positive; CRLF files read the same", "[readers][gaia]") {
    const std::string h = "source_id,transit_id,band,time,mag,flux_over_error,rejected_by_variability\r\n";
    const std::string path = temp_file("crlf.csv", h + "9,1,G,10.5,15.0,0,false\r\n9,2,G,11.5,15.5,40,false\r\n");
    const auto e = expect_input_error([&] { stream_gaia(path); });
    CHECK(e.line() == 2);
    CHECK(e.field() == "flux_over_error");
    ferrum::gaia_read_options skip;
    skip.on_bad_row = bad_row_policy::skip;
    const auto res = ferrum::read_gaia_epoch_photometry(path, skip);
    REQUIRE(res.curves.size() == 1);
    CHECK(res.curves[0].time == std::vector<double>{11.5});
    CHECK(res.curves[0].mag_err[0] == Approx(1.0857 / 40.0).epsilon(1e-4));
    CHECK(res.report.count(skip_reasons::out_of_range) == 1);
}

TEST_CASE("gaia: mangled files give ferrum errors or clean curves, never a crash or a NaN", "[readers][gaia]") {
    std::ifstream in(fixture("gaia_small.csv"), std::ios::binary);
    const std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(original.size() > 100);
    std::mt19937 rng(2024);
    const std::string noise = ",\"\n\r#x9.-e+GBPRnaNinf ";
    std::size_t threw = 0, read = 0;
    for (int trial = 0; trial < 200; ++trial) {
        std::string text = original;
        for (int edit = 0, edits = 1 + int(rng() % 4); edit < edits; ++edit) {
            const std::size_t at = rng() % text.size();
            switch (rng() % 3) {
                case 0: text.erase(at, 1 + rng() % 3); break;
                case 1: text.insert(at, 1, noise[rng() % noise.size()]); break;
                default: text[at] = noise[rng() % noise.size()];
            }
            if (text.empty()) text = "x";
        }
        const std::string path = temp_file("mangled.csv", text);
        for (const auto policy : {bad_row_policy::error, bad_row_policy::skip}) {
            ferrum::gaia_read_options options;
            options.on_bad_row = policy;
            try {
                for (const auto& lc : ferrum::read_gaia_epoch_photometry(path, options).curves) {
                    REQUIRE(lc.size() > 0);
                    REQUIRE(lc.mag_err.size() == lc.size());
                    for (std::size_t i = 0; i < lc.size(); ++i) {
                        REQUIRE(std::isfinite(lc.time[i]));
                        REQUIRE(std::isfinite(lc.mag[i]));
                        REQUIRE((std::isfinite(lc.mag_err[i]) && lc.mag_err[i] > 0.0));
                        if (i) REQUIRE(lc.time[i - 1] <= lc.time[i]);
                    }
                }
                ++read;
            } catch (const ferrum::error&) {
                ++threw;  // anything else escapes and fails the test
            }
        }
    }
    CHECK(read > 0);
    CHECK(threw > 0);
}

TEST_CASE("gaia: the real DR2 sample (1,000 sources)", "[readers][gaia][data]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found; skipping");
        return;
    }
    const std::string path = dir + "/gaiadr2_epoch_photometry_sample/epoch_photometry.csv";
    ferrum::gaia_epoch_reader reader(path);
    std::size_t n = 0, points = 0;
    std::int64_t previous = -1;
    while (auto lc = reader.next()) {
        ++n;
        CHECK(lc->source_id != previous);
        previous = lc->source_id;
        points += lc->size();
        REQUIRE(lc->mag_err.size() == lc->size());
        for (std::size_t i = 0; i < lc->size(); ++i) {
            REQUIRE(std::isfinite(lc->time[i]));
            REQUIRE(std::isfinite(lc->mag[i]));
            REQUIRE(lc->mag_err[i] > 0.0);
            if (i) REQUIRE(lc->time[i - 1] <= lc->time[i]);
        }
        if (n == 1) {
            // line 2: 1762302047363988608, transit 20225065179833199, G, 1762.6048809075596,
            //         16.68589964089321, ..., flux_over_error 512.4924; line 7 (rejected) is absent
            CHECK(lc->source_id == 1762302047363988608LL);
            CHECK(lc->size() == 33);
            CHECK(lc->time[0] == 1762.6048809075596);
            CHECK(lc->mag[0] == 16.68589964089321);
            CHECK(lc->mag_err[0] == Approx(1.0857 / 512.4924).epsilon(1e-4));
            CHECK(std::find(lc->time.begin(), lc->time.end(), 1935.835031980583) == lc->time.end());
        }
        if (lc->source_id == 1784620144838306816LL) {
            // line 40000: time 2094.514893684162, mag 14.370559387713268, flux_over_error 574.5679
            const auto it = std::find(lc->time.begin(), lc->time.end(), 2094.514893684162);
            REQUIRE(it != lc->time.end());
            const auto i = std::size_t(it - lc->time.begin());
            CHECK(lc->mag[i] == 14.370559387713268);
            CHECK(lc->mag_err[i] == Approx(1.0857 / 574.5679).epsilon(1e-4));
        }
        if (lc->source_id == 1796419382074681728LL) CHECK(lc->size() == 34);  // the last source
        if (lc->source_id == 1777806432624784256LL) CHECK(lc->size() == 9);
    }
    CHECK(n == 1000);
    const auto& r = reader.report();
    CHECK(r.rows == 66904);
    CHECK(points == 22979);  // G, not rejected by the variability pipeline (Python csv count)
    CHECK(r.count(skip_reasons::rejected_by_variability) == 1092);
    CHECK(r.count(skip_reasons::other_band) == 66904 - 24071);
    CHECK(r.bad_rows() == 0);

    ferrum::gaia_read_options bp;
    bp.band = ferrum::gaia_band::BP;
    const auto blue = ferrum::read_gaia_epoch_photometry(path, bp);
    CHECK(blue.curves.size() == 996);  // four sources have no usable BP epoch
    CHECK(blue.report.used == 21189);
    CHECK(blue.report.empty_curves == 4);
}

// ---------------------------------------------------------------------------------------------------
// vari_rrlyrae catalogue
// ---------------------------------------------------------------------------------------------------

TEST_CASE("rrlyrae catalogue: any columns in any order, empty fields are missing values", "[readers][catalogue]") {
    const ferrum::rrlyrae_catalogue cat(fixture("rrlyrae_catalogue.csv"));
    REQUIRE(cat.size() == 5);
    const auto& s = cat.at(10);
    CHECK(s.type == ferrum::rr_type::rrab);
    CHECK(s.pf == std::optional<double>(0.55));
    CHECK_FALSE(s.p1_o);
    CHECK(s.epoch_g == std::optional<double>(1700.3));
    CHECK(s.num_clean_epochs_g == std::optional<std::int64_t>(45));
    CHECK(s.peak_to_peak_g == std::optional<double>(0.9));
    CHECK(s.int_average_g == std::optional<double>(17.1));
    CHECK(s.phi31_g == std::optional<double>(2.1));
    CHECK(s.r21_g == std::optional<double>(0.45));
    CHECK_FALSE(s.metallicity);  // not a column of this file
    CHECK(s.line == 2);
    CHECK_FALSE(cat.at(30).epoch_g);

    CHECK(cat.folding(10).period == 0.55);
    CHECK(cat.folding(10).type == ferrum::rr_type::rrab);
    CHECK(cat.folding(20).period == 0.32);
    CHECK(cat.folding(20).type == ferrum::rr_type::rrc);
    CHECK(cat.folding(30).period == 0.36);  // RRd: first overtone
    CHECK_FALSE(cat.at(40).folding());
    CHECK(cat.at(40).folding_problem().find("pf is missing") != std::string::npos);
    const auto e40 = expect_input_error([&] { cat.folding(40); });
    CHECK(e40.line() == 5);
    CHECK(e40.field() == "pf");
    const auto e50 = expect_input_error([&] { cat.folding(50); });
    CHECK(e50.field() == "best_classification");
    CHECK(e50.line() == 6);
}

TEST_CASE("rrlyrae catalogue: absent stars and bad rows", "[readers][catalogue]") {
    const auto cat = ferrum::read_rrlyrae_catalogue(fixture("rrlyrae_catalogue.csv"));
    CHECK(cat.find(99) == nullptr);
    CHECK_FALSE(cat.contains(99));
    const auto e = expect_input_error([&] { (void)cat.at(99); });
    CHECK(e.field() == "source_id");
    CHECK(e.file() == fixture("rrlyrae_catalogue.csv"));
    CHECK(std::string(e.what()).find("99") != std::string::npos);

    const auto bad = expect_input_error([] { ferrum::read_rrlyrae_catalogue(fixture("rrlyrae_bad.csv")); });
    CHECK(bad.line() == 3);
    CHECK(bad.field() == "pf");

    ferrum::catalogue_read_options skip;
    skip.on_bad_row = bad_row_policy::skip;
    const auto kept = ferrum::read_rrlyrae_catalogue(fixture("rrlyrae_bad.csv"), skip);
    CHECK(kept.size() == 2);
    CHECK(kept.at(10).pf == std::optional<double>(0.5));  // the first of the two rows for 10
    CHECK(kept.report().count(skip_reasons::not_a_number) == 1);
    CHECK(kept.report().count(skip_reasons::not_finite) == 1);
    CHECK(kept.report().count(skip_reasons::duplicate_id) == 1);
    CHECK_THROWS_AS(ferrum::read_rrlyrae_catalogue(fixture("table_light_curves.csv")),
                    ferrum::input_error);  // no source_id
}

// ---------------------------------------------------------------------------------------------------
// plain tables
// ---------------------------------------------------------------------------------------------------

TEST_CASE("tables: id,time,mag,mag_err rows become light curves", "[readers][tables]") {
    ferrum::light_curve_table_reader reader(fixture("table_light_curves.csv"));
    CHECK(reader.has_errors());
    auto a = reader.next();
    REQUIRE(a);
    CHECK(a->name == "CSS_A");
    CHECK(a->source_id == 0);
    CHECK(a->time == std::vector<double>{53000.1, 53000.3});
    CHECK(a->mag == std::vector<double>{15.0, 15.2});
    CHECK(a->mag_err == std::vector<double>{0.04, 0.05});
    auto b = reader.next();
    REQUIRE(b);
    CHECK(b->name == "CSS_B");
    CHECK(b->size() == 1);
    CHECK_FALSE(reader.next());
    CHECK(reader.report().count(skip_reasons::missing_mag) == 1);

    ferrum::table_read_options named;
    named.x_column = "nope";
    CHECK_THROWS_AS(ferrum::read_light_curve_table(fixture("table_light_curves.csv"), named), ferrum::input_error);
    const auto e = expect_input_error([] { ferrum::read_light_curve_table(fixture("table_folded.csv")); });
    CHECK(e.field() == "time");
    CHECK(e.line() == 1);
}

TEST_CASE("tables: already-folded id,phase,mag rows become folded curves", "[readers][tables]") {
    const auto res = ferrum::read_folded_table(fixture("table_folded.csv"));
    REQUIRE(res.curves.size() == 2);
    CHECK(res.curves[0].source_id == 7);
    CHECK(res.curves[0].name.empty());
    CHECK(res.curves[0].phase == std::vector<double>{0.1, 0.5});
    CHECK(res.curves[0].mag == std::vector<double>{15.1, 15.5});
    CHECK_FALSE(res.curves[0].has_errors());
    CHECK(res.curves[1].phase == std::vector<double>{0.0});
    CHECK(res.report.count(skip_reasons::phase_outside_unit) == 1);

    ferrum::table_read_options strict;
    strict.drop_phase_outside_unit = false;
    const auto e = expect_input_error([&] { ferrum::read_folded_table(fixture("table_folded.csv"), strict); });
    CHECK(e.line() == 4);
    CHECK(e.field() == "phase");
}

TEST_CASE("tables: split stars stream as an error and merge in the read-all function", "[readers][tables]") {
    const std::string path = temp_file("split_table.csv", "id,time,mag\nS1,3,13\nS2,1,11\nS1,2,12\nS1,x,1\n");
    ferrum::light_curve_table_reader reader(path);
    REQUIRE(reader.next());
    const auto e = expect_input_error([&] { reader.next(); });
    CHECK(e.line() == 4);
    CHECK(e.field() == "id");

    ferrum::table_read_options skip;
    skip.on_bad_row = bad_row_policy::skip;
    const auto res = ferrum::read_light_curve_table(path, skip);
    REQUIRE(res.curves.size() == 2);
    CHECK(res.curves[0].name == "S1");
    CHECK(res.curves[0].time == std::vector<double>{2.0, 3.0});
    CHECK(res.curves[0].mag == std::vector<double>{12.0, 13.0});
    CHECK(res.report.count(skip_reasons::not_a_number) == 1);
}

TEST_CASE("tables: the real CRTS and Dekany files", "[readers][tables][data]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found; skipping");
        return;
    }
    const auto crts = ferrum::read_light_curve_table(dir + "/crts_sdss_rrab_v/lightcurves.csv");
    CHECK(crts.curves.size() == 264);
    REQUIRE(!crts.curves.empty());
    CHECK(crts.curves[0].name == "CSS_J154124.2-002225");  // first data row of the file
    for (const auto& c : crts.curves) {
        CHECK(c.size() >= 80);
        CHECK(c.size() <= 431);
        CHECK(c.has_errors());
    }
    const auto dek = ferrum::read_folded_table(dir + "/dekany2022_gaiadr2_rrab_g/lightcurves.csv");
    CHECK(dek.curves.size() == 12432);
    CHECK(dek.report.used == 312818);  // points with 0 <= phase < 1 (Python csv count; 12 to 97 per star)
    for (const auto& c : dek.curves) {
        REQUIRE(c.size() >= 12);
        CHECK(c.phase.front() >= 0.0);
        CHECK(c.phase.back() < 1.0);
    }
}

TEST_CASE("every reader refuses a row whose field count differs from the header's (issue #13, item 1)",
          "[readers][csv]") {
    // a decimal comma in one magnitude: one field too many, which used to shift every later column
    const std::string head =
        "source_id,phot_g_mean_mag,phot_bp_mean_mag,phot_rp_mean_mag,j_m,h_m,ks_m,w1mpro,w2mpro,parallax,parallax_error\n";
    const std::string good = "1,12.1,12.6,11.5,10.6,10.1,10.0,9.9,9.95,0.5,0.05\n";
    const auto long_row = temp_file("phot_long.csv",
                                    head + good + "2,12,3,12.6,11.5,10.6,10.1,10.0,9.9,9.95,0.5,0.05\n");
    const auto short_row = temp_file("phot_short.csv", head + good + "3,12.1,12.6,11.5,10.6,10.1,10.0,9.9,9.95,0.5\n");
    CHECK_THROWS_WITH(
        ferrum::photometry::read_photometry_csv(long_row),
        Catch::Contains("phot_long.csv:3") && Catch::Contains("the row has 12 fields but the header has 11"));
    CHECK_THROWS_WITH(ferrum::photometry::read_photometry_csv(short_row),
                      Catch::Contains("phot_short.csv:3") && Catch::Contains("'parallax_error'") &&
                          Catch::Contains("the row has 10 fields but the header has 11"));
    CHECK(ferrum::photometry::read_photometry_csv(temp_file("phot_ok.csv", head + good)).size() == 1);

    const auto table = temp_file("table_long.csv", "a,b\n1,2\n3,4,5\n");
    CHECK_THROWS_WITH(
        ferrum::read_numeric_columns(table, {"a", "b"}),
        Catch::Contains("table_long.csv:3") && Catch::Contains("the row has 3 fields but the header has 2"));

    const auto xp = temp_file("xp_long.csv", "source_id,flux,flux_error\n7,\"[1,2]\",\"[1,1]\",extra\n");
    CHECK_THROWS_WITH(ferrum::spectra::read_xp_spectra(xp, 2),
                      Catch::Contains("xp_long.csv:2") && Catch::Contains("the row has 4 fields but the header has 3"));

    ferrum::csv_reader csv(table);
    REQUIRE(csv.next() != nullptr);
    const ferrum::csv_record* r = csv.next();
    REQUIRE(r != nullptr);
    CHECK_THROWS_AS(ferrum::require_field_count(csv, *r), ferrum::input_error);
}
