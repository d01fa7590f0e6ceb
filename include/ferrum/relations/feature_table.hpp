// The table every relation model reads: named feature columns (P, phi31, A2, ...) with optional 1-sigma
// errors, and the two phase conventions of Fourier phase differences: the Gaia SOS cosine series and the
// sine series of the literature, phi_k1^s = phi_k1^c - (k - 1) pi/2 (so phi31 differs by pi).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/fourier.hpp"

namespace ferrum {

/// \brief Which Fourier series the phase differences phi21, phi31 of a table or a model refer to.
enum class phase_convention {
    cosine,  ///< m = A0 + sum A_k cos(2 pi k Phi + phi_k): Gaia SOS (Clementini et al. 2016, 2023)
    sine,    ///< m = A0 + sum A_k sin(2 pi k Phi + phi_k): Jurcsik & Kovacs (1996) and most ground surveys
};

inline const char* to_string(phase_convention c) noexcept { return c == phase_convention::cosine ? "cosine" : "sine"; }

/// \brief "cosine"/"cos" or "sine"/"sin" (any case); anything else is a value_error.
inline phase_convention parse_phase_convention(std::string_view s) {
    if (detail::iequals(s, "cosine") || detail::iequals(s, "cos")) return phase_convention::cosine;
    if (detail::iequals(s, "sine") || detail::iequals(s, "sin")) return phase_convention::sine;
    throw value_error("unknown phase convention '" + std::string(s) + "' (expected 'cosine' or 'sine')");
}

/// \brief The harmonic k of a phase-difference feature: 2 for "phi21", 3 for "phi31" (any case, an
/// optional '_' as in "phi_31"), 0 for a feature that is not a phase difference (P, A2, R21, ...).
inline int phase_harmonic(std::string_view name) noexcept {
    std::string s;
    for (char c : name)
        if (c != '_') s += detail::to_lower(c);
    if (s.size() == 5 && s.compare(0, 3, "phi") == 0 && s[4] == '1' && s[3] >= '2' && s[3] <= '9') return s[3] - '0';
    return 0;
}

/// \brief phi_k1 moved from one convention to the other (mod 2 pi), via lightcurve/fourier.hpp.
inline double convert_phase_difference(int k, double phi_k1, phase_convention from, phase_convention to) noexcept {
    if (from == to) return phi_k1;
    return from == phase_convention::cosine ? phase_difference_cos_to_sin(k, phi_k1)
                                            : phase_difference_sin_to_cos(k, phi_k1);
}

/// \brief Named feature columns of n stars, each with optional 1-sigma errors (empty = exact).
struct feature_table {
    std::vector<std::string> names;
    std::vector<std::vector<double>> values;  ///< values[j][i]: feature j of star i
    std::vector<std::vector<double>> errors;  ///< errors[j]: empty, or the n errors of feature j

    std::size_t rows() const noexcept { return values.empty() ? 0 : values.front().size(); }
    std::size_t cols() const noexcept { return names.size(); }
    double operator()(std::size_t i, std::size_t j) const noexcept { return values[j][i]; }
    /// 1-sigma error of feature j of star i (0 when the column has none).
    double error(std::size_t i, std::size_t j) const noexcept { return errors[j].empty() ? 0.0 : errors[j][i]; }
    bool has_errors() const noexcept {
        for (const auto& e : errors)
            if (!e.empty()) return true;
        return false;
    }

    /// Appends a column; `error` is empty or one error per value.
    feature_table& add(std::string name, std::vector<double> column, std::vector<double> error = {}) {
        if (!names.empty() && column.size() != rows())
            throw value_error("feature_table: column '" + name + "' has " + std::to_string(column.size()) +
                              " values, the table has " + std::to_string(rows()) + " rows");
        if (!error.empty() && error.size() != column.size())
            throw value_error("feature_table: column '" + name + "' has " + std::to_string(column.size()) +
                              " values but " + std::to_string(error.size()) + " errors");
        for (const auto& n : names)
            if (detail::iequals(n, name)) throw value_error("feature_table: column '" + name + "' given twice");
        names.push_back(std::move(name));
        values.push_back(std::move(column));
        errors.push_back(std::move(error));
        return *this;
    }

