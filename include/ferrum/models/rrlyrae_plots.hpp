// The evaluation figures of the RR Lyrae models as SVG files: predicted vs label [Fe/H] (Monti et al. 2025,
// Fig. 6) and residual vs number of epochs (Fig. 7).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/models/detail/svg_plot.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"

namespace ferrum::models {

/// \brief Writes `dir`/pred_vs_true.svg (Monti et al. 2025, Fig. 6) and `dir`/residual_vs_epochs.svg
/// (Fig. 7), atomically; returns their paths.
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
    const std::string pa = (std::filesystem::path(dir) / "pred_vs_true.svg").string();
    const std::string pb = (std::filesystem::path(dir) / "residual_vs_epochs.svg").string();
    write_file_atomically(pa, detail::render_svg(a));
    write_file_atomically(pb, detail::render_svg(b));
    return {pa, pb};
}

}  // namespace ferrum::models
