// The evaluation figures of the RR Lyrae models as SVG files: predicted vs label [Fe/H] (Monti et al. 2025,
// Fig. 6), residual vs number of epochs (Fig. 7) and the reliability of the predicted sigma. Gathered in two
// passes over the stars in bounded memory (the passes of evaluate_rrlyrae_streamed): a scatter plot of every
// star up to a few thousand, beyond that a 2-D density (counts on a fixed grid); the reliability curve from
// counts of stars within each interval.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/models/detail/svg_plot.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/stats/detail/special_functions.hpp"

namespace ferrum::models {

/// \brief The names of the files write_rrlyrae_plots may write into its directory (a program checks, before
/// any work, that none of them is one of its inputs).
inline const std::vector<std::string>& rrlyrae_plot_files() {
    static const std::vector<std::string> names{"pred_vs_true.svg", "residual_vs_epochs.svg", "reliability.svg"};
    return names;
}

/// \brief The figures of write_rrlyrae_plots from stars given in two passes (first_pass(x) for every star, then
/// second_pass(x) for every star in the same order; evaluate_rrlyrae_streamed does both), in memory that does
/// not grow with the number of stars. Stars of type RRab and RRc are drawn.
/// - Up to `max_scatter` of them: scatter plots of every star, the points held from pass 1.
/// - More: 2-D densities, the counts of stars on a fixed grid (`bins` x `bins` for predicted vs label; 40
///   columns of log10(epochs) by `bins` for the residuals), over the range of the values seen in pass 1 with
///   4 % margins (the scatter plot's axes), counted in pass 2.
/// - Reliability: for nominal coverages p = 0.05, 0.10, ..., 0.95, 0.99 the fraction of stars (with a sigma > 0)
///   whose |prediction - label| <= z_p sigma, z_p = Phi^-1((1 + p) / 2), counted in pass 1, per type.
template <class Dummy = void>
class basic_rrl_plot_accumulator {
public:
    static constexpr std::size_t epoch_columns = 40;

    explicit basic_rrl_plot_accumulator(std::size_t max_scatter = 5000, std::size_t bins = 80)
        : max_scatter_(max_scatter), bins_(bins) {
        if (bins == 0) throw value_error("rrl_plot_accumulator: at least one bin is needed");
        for (int k = 1; k <= 19; ++k) nominal_.push_back(0.05 * k);
        nominal_.push_back(0.99);
        for (double p : nominal_)
            z_.push_back(p == 0.99 ? ferrum::detail::normal_quantile(0.995)
                                   : ferrum::detail::normal_quantile(0.5 * (1.0 + p)));
        for (auto& t : types_) t.within.assign(z_.size(), 0);
    }

    void first_pass(const rrl_scored_star& x) {
        const int t = type_index(x.type);
        if (t < 0) return;
        type_counts& c = types_[std::size_t(t)];
        ++c.n;
        ++n_;
        const double r = x.feh - x.truth;
        if (x.sigma > 0 && std::isfinite(x.sigma)) {  // as rrl_coverage counts
            ++c.with_sigma;
            if (std::isfinite(r)) {
                ++c.coverage_n;
                for (std::size_t k = 0; k < z_.size(); ++k) c.within[k] += std::abs(r) <= z_[k] * x.sigma;
            }
        }
        for (double v : {x.truth, x.feh})
            if (std::isfinite(v)) feh_lo_ = std::min(feh_lo_, v), feh_hi_ = std::max(feh_hi_, v);
        if (double(x.n_epochs) > 0 && std::isfinite(r)) {
            const double e = std::log10(double(x.n_epochs));
            epochs_lo_ = std::min(epochs_lo_, e), epochs_hi_ = std::max(epochs_hi_, e);
            residual_lo_ = std::min(residual_lo_, r), residual_hi_ = std::max(residual_hi_, r);
        }
        if (n_ <= max_scatter_) c.points.push_back({x.truth, x.feh, x.n_epochs});
        else if (n_ == max_scatter_ + 1)
            for (auto& u : types_) u.points = {};  // too many to draw one by one: densities from pass 2
    }

