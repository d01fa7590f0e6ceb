// The `field` simulator family: RRab whose light-curve shapes and true [Fe/H] come from REAL Galactic field
// stars (a table of Gaia DR3 vari_rrlyrae parameters with spectroscopic [Fe/H], read from a file the user
// names), not from the LMC distribution every other family draws. It tests a population shift: another joint
// distribution of P, amplitudes and phi31, and a truth that scatters about any relation. The library never
// embeds the table.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/sim/rrlyrae.hpp"
#include "ferrum/sim/rrlyrae_families.hpp"

namespace ferrum::sim {

/// \brief Which rows of a field table a set draws from: a stable half by source_id (field_half_of()), or all.
/// The LAMOST-scale relation (relations/spectroscopic.hpp) and the pretrained model's truth were fitted on
/// every row of the shared LAMOST table; half `b` is there to refit such a relation on stars the `a` half
/// never contains.
enum class field_half { a, b, all };

/// \brief The half of a field table a star belongs to: SplitMix64 (Steele, Lea & Flood 2014; the finaliser
/// constants of Vigna's splitmix64.c) of the source_id, lowest bit 0 -> a, 1 -> b. Stable across runs,
/// platforms and table order.
constexpr field_half field_half_of(std::int64_t source_id) noexcept {
    std::uint64_t z = static_cast<std::uint64_t>(source_id) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (z & 1U) == 0 ? field_half::a : field_half::b;
}

inline std::string to_string(field_half h) { return h == field_half::a ? "a" : h == field_half::b ? "b" : "all"; }

/// \brief Reads a field-RRab table: CSV with the columns source_id, pf, pf_error, phi21_g, phi21_g_error,
/// phi31_g, phi31_g_error, A1, A1_error, A2, A2_error, A3, A3_error, FeH, FeH_err (the layout of
/// ../shared/data/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv; other columns are ignored; phases in rad,
/// Gaia's cosine convention), keeping the rows of `half`.
/// \throws input_error naming file, line and field for a missing column, a field that is not a finite number,
///         a period or amplitude not in (0, field_rrab_max_value], an error negative, a duplicate source_id, or
///         no row kept.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<field_rrab> read_field_rrab_table(const std::filesystem::path& path, field_half half = field_half::a) {
    csv_reader csv(path.string());
    const char* const names[] = {"pf",      "pf_error",      "phi21_g",  "phi21_g_error", "phi31_g",
                                 "phi31_g_error", "A1",      "A1_error", "A2",            "A2_error",
                                 "A3",      "A3_error",      "FeH",      "FeH_err"};
    const std::size_t c_id = csv.column("source_id");
    std::vector<std::size_t> col;
    for (const char* n : names) col.push_back(csv.column(n));
    std::vector<field_rrab> out;
    std::vector<std::int64_t> ids;
    while (const csv_record* r = csv.next()) {
        if (r->size() != csv.header().size())
            throw input_error(path.string(), r->line(), "",
                              "the row has " + std::to_string(r->size()) + " fields, the header " +
                                  std::to_string(csv.header().size()));
        const auto id = ferrum::parse_int64((*r)[c_id]);
        if (!id.ok())
            throw input_error(path.string(), r->line(), "source_id",
                              "not an integer: '" + std::string((*r)[c_id]) + "'");
        double v[14];
        for (std::size_t k = 0; k < 14; ++k) {
            const std::string_view text = (*r)[col[k]];
            const auto p = ferrum::parse_double(text);
            if (!p.ok())
                throw input_error(path.string(), r->line(), names[k],
                                  "not a finite number: '" + std::string(text) + "'");
            const bool is_error = k % 2 == 1;
            const bool positive = k == 0 || k == 6 || k == 8 || k == 10;  // pf, A1, A2, A3
            if ((is_error && p.value < 0) || (positive && !(p.value > 0 && p.value <= field_rrab_max_value)))
                throw input_error(path.string(), r->line(), names[k],
                                  std::string(positive ? "must be positive and at most 2 (d or mag: an RR Lyrae)"
                                                       : "an error must not be negative") +
                                      ", not " + std::string(text));
            v[k] = p.value;
        }
        if (half != field_half::all && field_half_of(id.value) != half) continue;
        field_rrab f;
        f.source_id = id.value;
        f.period = v[0], f.period_error = v[1];
        f.phi21 = v[2], f.phi21_error = v[3];
        f.phi31 = v[4], f.phi31_error = v[5];
        f.A1 = v[6], f.A1_error = v[7];
        f.A2 = v[8], f.A2_error = v[9];
        f.A3 = v[10], f.A3_error = v[11];
        f.feh = v[12], f.feh_error = v[13];
        out.push_back(f);
        ids.push_back(id.value);
    }
    std::vector<std::int64_t> sorted = std::move(ids);
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end())
        throw input_error(path.string(), 0, "source_id", "source_id " + std::to_string(*dup) + " appears twice");
    if (out.empty())
        throw input_error(path.string(), csv.header_line(), "",
                          "no star of half '" + to_string(half) + "' in the table (it has only a header?)");
    return out;
}

/// \brief The options of the `field` family: the knobs of family_options("field") with the stars of `half`
/// of the table at `path` (read_field_rrab_table()). Seed 0; set it after.
template <class Dummy = void>
simulation_options field_family_options(const std::filesystem::path& path, field_half half = field_half::a) {
    simulation_options o = family_options("field");
    o.field_stars = std::make_shared<const std::vector<field_rrab>>(read_field_rrab_table<Dummy>(path, half));
    return o;
}

}  // namespace ferrum::sim
