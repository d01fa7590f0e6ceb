// A minimal scatter-plot writer (SVG 1.1, no dependencies) for the evaluation figures of the RR Lyrae
// models: predicted vs true [Fe/H] (Monti et al. 2025, Fig. 6) and residual vs number of epochs (Fig. 7).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace ferrum::models::detail {

struct svg_series {
    std::string label;
    std::string colour;
    std::vector<double> x, y;
    bool line = false;  ///< join the points (in order) with a line as well
};

struct svg_plot {
    std::string title, x_label, y_label;
    std::vector<svg_series> series;
    bool diagonal = false;   ///< draw y = x
    bool zero_line = false;  ///< draw y = 0
    bool log_x = false;
};

inline std::string svg_number(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
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

/// The SVG text of a scatter plot (640 x 520 px), axes from the data range with 4 % margins.
inline std::string render_svg(const svg_plot& p) {
    const double W = 640, H = 520, L = 70, R = 20, T = 40, B = 60;
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
    o += "</svg>\n";
    return o;
}

}  // namespace ferrum::models::detail
