// The evaluation figures of the RR Lyrae models as SVG files: predicted vs label [Fe/H] (Monti et al. 2025,
// Fig. 6) and residual vs number of epochs (Fig. 7).
#pragma once

#include <filesystem>
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

/// \brief Writes `dir`/pred_vs_true.svg (Monti et al. 2025, Fig. 6) and `dir`/residual_vs_epochs.svg
/// (Fig. 7), and, when the predictions carry sigmas, `dir`/reliability.svg: for nominal coverages p the
/// observed fraction of stars with |prediction - label| <= z_p sigma (z_p = Phi^-1((1 + p) / 2)), per type,
/// beside the diagonal that calibrated sigmas follow. Atomically; returns their paths.
inline std::vector<std::string> write_rrlyrae_plots(const std::string& dir, const std::vector<rrl_scored_star>& stars,
                                                    const std::string& title = "") {
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
    for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
        detail::svg_series sa{to_string(t), t == rr_type::rrab ? "#1f5fbf" : "#d0402a", {}, {}}, sb = sa;
        for (const auto& x : stars)
            if (x.type == t) {
                sa.x.push_back(x.truth);
                sa.y.push_back(x.feh);
                sb.x.push_back(double(x.n_epochs));
                sb.y.push_back(x.feh - x.truth);
            }
        if (!sa.x.empty()) {
            sa.label += " (" + std::to_string(sa.x.size()) + ")";
            sb.label = sa.label;
            a.series.push_back(sa);
            b.series.push_back(sb);
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
        std::vector<double> r, s;
        for (const auto& x : stars)
            if (x.type == t && x.sigma > 0 && std::isfinite(x.sigma)) {
                r.push_back(x.feh - x.truth);
                s.push_back(x.sigma);
            }
        if (r.size() < 2) continue;
        detail::svg_series sc{std::string(to_string(t)) + " (" + std::to_string(r.size()) + ")",
                              t == rr_type::rrab ? "#1f5fbf" : "#d0402a",
                              {},
                              {},
                              true};
        for (int k = 1; k <= 19; ++k) {
            const double p = 0.05 * k;
            sc.x.push_back(p);
            sc.y.push_back(rrl_coverage(r, s, ferrum::detail::normal_quantile(0.5 * (1.0 + p))));
        }
        sc.x.push_back(0.99);
        sc.y.push_back(rrl_coverage(r, s, ferrum::detail::normal_quantile(0.995)));
        c.series.push_back(sc);
    }
    if (!c.series.empty()) {
        const std::string pc = (std::filesystem::path(dir) / rrlyrae_plot_files()[2]).string();
        write_file_atomically(pc, detail::render_svg(c));
        written.push_back(pc);
    }
    return written;
}

}  // namespace ferrum::models