    /// Index of the column called `name` (case-insensitive); value_error naming the columns if absent.
    std::size_t index(std::string_view name) const {
        for (std::size_t j = 0; j < names.size(); ++j)
            if (detail::iequals(names[j], name)) return j;
        std::string have;
        for (const auto& n : names) have += (have.empty() ? "" : ", ") + n;
        throw value_error("feature_table: no feature '" + std::string(name) + "' (the table has: " + have + ")");
    }

    /// The rows `idx` (in that order) of every column.
    feature_table subset_rows(const std::vector<std::size_t>& idx) const {
        feature_table t;
        t.names = names;
        t.values.resize(cols());
        t.errors.resize(cols());
        for (std::size_t j = 0; j < cols(); ++j) {
            t.values[j].reserve(idx.size());
            for (std::size_t i : idx) t.values[j].push_back(values[j].at(i));
            if (!errors[j].empty())
                for (std::size_t i : idx) t.errors[j].push_back(errors[j].at(i));
        }
        return t;
    }

    /// The columns called `which`, in that order.
    feature_table subset_columns(const std::vector<std::string>& which) const {
        feature_table t;
        for (const auto& n : which) {
            const std::size_t j = index(n);
            t.add(names[j], values[j], errors[j]);
        }
        return t;
    }

    /// value_error unless every column has the same length, every value is finite and every error is
    /// finite and >= 0; `who` prefixes the message.
    void validate(const std::string& who) const {
        if (names.size() != values.size() || names.size() != errors.size())
            throw value_error(who + ": feature_table has " + std::to_string(names.size()) + " names, " +
                              std::to_string(values.size()) + " columns and " + std::to_string(errors.size()) +
                              " error columns");
        for (std::size_t j = 0; j < cols(); ++j) {
            if (values[j].size() != rows())
                throw value_error(who + ": column '" + names[j] + "' has " + std::to_string(values[j].size()) +
                                  " values, the first column " + std::to_string(rows()));
            if (!errors[j].empty() && errors[j].size() != rows())
                throw value_error(who + ": column '" + names[j] + "' has " + std::to_string(errors[j].size()) +
                                  " errors for " + std::to_string(rows()) + " values");
            for (std::size_t i = 0; i < rows(); ++i) {
                if (!std::isfinite(values[j][i]))
                    throw value_error(who + ": feature '" + names[j] + "' of row " + std::to_string(i) +
                                      " is not finite");
                if (!errors[j].empty() && !(std::isfinite(errors[j][i]) && errors[j][i] >= 0))
                    throw value_error(who + ": error of feature '" + names[j] + "' of row " + std::to_string(i) +
                                      " is negative or not finite");
            }
        }
    }
};

/// \brief The table with every phase-difference column (phi21, phi31, ...; see phase_harmonic()) moved
/// from convention `from` to `to`. Errors are unchanged (the shift is a constant).
inline feature_table convert_phases(feature_table t, phase_convention from, phase_convention to) {
    if (from == to) return t;
    for (std::size_t j = 0; j < t.cols(); ++j)
        if (const int k = phase_harmonic(t.names[j]))
            for (double& v : t.values[j]) v = convert_phase_difference(k, v, from, to);
    return t;
}

namespace detail {
/// Checks a target vector (and its errors, empty allowed) against a table of n rows.
inline void check_target(const std::string& who, std::size_t n, const std::vector<double>& y,
                         const std::vector<double>& y_err) {
    if (y.size() != n)
        throw value_error(who + ": " + std::to_string(y.size()) + " targets for " + std::to_string(n) + " rows");
    if (!y_err.empty() && y_err.size() != n)
        throw value_error(who + ": " + std::to_string(y_err.size()) + " target errors for " + std::to_string(n) +
                          " rows");
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(y[i])) throw value_error(who + ": target of row " + std::to_string(i) + " is not finite");
        if (!y_err.empty() && !(std::isfinite(y_err[i]) && y_err[i] >= 0))
            throw value_error(who + ": target error of row " + std::to_string(i) + " is negative or not finite");
    }
}
}  // namespace detail

}  // namespace ferrum
