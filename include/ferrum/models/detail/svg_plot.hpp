// A minimal plot writer (SVG 1.1, no dependencies) for the evaluation figures of the RR Lyrae models:
// predicted vs true [Fe/H] (Monti et al. 2025, Fig. 6) and residual vs number of epochs (Fig. 7), as a scatter
// plot of a few thousand stars or, for any number, a 2-D density (counts on a fixed grid, numpy.histogram2d's
// bins), which a file of bounded size can draw and a reader can read at 10^9 stars.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum::models::detail {

/// Counts of points on an nx x ny grid of equal cells over [x0, x1] x [y0, y1], as numpy.histogram2d(x, y,
/// bins=(nx, ny), range=((x0, x1), (y0, y1))) counts them: edges numpy.linspace(x0, x1, nx + 1) (computed as
/// numpy does: i * step + x0, the last one x1), each cell [edge_i, edge_i+1) and the last one closed; points
/// outside the range, or not finite, are counted in `outside` only.
struct histogram2d {
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    std::size_t nx = 0, ny = 0;
    std::vector<double> x_edges, y_edges;
    std::vector<std::uint64_t> counts;  ///< counts[ix * ny + iy], numpy's H[ix, iy]
    std::uint64_t outside = 0;

    histogram2d() = default;
    histogram2d(double x_lo, double x_hi, std::size_t n_x, double y_lo, double y_hi, std::size_t n_y)
        : x0(x_lo), x1(x_hi), y0(y_lo), y1(y_hi), nx(n_x), ny(n_y), x_edges(edges(x_lo, x_hi, n_x)),
          y_edges(edges(y_lo, y_hi, n_y)), counts(n_x * n_y, 0) {}

    bool empty() const noexcept { return counts.empty(); }
    std::uint64_t at(std::size_t ix, std::size_t iy) const { return counts[ix * ny + iy]; }
    std::uint64_t max_count() const { return counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end()); }
    std::uint64_t total() const {
        std::uint64_t t = 0;
        for (std::uint64_t c : counts) t += c;
        return t;
    }
    void add(double x, double y) {
        const std::size_t ix = cell(x_edges, x), iy = cell(y_edges, y);
        if (ix == npos || iy == npos) ++outside;
        else ++counts[ix * ny + iy];
    }

    static std::vector<double> edges(double lo, double hi, std::size_t n) {
        if (n == 0 || !(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
            throw value_error("histogram2d: a range needs lo < hi (finite) and at least one bin");
        std::vector<double> e(n + 1);
        const double step = (hi - lo) / double(n);
        for (std::size_t i = 0; i < n; ++i) e[i] = double(i) * step + lo;
        e[n] = hi;
        return e;
    }

private:
    static constexpr std::size_t npos = std::size_t(-1);
    /// The cell of v: numpy's searchsorted(edges, v, side="right") - 1, the last edge in the last cell.
    static std::size_t cell(const std::vector<double>& e, double v) {
        const std::size_t n = e.size() - 1;
        if (!(v >= e.front() && v <= e.back())) return npos;  // NaN too
        if (v == e.back()) return n - 1;
        const double guess = (v - e.front()) / (e.back() - e.front()) * double(n);
        std::size_t i = std::min(n - 1, std::size_t(std::max(0.0, guess)));
        while (i > 0 && v < e[i]) --i;
        while (i + 1 < n && v >= e[i + 1]) ++i;
        return i;
    }
};

struct svg_series {
    std::string label;
    std::string colour;
    std::vector<double> x, y;
    bool line = false;  ///< join the points (in order) with a line as well
};

struct svg_plot {
    std::string title, x_label, y_label;
    std::vector<svg_series> series;
    histogram2d density;             ///< when not empty: drawn as cells coloured by count, the axes its range
    std::string density_label;       ///< the colour bar's title
    std::vector<std::string> notes;  ///< legend lines without a marker
    bool diagonal = false;   ///< draw y = x
    bool zero_line = false;  ///< draw y = 0
    bool log_x = false;
};

inline std::string svg_number(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

/// A position in pixels to 0.01 px.
inline std::string svg_pixel(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

inline std::string svg_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '&') o += "&amp;";
        else if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else o += c;
    }
    return o;
}