    void second_pass(const rrl_scored_star& x) {
        if (scatter() || type_index(x.type) < 0) return;
        if (pred_vs_true_.empty()) {  // the axes of the scatter plots: the values' range with 4 % margins
            double lo = feh_lo_, hi = feh_hi_;
            axis(lo, hi);
            pred_vs_true_ = detail::histogram2d(lo, hi, bins_, lo, hi, bins_);
            double elo = epochs_lo_, ehi = epochs_hi_, rlo = residual_lo_, rhi = residual_hi_;
            axis(elo, ehi);
            axis(rlo, rhi);
            residual_vs_epochs_ = detail::histogram2d(elo, ehi, epoch_columns, rlo, rhi, bins_);
        }
        pred_vs_true_.add(x.truth, x.feh);
        residual_vs_epochs_.add(x.n_epochs > 0 ? std::log10(double(x.n_epochs)) : -INFINITY, x.feh - x.truth);
    }

    /// True when every star is drawn as a point (at most max_scatter stars of type RRab or RRc).
    bool scatter() const noexcept { return n_ <= max_scatter_; }
    /// The densities (empty in scatter mode): x the label, y the prediction; x log10(number of epochs), y the
    /// prediction minus the label.
    const detail::histogram2d& pred_vs_true() const noexcept { return pred_vs_true_; }
    const detail::histogram2d& residual_vs_epochs() const noexcept { return residual_vs_epochs_; }
    /// The nominal coverages of the reliability curve, and the observed fractions of a type (empty when fewer
    /// than 2 of its stars have a sigma).
    const std::vector<double>& nominal_coverage() const noexcept { return nominal_; }
    std::vector<double> observed_coverage(rr_type type) const {
        const int t = type_index(type);
        if (t < 0 || types_[std::size_t(t)].with_sigma < 2) return {};
        const type_counts& c = types_[std::size_t(t)];
        std::vector<double> f;
        for (std::uint64_t in : c.within)
            f.push_back(c.coverage_n ? double(in) / double(c.coverage_n) : std::numeric_limits<double>::quiet_NaN());
        return f;
    }

    /// Writes `dir`/pred_vs_true.svg, `dir`/residual_vs_epochs.svg and, when at least 2 stars of a type carry
    /// a sigma, `dir`/reliability.svg, atomically; returns their paths.
    std::vector<std::string> write(const std::string& dir, const std::string& title = "") const {
        std::filesystem::create_directories(dir);
        detail::svg_plot a, b;
        a.title = title.empty() ? "Predicted vs label [Fe/H]" : title;
        a.x_label = "label [Fe/H] (dex)";
        a.y_label = "predicted [Fe/H] (dex)";
        a.diagonal = true;
        b.title = title.empty() ? "Residual vs number of epochs" : title;
        b.x_label = "number of G epochs";
        b.y_label = "predicted - label [Fe/H] (dex)";
        b.zero_line = true;
        b.log_x = true;
        if (scatter()) {
            for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
                const auto& points = counts(t).points;
                detail::svg_series sa{to_string(t), colour(t), {}, {}}, sb = sa;
                for (const auto& p : points) {
                    sa.x.push_back(p.truth);
                    sa.y.push_back(p.feh);
                    sb.x.push_back(double(p.n_epochs));
                    sb.y.push_back(p.feh - p.truth);
                }
                if (!sa.x.empty()) {
                    sa.label += " (" + std::to_string(sa.x.size()) + ")";
                    sb.label = sa.label;
                    a.series.push_back(sa);
                    b.series.push_back(sb);
                }
            }
        } else {
            a.density = pred_vs_true_;
            b.density = residual_vs_epochs_;
            for (detail::svg_plot* p : {&a, &b}) {
                p->density_label = "stars per cell";
                for (rr_type t : {rr_type::rrab, rr_type::rrc})
                    if (const auto n = counts(t).n)
                        p->notes.push_back(std::string(to_string(t)) + " (" + std::to_string(n) + ")");
                if (p->density.outside)
                    p->notes.push_back(std::to_string(p->density.outside) + " not drawn (no epochs)");
            }
        }
        const std::string pa = (std::filesystem::path(dir) / rrlyrae_plot_files()[0]).string();
        const std::string pb = (std::filesystem::path(dir) / rrlyrae_plot_files()[1]).string();
        write_file_atomically(pa, detail::render_svg(a));
        write_file_atomically(pb, detail::render_svg(b));
        std::vector<std::string> written{pa, pb};
        detail::svg_plot c;
        c.title = title.empty() ? "Reliability of the predicted sigma" : title;
        c.x_label = "nominal coverage";
        c.y_label = "fraction of stars within the interval";
        c.diagonal = true;
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            auto observed = observed_coverage(t);
            if (observed.empty()) continue;
            c.series.push_back({std::string(to_string(t)) + " (" +
                                    std::to_string(counts(t).with_sigma) + ")",
                                colour(t), nominal_, std::move(observed), true});
        }
        if (!c.series.empty()) {
            const std::string pc = (std::filesystem::path(dir) / rrlyrae_plot_files()[2]).string();
            write_file_atomically(pc, detail::render_svg(c));
            written.push_back(pc);
        }
        return written;
    }

