// RR Lyrae [Fe/H] end to end with ferrum: simulate Gaia DR3-like stars -> train per-type models -> evaluate on
// held-out stars (metrics, SVG plots) -> save, reload (self-test) and predict new stars to a CSV.
// Usage: rrlyrae_feh [out_dir] [n_rrab] [n_rrc] [max_epochs]   (defaults: rrlyrae_feh_out 1200 600 20)
#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    using namespace ferrum;
    using namespace ferrum::models;
    const std::string out = argc > 1 ? argv[1] : "rrlyrae_feh_out";
    const std::size_t n_rrab = argc > 2 ? std::stoul(argv[2]) : 1200, n_rrc = argc > 3 ? std::stoul(argv[3]) : 600;
    const int max_epochs = argc > 4 ? std::stoi(argv[4]) : 20;
    std::filesystem::create_directories(out);

    // 1. simulate: light curves, catalogue ephemerides, catalogue-style labels (and the true [Fe/H])
    sim::simulation_options so;
    so.seed = 2025;
    so.min_epochs = 50;  // Monti et al. (2025) keep stars with >= 50 G epochs
    const sim::rrlyrae_simulator simulator(so);
    std::vector<light_curve> curves;
    std::vector<rrl_ephemeris> eph;
    std::vector<double> feh, feh_true, feh_error;
    for (std::size_t i = 0; i < n_rrab + n_rrc; ++i) {
        const auto s = simulator.star(i, i < n_rrab ? rr_type::rrab : rr_type::rrc);
        curves.push_back(s.light_curve());
        eph.push_back({s.type, s.catalogue.period, s.catalogue.epoch_g, s.catalogue.peak_to_peak, {}});
        feh.push_back(s.feh);
        feh_true.push_back(s.feh_true);
        feh_error.push_back(s.feh_error);
    }

    // 2. fold, spline, resample (264 / 265 phases), Fourier features; flagged stars are kept with a reason
    const auto stars = prepare_rrlyrae_inputs(curves, eph);

    // 3. train one model per type on 80 % of the stars: the GRU with Fourier features beside the sequence
    rrl_training_options to;
    to.max_epochs = max_epochs;
    to.learning_rate = 0.005;
    to.max_weight = 5.0;
    to.reduce_lr_factor = 0.5;
    to.reduce_lr_patience = 3;
    std::vector<rrlyrae_model> models;
    std::vector<std::size_t> test;
    for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
        std::vector<std::size_t> train;
        for (std::size_t i = 0; i < stars.size(); ++i)
            if (stars[i].ok() && stars[i].type == t) (i % 5 == 0 ? test : train).push_back(i);
        rrl_model_options mo;
        mo.architecture = rrl_architecture::gru_fourier;
        mo.types = {t};
        rrlyrae_model m(mo, 1);
        const auto h = m.fit(stars, feh, train, to);
        std::printf("%s: trained on %zu stars, best epoch %d\n", to_string(t), train.size(), h.best_epoch);
        models.push_back(std::move(m));
    }

    // 4. evaluate on the held-out stars: the network against catalogue-style and true labels, and the
    //    classical relation (Fourier fit -> phi31, A2 -> Muraveva et al. 2025) against the true labels
    std::vector<rrl_star_input> held;
    for (auto i : test) held.push_back(stars[i]);
    const auto pred = predict_rrlyrae(models, held, 20);
    const auto classical = classical_feh(held);
    std::vector<rrl_scored_star> vs_label, vs_true, classical_true;
    for (std::size_t k = 0; k < test.size(); ++k) {
        const auto i = test[k];
        vs_label.push_back({held[k].id, held[k].type, feh[i], feh_error[i], pred[k].feh, held[k].n_epochs});
        vs_true.push_back({held[k].id, held[k].type, feh_true[i], 0.0, pred[k].feh, held[k].n_epochs});
        classical_true.push_back({held[k].id, held[k].type, feh_true[i], 0.0, classical[k].feh, held[k].n_epochs});
    }
    const auto a = evaluate_rrlyrae(vs_label), b = evaluate_rrlyrae(vs_true), c = evaluate_rrlyrae(classical_true);
    std::printf("\nheld-out stars        type   R2      RMSE    wRMSE\n");
    for (const char* t : {"RRab", "RRc"}) {
        std::printf("GRU+Fourier vs label  %-5s  %6.3f  %6.3f  %6.3f\n", t, a["per_type"][t]["r2"].get<double>(),
                    a["per_type"][t]["rmse"].get<double>(), a["per_type"][t]["wrmse"].get<double>());
        std::printf("GRU+Fourier vs true   %-5s  %6.3f  %6.3f\n", t, b["per_type"][t]["r2"].get<double>(),
                    b["per_type"][t]["rmse"].get<double>());
        std::printf("classical   vs true   %-5s  %6.3f  %6.3f\n", t, c["per_type"][t]["r2"].get<double>(),
                    c["per_type"][t]["rmse"].get<double>());
    }
    for (const auto& p : write_rrlyrae_plots(out + "/plots", vs_label)) std::printf("plot: %s\n", p.c_str());

    // 5. save (with self-test vectors), reload (re-checked), predict 200 new stars with MC-dropout sigma
    save_rrlyrae_models(out + "/model.json", models);
    auto loaded = load_rrlyrae_models(out + "/model.json");
    so.seed = 7;
    const sim::rrlyrae_simulator fresh(so);
    std::vector<light_curve> nc;
    std::vector<rrl_ephemeris> ne;
    for (std::size_t i = 0; i < 200; ++i) {
        const auto s = fresh.star(i);
        nc.push_back(s.light_curve());
        ne.push_back({s.type, s.catalogue.period, s.catalogue.epoch_g, s.catalogue.peak_to_peak, {}});
    }
    const auto new_stars = prepare_rrlyrae_inputs(nc, ne);
    const auto np = predict_rrlyrae(loaded, new_stars, 20);
    std::string csv = "source_id,type,feh,feh_sigma,n_epochs,flag\n";
    for (std::size_t i = 0; i < np.size(); ++i)
        csv += new_stars[i].id + ',' + to_string(new_stars[i].type) + ',' + (np[i].ok() ? std::to_string(np[i].feh) : "") + ',' +
               (np[i].ok() ? std::to_string(np[i].sigma) : "") + ',' + std::to_string(new_stars[i].n_epochs) + ',' + np[i].flag + '\n';
    write_file_atomically(out + "/predictions.csv", csv);
    std::printf("model: %s/model.json; predictions for 200 new stars: %s/predictions.csv\n", out.c_str(), out.c_str());
    std::printf("first: %s %s [Fe/H] = %.3f +- %.3f\n", new_stars[0].id.c_str(), to_string(new_stars[0].type), np[0].feh, np[0].sigma);
}