/// Round tick values covering [lo, hi] (about n of them).
inline std::vector<double> nice_ticks(double lo, double hi, int n = 6) {
    const double span = hi - lo;
    const double raw = span / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
        t.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
    return t;
}

/// The colour of a density cell, t in [0, 1] (0: one star, 1: the fullest cell): the viridis colour map.
inline std::string density_colour(double t) {
    static const unsigned char stops[9][3] = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},
                                              {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                              {94, 201, 98},  {170, 220, 50}, {253, 231, 37}};
    t = std::min(1.0, std::max(0.0, t)) * 8.0;
    const int i = std::min(7, int(t));
    const double f = t - i;
    char b[8];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", int(std::lround(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]))),
                  int(std::lround(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]))),
                  int(std::lround(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]))));
    return b;
}

/// Where a count sits on the colour scale: log(count) / log(max), 1 when every cell holds one star.
inline double density_scale(std::uint64_t count, std::uint64_t max) {
    return max <= 1 ? 1.0 : std::log(double(count)) / std::log(double(max));
}

/// The SVG text of a plot (640 x 520 px): a scatter plot with axes from the data range with 4 % margins, or,
/// when p.density is set, its cells (each with its count as a <title>, which a viewer shows on hover) on its
/// range, with a colour bar.
inline std::string render_svg(const svg_plot& p) {
    const bool dense = !p.density.empty();
    const double W = 640, H = 520, L = 70, R = dense ? 100 : 20, T = 40, B = 60;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    auto tx = [&](double v) { return p.log_x ? std::log10(v) : v; };
    for (const auto& s : p.series)
        for (std::size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (p.log_x && !(s.x[i] > 0))) continue;
            x0 = std::min(x0, tx(s.x[i]));
            x1 = std::max(x1, tx(s.x[i]));
            y0 = std::min(y0, s.y[i]);
            y1 = std::max(y1, s.y[i]);
        }
    if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (p.diagonal) x0 = y0 = std::min(x0, y0), x1 = y1 = std::max(x1, y1);
    if (x1 - x0 < 1e-9) x0 -= 0.5, x1 += 0.5;
    if (y1 - y0 < 1e-9) y0 -= 0.5, y1 += 0.5;
    const double mx = 0.04 * (x1 - x0), my = 0.04 * (y1 - y0);
    x0 -= mx, x1 += mx, y0 -= my, y1 += my;
    if (dense) x0 = p.density.x0, x1 = p.density.x1, y0 = p.density.y0, y1 = p.density.y1;  // log10 when log_x
    auto px = [&](double v) { return L + (tx(v) - x0) / (x1 - x0) * (W - L - R); };
    auto pxt = [&](double t) { return L + (t - x0) / (x1 - x0) * (W - L - R); };
    auto py = [&](double v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); };

    std::string o =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" "
        "height=\"520\" viewBox=\"0 0 640 520\" font-family=\"sans-serif\" font-size=\"12\">\n";
    o += "<rect width=\"640\" height=\"520\" fill=\"white\"/>\n";
    o += "<text x=\"" + svg_number(W / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
         svg_escape(p.title) + "</text>\n";
    o += "<rect x=\"" + svg_number(L) + "\" y=\"" + svg_number(T) + "\" width=\"" + svg_number(W - L - R) +
         "\" height=\"" + svg_number(H - T - B) + "\" fill=\"none\" stroke=\"black\"/>\n";
    std::vector<double> xt;
    if (p.log_x) {
        for (double d = std::pow(10.0, std::floor(x0)); d <= std::pow(10.0, x1); d *= 10)
            for (double m : {1.0, 2.0, 5.0})
                if (std::log10(m * d) >= x0 && std::log10(m * d) <= x1) xt.push_back(std::log10(m * d));
    } else {
        xt = nice_ticks(x0, x1);
    }
    for (double t : xt) {
        const double X = pxt(t);
        o += "<line x1=\"" + svg_number(X) + "\" y1=\"" + svg_number(H - B) + "\" x2=\"" + svg_number(X) + "\" y2=\"" +
             svg_number(H - B + 5) + "\" stroke=\"black\"/>\n";
        o += "<text x=\"" + svg_number(X) + "\" y=\"" + svg_number(H - B + 18) + "\" text-anchor=\"middle\">" +
             svg_number(p.log_x ? std::pow(10.0, t) : t) + "</text>\n";
    }
    for (double t : nice_ticks(y0, y1)) {
        const double Y = py(t);
        o += "<line x1=\"" + svg_number(L - 5) + "\" y1=\"" + svg_number(Y) + "\" x2=\"" + svg_number(L) + "\" y2=\"" +
             svg_number(Y) + "\" stroke=\"black\"/>\n";
        o += "<text x=\"" + svg_number(L - 8) + "\" y=\"" + svg_number(Y + 4) + "\" text-anchor=\"end\">" +
             svg_number(t) + "</text>\n";
    }
    o += "<text x=\"" + svg_number((L + W - R) / 2) + "\" y=\"" + svg_number(H - 18) + "\" text-anchor=\"middle\">" +
         svg_escape(p.x_label) + "</text>\n";
    o += "<text transform=\"translate(18," + svg_number((T + H - B) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         svg_escape(p.y_label) + "</text>\n";
    o += "<clipPath id=\"frame\"><rect x=\"" + svg_number(L) + "\" y=\"" + svg_number(T) + "\" width=\"" +
         svg_number(W - L - R) + "\" height=\"" + svg_number(H - T - B) +
         "\"/></clipPath>\n<g clip-path=\"url(#frame)\">\n";
    const std::uint64_t max_count = dense ? p.density.max_count() : 0;
    const auto pixel = [](double v) { return std::round(v * 100.0) / 100.0; };
    if (dense) {
        const histogram2d& d = p.density;
        o += "<g shape-rendering=\"crispEdges\">\n";
        for (std::size_t i = 0; i < d.nx; ++i)
            for (std::size_t k = 0; k < d.ny; ++k) {
                const std::uint64_t c = d.at(i, k);
                if (c == 0) continue;
                // corners on a 0.01 px grid, so that neighbouring cells share their edges exactly (no seams)
                const double X0 = pixel(pxt(d.x_edges[i])), X1 = pixel(pxt(d.x_edges[i + 1])),
                             Y0 = pixel(py(d.y_edges[k + 1])), Y1 = pixel(py(d.y_edges[k]));
                o += "<rect x=\"" + svg_pixel(X0) + "\" y=\"" + svg_pixel(Y0) + "\" width=\"" + svg_pixel(X1 - X0) +
                     "\" height=\"" + svg_pixel(Y1 - Y0) + "\" fill=\"" + density_colour(density_scale(c, max_count)) +
                     "\"><title>" + std::to_string(c) + "</title></rect>\n";
            }
        o += "</g>\n";
    }
    if (p.diagonal)
        o += "<line x1=\"" + svg_number(pxt(x0)) + "\" y1=\"" + svg_number(py(x0)) + "\" x2=\"" + svg_number(pxt(x1)) +
             "\" y2=\"" + svg_number(py(x1)) + "\" stroke=\"#444\" stroke-dasharray=\"5,4\"/>\n";
    if (p.zero_line && y0 < 0 && y1 > 0)
        o += "<line x1=\"" + svg_number(L) + "\" y1=\"" + svg_number(py(0)) + "\" x2=\"" + svg_number(W - R) +
             "\" y2=\"" + svg_number(py(0)) + "\" stroke=\"#444\" stroke-dasharray=\"5,4\"/>\n";
    for (const auto& s : p.series) {
        if (s.line) {
            std::string pts;
            for (std::size_t i = 0; i < s.x.size(); ++i)
                if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!p.log_x || s.x[i] > 0))
                    pts += svg_number(px(s.x[i])) + "," + svg_number(py(s.y[i])) + " ";
            o += "<polyline fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"1.5\" points=\"" + pts + "\"/>\n";
        }
        o += "<g fill=\"" + s.colour + "\" fill-opacity=\"0.45\">\n";
        for (std::size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (p.log_x && !(s.x[i] > 0))) continue;
            o += "<circle cx=\"" + svg_number(px(s.x[i])) + "\" cy=\"" + svg_number(py(s.y[i])) + "\" r=\"2\"/>\n";
        }
        o += "</g>\n";
    }
    o += "</g>\n";
    double ly = T + 16;
    for (const auto& s : p.series) {
        o += "<circle cx=\"" + svg_number(L + 14) + "\" cy=\"" + svg_number(ly - 4) + "\" r=\"4\" fill=\"" + s.colour +
             "\"/>\n";
        o += "<text x=\"" + svg_number(L + 24) + "\" y=\"" + svg_number(ly) + "\">" + svg_escape(s.label) + "</text>\n";
        ly += 16;
    }
    for (const auto& n : p.notes) {
        o += "<text x=\"" + svg_number(L + 10) + "\" y=\"" + svg_number(ly) + "\">" + svg_escape(n) + "</text>\n";
        ly += 16;
    }
    if (dense) {  // the colour bar: log scale from 1 star to the fullest cell
        const double X = W - R + 16, bw = 14, top = T, bottom = H - B;
        const int steps = 48;
        o += "<g shape-rendering=\"crispEdges\">\n";
        for (int i = 0; i < steps; ++i)
            o += "<rect x=\"" + svg_number(X) + "\" y=\"" + svg_number(bottom - (i + 1) * (bottom - top) / steps) +
                 "\" width=\"" + svg_number(bw) + "\" height=\"" + svg_number((bottom - top) / steps) + "\" fill=\"" +
                 density_colour((i + 0.5) / steps) + "\"/>\n";
        o += "</g>\n<rect x=\"" + svg_number(X) + "\" y=\"" + svg_number(top) + "\" width=\"" + svg_number(bw) +
             "\" height=\"" + svg_number(bottom - top) + "\" fill=\"none\" stroke=\"black\"/>\n";
        std::vector<std::uint64_t> ticks;
        for (std::uint64_t t = 1; t <= max_count && ticks.size() < 19; t *= 10) ticks.push_back(t);
        if (!ticks.empty() && ticks.back() != max_count && density_scale(ticks.back(), max_count) < 0.9) ticks.push_back(max_count);
        for (std::uint64_t t : ticks) {
            const double Y = bottom - density_scale(t, max_count) * (bottom - top);
            o += "<line x1=\"" + svg_number(X + bw) + "\" y1=\"" + svg_number(Y) + "\" x2=\"" + svg_number(X + bw + 4) +
                 "\" y2=\"" + svg_number(Y) + "\" stroke=\"black\"/>\n";
            o += "<text x=\"" + svg_number(X + bw + 6) + "\" y=\"" + svg_number(Y + 4) + "\">" + std::to_string(t) +
                 "</text>\n";
        }
        o += "<text transform=\"translate(" + svg_number(W - 8) + "," + svg_number((top + bottom) / 2) +
             ") rotate(-90)\" text-anchor=\"middle\">" + svg_escape(p.density_label) + "</text>\n";
    }
    o += "</svg>\n";
    return o;
}

}  // namespace ferrum::models::detail