private:
    struct point {
        double truth, feh;
        std::size_t n_epochs;
    };
    struct type_counts {
        std::uint64_t n = 0, with_sigma = 0, coverage_n = 0;
        std::vector<std::uint64_t> within;  ///< per nominal coverage
        std::vector<point> points;          ///< scatter mode only
    };
    static int type_index(rr_type t) noexcept { return t == rr_type::rrab ? 0 : t == rr_type::rrc ? 1 : -1; }
    /// The counts of RRab or RRc (the writer's loops name only these two).
    const type_counts& counts(rr_type t) const noexcept { return types_[t == rr_type::rrc ? 1 : 0]; }
    static std::string colour(rr_type t) { return t == rr_type::rrab ? "#1f5fbf" : "#d0402a"; }
    /// render_svg's axis from a range: a point when empty, widened when flat, then 4 % margins.
    static void axis(double& lo, double& hi) {
        if (!(hi >= lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
        const double m = 0.04 * (hi - lo);
        lo -= m, hi += m;
    }

    std::size_t max_scatter_, bins_;
    std::uint64_t n_ = 0;
    std::vector<double> nominal_, z_;
    std::array<type_counts, 2> types_{};
    double feh_lo_ = INFINITY, feh_hi_ = -INFINITY, epochs_lo_ = INFINITY, epochs_hi_ = -INFINITY,
           residual_lo_ = INFINITY, residual_hi_ = -INFINITY;
    detail::histogram2d pred_vs_true_, residual_vs_epochs_;
};

using rrl_plot_accumulator = basic_rrl_plot_accumulator<>;

/// \brief Writes `dir`/pred_vs_true.svg (Monti et al. 2025, Fig. 6) and `dir`/residual_vs_epochs.svg
/// (Fig. 7), and, when the predictions carry sigmas, `dir`/reliability.svg: for nominal coverages p the
/// observed fraction of stars with |prediction - label| <= z_p sigma (z_p = Phi^-1((1 + p) / 2)), per type,
/// beside the diagonal that calibrated sigmas follow. Scatter plots up to 5,000 stars, densities beyond
/// (rrl_plot_accumulator). Atomically; returns their paths.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<std::string> write_rrlyrae_plots(const std::string& dir, const std::vector<rrl_scored_star>& stars,
                                             const std::string& title = "") {
    rrl_plot_accumulator plots;
    for (const auto& x : stars) plots.first_pass(x);
    for (const auto& x : stars) plots.second_pass(x);
    return plots.write(dir, title);
}

}  // namespace ferrum::models
