// The trainer: convergence to the least-squares solution (normal equations as the oracle), Keras
// early-stopping and reduce-on-plateau semantics on scripted validation curves, bit-identical resume
// from a checkpoint, Ctrl-C, and settings rejected before any work. Then nn::fit, the one-call training of an
// nn model through that loop: the least-squares solution (Eigen's QR as the oracle), the same weights whatever
// holds the data (xtensor, views, xt::adapt, Eigen maps), early stopping, and inputs read in place.
#include <catch2/catch.hpp>

#include <ferrum/nn/dense.hpp>
#include <ferrum/nn/dropout.hpp>
#include <ferrum/nn/fit.hpp>
#include <ferrum/nn/gru.hpp>
#include <ferrum/nn/sequential.hpp>
#include <ferrum/train/trainer.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include <Eigen/Dense>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include <fcntl.h>
#include <unistd.h>

#include "scratch_files.hpp"

namespace fs = std::filesystem;
using ferrum::nn::parameter_list;
using ferrum::nn::parameter_ref;
using ferrum::nn::parameter_role;
using ferrum::train::fit;
using ferrum::train::trainer_options;

namespace {

/// Plain gradient descent with the optimizer interface the trainer needs.
struct sgd {
    double rate;
    void step(parameter_list<double>& ps) {
        for (auto& p : ps)
            for (std::size_t i = 0; i < p.size(); ++i) p.value[i] -= rate * p.grad[i];
    }
    double lr() const { return rate; }
    void set_lr(double v) { rate = v; }
    nlohmann::json state_dict() const { return {{"lr", rate}}; }
    void load_state_dict(const nlohmann::json& j) { rate = j.at("lr").get<double>(); }
};

/// y = X a + b with a weighted MSE loss; the weighted least-squares solution is the oracle.
struct linear_model {
    Eigen::MatrixXd X;
    Eigen::VectorXd y, w;
    std::vector<double> a, b{0.0}, ga, gb{0.0};
    int raise_sigint_at_step = -1, steps = 0;

    linear_model(int n, int d, unsigned seed) : X(n, d), y(n), w(n), a(d, 0.0), ga(d, 0.0) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> g;
        std::uniform_real_distribution<double> u(0.5, 2.0);
        for (int i = 0; i < n; ++i) {
            for (int j = 0; j < d; ++j) X(i, j) = g(rng);
            y(i) = 0.7 - 1.3 * X(i, 0) + 0.4 * X(i, d - 1) + 0.1 * g(rng);
            w(i) = u(rng);
        }
    }
    parameter_list<double> parameters() {
        return {{"a", {a.size()}, parameter_role::kernel, a.data(), ga.data()},
                {"b", {1}, parameter_role::bias, b.data(), gb.data()}};
    }
    double loss_and_grad(const std::vector<std::size_t>& idx, bool grad) {
        std::fill(ga.begin(), ga.end(), 0.0);
        gb[0] = 0;
        double loss = 0;
        for (auto i : idx) {
            double pred = b[0];
            for (std::size_t j = 0; j < a.size(); ++j) pred += X(Eigen::Index(i), Eigen::Index(j)) * a[j];
            const double r = pred - y(Eigen::Index(i));
            loss += w(Eigen::Index(i)) * r * r;
            if (grad) {
                for (std::size_t j = 0; j < a.size(); ++j)
                    ga[j] += 2 * w(Eigen::Index(i)) * r * X(Eigen::Index(i), Eigen::Index(j)) / double(idx.size());
                gb[0] += 2 * w(Eigen::Index(i)) * r / double(idx.size());
            }
        }
        return loss / double(idx.size());
    }
    double train_step(const std::vector<std::size_t>& idx) {
        if (++steps == raise_sigint_at_step) std::raise(SIGINT);
        return loss_and_grad(idx, true);
    }
    double validation_loss(const std::vector<std::size_t>& idx) { return loss_and_grad(idx, false); }
};

/// One parameter w that grows by 1 per epoch; the validation loss is read from a script by epoch.
struct scripted_model {
    std::vector<double> script;
    std::vector<double> w{0.0}, g{-1.0};
    int calls = 0;
    parameter_list<double> parameters() { return {{"w", {1}, parameter_role::kernel, w.data(), g.data()}}; }
    double train_step(const std::vector<std::size_t>&) {
        ++calls;
        return 1.0;
    }
    double validation_loss(const std::vector<std::size_t>&) {
        return script.at(static_cast<std::size_t>(std::lround(w[0])) - 1);
    }
};

std::vector<std::size_t> iota(std::size_t lo, std::size_t hi) {
    std::vector<std::size_t> v;
    for (auto i = lo; i < hi; ++i) v.push_back(i);
    return v;
}

trainer_options quiet() {
    trainer_options o;
    o.progress = false;
    o.handle_sigint = true;
    return o;
}

}  // namespace

TEST_CASE("fit converges to the weighted least-squares solution", "[train][trainer]") {
    linear_model m(200, 3, 1);
    sgd opt{0.05};
    auto o = quiet();
    o.max_epochs = 400;
    o.batch_size = 200;  // full batch: plain gradient descent on a convex problem
    o.early_stopping = false;
    fit(m, opt, iota(0, 200), iota(0, 200), o);
    // oracle: normal equations of the weighted problem with an intercept column
    Eigen::MatrixXd A(200, 4);
    A << m.X, Eigen::VectorXd::Ones(200);
    const Eigen::VectorXd sw = m.w.cwiseSqrt();
    const Eigen::VectorXd sol = (sw.asDiagonal() * A).colPivHouseholderQr().solve(sw.asDiagonal() * m.y);
    for (int j = 0; j < 3; ++j) CHECK(m.a[std::size_t(j)] == Approx(sol(j)).margin(1e-6));
    CHECK(m.b[0] == Approx(sol(3)).margin(1e-6));
}

TEST_CASE("early stopping follows Keras: patience, min_delta, restore best weights", "[train][trainer]") {
    scripted_model m;
    m.script = {5, 4, 3, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0, 4.1};
    sgd opt{1.0};
    auto o = quiet();
    o.max_epochs = 10;
    o.patience = 2;
    const auto h = fit(m, opt, {0}, {0}, o);
    CHECK(h.stopped_early);
    CHECK(h.epochs.size() == 5);  // best at 3, no improvement at 4 and 5
    CHECK(h.best_epoch == 3);
    CHECK(h.best_val_loss == 3);
    CHECK(m.w[0] == 3);  // weights of epoch 3 restored

    scripted_model m2;
    m2.script = {5, 4.95, 4.9, 4.85, 4.8, 4.75};
    sgd opt2{1.0};
    o.min_delta = 0.1;
    const auto h2 = fit(m2, opt2, {0}, {0}, o);
    CHECK(h2.best_epoch == 1);  // no step improves by more than min_delta
    CHECK(h2.epochs.size() == 3);
}

TEST_CASE("reduce-on-plateau lowers the learning rate after patience flat epochs", "[train][trainer]") {
    scripted_model m;
    m.script = {5, 4, 4, 4, 4, 4, 4, 4};
    sgd opt{1.0};
    auto o = quiet();
    o.max_epochs = 8;
    o.early_stopping = false;
    o.reduce_lr_factor = 0.5;
    o.reduce_lr_patience = 2;
    o.min_learning_rate = 0.3;
    const auto h = fit(m, opt, {0}, {0}, o);
    REQUIRE(h.epochs.size() == 8);
    // flat from epoch 3: reduced after epochs 4 and 6 (lr recorded is the one used in that epoch)
    CHECK(h.epochs[3].learning_rate == 1.0);
    CHECK(h.epochs[4].learning_rate == 0.5);
    CHECK(h.epochs[6].learning_rate == Approx(0.3));  // floored at min_learning_rate
}

TEST_CASE("a resumed run is bit-identical to an uninterrupted one", "[train][trainer]") {
    const fs::path dir = ferrum_test::fresh_dir("ferrum_test_trainer");
    auto o = quiet();
    o.batch_size = 16;
    o.early_stopping = false;
    o.seed = 99;
    o.max_epochs = 12;

    linear_model full(120, 3, 5);
    sgd opt_full{0.01};
    fit(full, opt_full, iota(0, 100), iota(100, 120), o);

    linear_model part(120, 3, 5);
    sgd opt_part{0.01};
    o.checkpoint_path = (dir / "ckpt.json").string();
    o.max_epochs = 5;
    fit(part, opt_part, iota(0, 100), iota(100, 120), o);
    REQUIRE(fs::exists(o.checkpoint_path));

    linear_model resumed(120, 3, 5);  // a fresh process: new model, new optimizer
    sgd opt_res{0.01};
    o.max_epochs = 12;
    o.resume = true;
    o.history_path = (dir / "history.csv").string();
    const auto h = fit(resumed, opt_res, iota(0, 100), iota(100, 120), o);
    CHECK(h.epochs.size() == 12);
    CHECK(resumed.a == full.a);
    CHECK(resumed.b == full.b);
    std::ifstream csv(o.history_path);
    std::string header;
    std::getline(csv, header);
    CHECK(header == "epoch,train_loss,val_loss,learning_rate,seconds");
    fs::remove_all(dir);
}

TEST_CASE("Ctrl-C stops at a batch boundary and leaves a usable checkpoint", "[train][trainer]") {
    const fs::path dir = ferrum_test::fresh_dir("ferrum_test_trainer_sigint");
    auto o = quiet();
    o.batch_size = 20;  // 5 batches per epoch
    o.early_stopping = false;
    o.max_epochs = 10;
    o.seed = 3;

    linear_model full(120, 2, 8);
    sgd opt_full{0.01};
    fit(full, opt_full, iota(0, 100), iota(100, 120), o);

    linear_model m(120, 2, 8);
    m.raise_sigint_at_step = 5 * 3 + 2;  // during epoch 4
    sgd opt{0.01};
    o.checkpoint_path = (dir / "ckpt.json").string();
    const auto h = fit(m, opt, iota(0, 100), iota(100, 120), o);
    CHECK(h.interrupted);
    CHECK(h.epochs.size() == 3);
    std::ifstream in(o.checkpoint_path);
    const auto j = nlohmann::json::parse(in);
    CHECK(j.at("epoch") == 3);

    linear_model resumed(120, 2, 8);
    sgd opt_res{0.01};
    o.resume = true;
    fit(resumed, opt_res, iota(0, 100), iota(100, 120), o);
    CHECK(resumed.a == full.a);
    CHECK(resumed.b == full.b);
    fs::remove_all(dir);
}

TEST_CASE("invalid settings stop before training with a clear message", "[train][trainer]") {
    scripted_model m;
    m.script = {1, 1, 1};
    sgd opt{1.0};
    auto bad = [&](auto change) {
        auto o = quiet();
        change(o);
        return o;
    };
    CHECK_THROWS_WITH(fit(m, opt, {0}, {0}, bad([](auto& o) { o.batch_size = 0; })), Catch::Contains("batch_size"));
    CHECK_THROWS_WITH(fit(m, opt, {0}, {0}, bad([](auto& o) { o.patience = -1; })), Catch::Contains("patience"));
    CHECK_THROWS_WITH(fit(m, opt, {}, {0}, quiet()), Catch::Contains("empty"));
    CHECK_THROWS_WITH(fit(m, opt, {0}, {}, quiet()), Catch::Contains("validation"));
    CHECK_THROWS_AS(fit(m, opt, {0}, {0}, bad([](auto& o) { o.max_epochs = 0; })), ferrum::value_error);
    CHECK_THROWS_AS(fit(m, opt, {0}, {0}, bad([](auto& o) { o.resume = true; })), ferrum::value_error);
    CHECK(m.calls == 0);
}

TEST_CASE("a diverging loss is an error naming the epoch", "[train][trainer]") {
    linear_model m(50, 2, 2);
    sgd opt{1e3};  // diverges to inf
    auto o = quiet();
    o.batch_size = 50;
    o.max_epochs = 500;
    o.early_stopping = false;
    CHECK_THROWS_WITH(fit(m, opt, iota(0, 50), iota(0, 50), o), Catch::Contains("epoch"));
}

TEST_CASE("trainer_options: declared once, read strictly from JSON", "[trainer]") {
    trainer_options o;
    o.max_epochs = 7;
    o.batch_size = 32;
    o.reduce_lr_factor = 0.5;
    o.history_path = "h.json";
    const nlohmann::json j = o;
    CHECK(j.at("max_epochs") == 7);
    CHECK(j.at("batch_size") == 32);
    CHECK(j.size() == ferrum::train::option_fields(static_cast<const trainer_options*>(nullptr)).size());
    const auto back = ferrum::options_from_json<trainer_options>(j, "cfg.json");
    CHECK(back.max_epochs == 7);
    CHECK(back.batch_size == 32);
    CHECK(back.reduce_lr_factor == 0.5);
    CHECK(back.history_path == "h.json");
    // a field left out keeps its default; an unknown, negative or ill-typed one names itself
    CHECK(ferrum::options_from_json<trainer_options>({{"patience", 3}}, "cfg.json").batch_size ==
          trainer_options{}.batch_size);
    const auto field_of = [](const nlohmann::json& bad) {
        try {
            ferrum::options_from_json<trainer_options>(bad, "cfg.json");
        } catch (const ferrum::input_error& e) {
            return e.field();
        }
        return std::string("(accepted)");
    };
    CHECK(field_of({{"max_epoch", 3}}) == "max_epoch");
    CHECK(field_of({{"batch_size", -1}}) == "batch_size");
    CHECK(field_of({{"batch_size", 2.5}}) == "batch_size");
    CHECK(field_of({{"shuffle", "yes"}}) == "shuffle");
}

TEST_CASE("the progress line says which loss is which and counts epochs per second", "[train][trainer]") {
    using namespace ferrum::train;
    epoch_record rec;
    rec.epoch = 3;
    rec.train_loss = 4.17;
    rec.val_loss = 0.72;
    training_history hist;
    hist.best_val_loss = 0.7;
    hist.best_epoch = 2;
    CHECK(ferrum::train::detail::epoch_progress_text(rec, hist, true) ==
          "train loss 4.17 (fit weights + penalties)  val loss 0.72 (evaluation, no penalties)  best val loss 0.7 "
          "at epoch 2");
    CHECK(ferrum::train::detail::epoch_progress_text(rec, hist, false) ==
          "train loss 4.17 (fit weights + penalties)  (no validation set)  best train loss 0.7 at epoch 2");

    // what fit prints on stderr: stderr goes to a scratch file for two epochs
    const fs::path dir = ferrum_test::fresh_dir("ferrum_trainer_progress");
    const fs::path log = dir / "stderr.txt";
    linear_model m(50, 3, 1);
    sgd opt{0.05};
    auto o = quiet();
    o.max_epochs = 2;
    o.progress = true;
    std::fflush(stderr);
    const int saved = dup(2);
    REQUIRE(saved >= 0);
    const int file = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(file >= 0);
    dup2(file, 2);
    close(file);
    fit(m, opt, iota(0, 40), iota(40, 50), o);
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    const std::string out = ferrum_test::slurp(log);
    CHECK(out.find("epoch 1/2  train loss ") == 0);
    CHECK(out.find(" epochs/s  ETA ") != std::string::npos);
    CHECK(out.find("epoch 2/2  train loss ") != std::string::npos);
    CHECK(out.find(" epochs/s  elapsed ") != std::string::npos);
    CHECK(out.find(" s\n") != std::string::npos);  // durations in seconds, with their unit
    fs::remove_all(dir);
}

// --- nn::fit: one call over train::fit -------------------------------------------------------------------

namespace {

namespace nn = ferrum::nn;

/// Noiseless linear data y = X a + b (n samples, d features), seeded.
struct fit_linear_data {
    xt::xtensor<double, 2> x;
    xt::xtensor<double, 1> y;
    fit_linear_data(std::size_t n, std::size_t d, unsigned seed, double noise = 0.0)
        : x(xt::xtensor<double, 2>::from_shape({n, d})), y(xt::xtensor<double, 1>::from_shape({n})) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> g;
        for (std::size_t i = 0; i < n; ++i) {
            y(i) = 0.7;
            for (std::size_t j = 0; j < d; ++j) {
                x(i, j) = g(rng);
                y(i) += (1.0 - 0.6 * double(j)) * x(i, j);
            }
            y(i) += noise * g(rng);
        }
    }
};

nn::sequential<double> fit_linear_model(std::size_t d) {
    nn::sequential<double> m;
    m.add(nn::dense<double>(d, 1));
    m.reset_parameters(3);
    return m;
}

nn::fit_options fit_quiet_options() {
    nn::fit_options o;
    o.progress = false;
    o.handle_sigint = false;
    return o;
}

std::vector<double> fit_weights(nn::sequential<double>& m) {
    std::vector<double> w;
    for (const auto& p : m.parameters()) w.insert(w.end(), p.value, p.value + p.size());
    return w;
}

double fit_mse(const xt::xtensor<double, 2>& pred, const xt::xtensor<double, 1>& y) {
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += (pred(i, 0) - y(i)) * (pred(i, 0) - y(i));
    return s / double(y.size());
}

}  // namespace

TEST_CASE("nn::fit reaches the least-squares solution on noiseless linear data", "[nn][fit]") {
    const std::size_t n = 240, d = 3;
    fit_linear_data data(n, d, 11);
    auto m = fit_linear_model(d);
    auto o = fit_quiet_options();
    o.max_epochs = 300;
    o.optimizer.lr = 0.02;
    o.seed = 5;
    const auto h = m.fit(data.x, data.y, o);  // mini-batches of 32, shuffled
    REQUIRE(h.epochs.size() == 300);
    // oracle: the least-squares solution of [X 1] c = y by Eigen's column-pivoting QR
    Eigen::MatrixXd A(n, d + 1);
    Eigen::VectorXd b(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < d; ++j) A(Eigen::Index(i), Eigen::Index(j)) = data.x(i, j);
        A(Eigen::Index(i), Eigen::Index(d)) = 1.0;
        b(Eigen::Index(i)) = data.y(i);
    }
    const Eigen::VectorXd sol = A.colPivHouseholderQr().solve(b);
    const auto w = fit_weights(m);  // "0.weight" (1 x d), then "0.bias"
    for (std::size_t j = 0; j <= d; ++j) CHECK(w[j] == Approx(sol(Eigen::Index(j))).margin(1e-4));
    CHECK(h.epochs.back().train_loss < 1e-8);
}

TEST_CASE("nn::fit gives the same weights whether the data is an xtensor, a view, xt::adapt or an Eigen map",
          "[nn][fit]") {
    const std::size_t n = 96, d = 3;
    fit_linear_data big(n + 20, d, 12, 0.1);  // the training data are the first n rows of a larger table
    auto o = fit_quiet_options();
    o.max_epochs = 4;
    o.optimizer.lr = 0.01;
    o.seed = 9;
    o.validation_split = 0.25;
    o.early_stopping = true;
    o.patience = 10;
    auto run = [&](auto&& x, auto&& y) {
        auto m = fit_linear_model(d);
        m.fit(x, y, o);
        return fit_weights(m);
    };
    const xt::xtensor<double, 2> x = xt::view(big.x, xt::range(0, n), xt::all());
    const xt::xtensor<double, 1> y = xt::view(big.y, xt::range(0, n));
    const auto reference = run(x, y);
    // a view of rows, xt::adapt over a plain buffer, a row-major Eigen map, a column-major Eigen matrix
    CHECK(run(xt::view(big.x, xt::range(0, n), xt::all()), xt::view(big.y, xt::range(0, n))) == reference);
    std::vector<double> buffer(x.begin(), x.end());
    CHECK(run(xt::adapt(buffer, std::vector<std::size_t>{n, d}), y) == reference);
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const row_major> xmap(big.x.data(), Eigen::Index(n), Eigen::Index(d));
    const Eigen::Map<const Eigen::VectorXd> ymap(big.y.data(), Eigen::Index(n));
    CHECK(run(xmap, ymap) == reference);
    const Eigen::MatrixXd xcol = xmap;  // column-major: read through its strides
    CHECK(run(xcol, ymap) == reference);
    // the same seed reproduces, another seed shuffles differently
    CHECK(run(x, y) == reference);
    o.seed = 10;
    CHECK(run(x, y) != reference);
}

TEST_CASE("nn::fit on sequences reads a strided view of steps in place and reproduces its copy", "[nn][fit]") {
    const std::size_t n = 48, steps = 6, extra = 3;
    xt::xtensor<double, 3> big = xt::xtensor<double, 3>::from_shape({n, steps + extra, std::size_t(2)});
    xt::xtensor<double, 1> y = xt::xtensor<double, 1>::from_shape({n});
    std::mt19937_64 rng(4);
    std::normal_distribution<double> g;
    for (auto& v : big) v = g(rng);
    for (std::size_t i = 0; i < n; ++i) y(i) = big(i, 0, 1) - 0.5 * big(i, steps - 1, 0);
    const auto view = xt::view(big, xt::all(), xt::range(0, steps), xt::all());  // not contiguous
    const xt::xtensor<double, 3> copy = view;
    auto train = [&](const nn::input_view<double>& x) {
        nn::sequential<double> m;
        m.add(nn::gru<double>(2, 4)).add(nn::dropout<double>(0.2, 1)).add(nn::dense<double>(4, 1));
        m.reset_parameters(2);
        auto o = fit_quiet_options();
        o.max_epochs = 3;
        o.batch_size = 16;
        o.seed = 1;
        std::vector<std::size_t> lengths(n, steps);
        lengths[0] = 2;  // one short sequence: its padding is never read
        o.lengths = lengths;
        m.fit(x, y, o);
        return fit_weights(m);
    };
    const nn::input_view<double> in_place(view);
    CHECK_FALSE(in_place.copied());
    CHECK(in_place.data == big.data());
    CHECK(train(in_place) == train(copy));
}

TEST_CASE("nn::fit: the loss history decreases and early stopping restores the best epoch", "[nn][fit]") {
    const std::size_t d = 4;
    fit_linear_data train_data(160, d, 21, 0.3), val_data(80, d, 22, 0.3);
    auto m = fit_linear_model(d);
    auto o = fit_quiet_options();
    o.max_epochs = 500;
    o.optimizer.lr = 0.01;
    o.early_stopping = true;
    o.patience = 3;
    o.min_delta = 1e-3;  // late improvements are smaller: training stops well before max_epochs
    const auto h = m.fit(train_data.x, train_data.y, val_data.x, val_data.y, o);
    REQUIRE(h.stopped_early);
    REQUIRE(h.epochs.size() == std::size_t(h.best_epoch + o.patience));
    CHECK(h.epochs.size() < 500);
    // the training loss falls: the last epoch's is a small fraction of the first's
    CHECK(h.epochs.back().train_loss < 0.2 * h.epochs.front().train_loss);
    CHECK(h.epochs[std::size_t(h.best_epoch) - 1].val_loss < h.epochs.front().val_loss);
    // the model holds the best epoch's weights: its validation loss, computed here, is the best one
    const double restored = fit_mse(m.predict(val_data.x), val_data.y);
    CHECK(restored == Approx(h.best_val_loss).epsilon(1e-12));
    CHECK(restored != h.epochs.back().val_loss);
}

TEST_CASE("nn::fit: a loss given by name, as a function, or as a weighted function", "[nn][fit]") {
    const std::size_t d = 2;
    fit_linear_data data(64, d, 31, 0.2);
    auto o = fit_quiet_options();
    o.max_epochs = 3;
    o.seed = 2;
    o.optimizer.eps = 0;  // then Adam's steps are exactly invariant to a scale of 2 on the loss
    auto run = [&](const nn::fit_options& opt) {
        auto m = fit_linear_model(d);
        return std::make_pair(m.fit(data.x, data.y, opt).epochs.back().train_loss, fit_weights(m));
    };
    const auto by_name = run(o);
    o.loss = [](const auto& out, const auto& y, const auto& w) { return nn::mse_loss(out, y, w); };
    CHECK(run(o) == by_name);
    // weights of 2 double a mean-reduced loss and its gradient: Adam's steps do not change, the loss doubles
    o.sample_weight.assign(64, 2.0);
    const auto weighted = run(o);
    CHECK(weighted.first == Approx(2 * by_name.first).epsilon(1e-12));
    CHECK(weighted.second == by_name.second);
}

TEST_CASE("nn inputs: views, adapted buffers and Eigen maps are read where they lie", "[nn][fit]") {
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({10, 5, 3});
    std::iota(x.begin(), x.end(), 0.f);
    // a batch of rows: points into x, no copy
    const nn::input_view<float> rows(xt::view(x, xt::range(4, 8), xt::all(), xt::all()));
    CHECK(rows.data == &x(4, 0, 0));
    CHECK_FALSE(rows.copied());
    CHECK(rows.contiguous());
    CHECK(rows.batch == 4);
    // every other step, reversed samples: strided, still in place
    const nn::input_view<float> strided(xt::view(x, xt::range(9, 0, -2), xt::range(0, 5, 2), xt::all()));
    CHECK_FALSE(strided.copied());
    CHECK_FALSE(strided.contiguous());
    CHECK(&strided(1, 2, 1) == &x(7, 4, 1));
    // xt::adapt over user memory and Eigen maps and blocks
    std::vector<float> buffer(12, 1.f);
    const nn::input_view<float> adapted(xt::adapt(buffer, std::vector<std::size_t>{4, 3}));
    CHECK(adapted.data == buffer.data());
    Eigen::MatrixXf e = Eigen::MatrixXf::Random(6, 3);
    const nn::input_view<float> block(e.middleRows(2, 3));
    CHECK(block.data == &e(2, 0));
    CHECK(&block(1, 0, 2) == &e(3, 2));
    const nn::input_view<float> mapped(Eigen::Map<const Eigen::MatrixXf>(e.data(), 6, 3));
    CHECK(mapped.data == e.data());
    // a lazy expression has no memory: it is evaluated once, into the view
    const nn::input_view<float> doubled(x * 2.f);
    CHECK(doubled.copied());
    CHECK(doubled(3, 2, 1) == 2.f * x(3, 2, 1));
    // a mini-batch of shuffled rows is read in place too
    const std::size_t pick[] = {7, 2};
    const auto batch = nn::input_view<float>(x).select(pick, 2);
    CHECK(batch.sample(0) == &x(7, 0, 0));
    CHECK(batch.sample(1) == &x(2, 0, 0));
}

TEST_CASE("nn models: forward and predict on views equal forward on copies", "[nn][fit]") {
    nn::sequential<float> m;
    m.add(nn::gru<float>(3, 4)).add(nn::dense<float>(4, 2));
    m.reset_parameters(5);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({12, 7, 3});
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto& v : x) v = u(rng);
    const auto view = xt::view(x, xt::range(11, 1, -3), xt::range(1, 7), xt::all());
    const xt::xtensor<float, 3> copy = view;
    const xt::xtensor<float, 2> a = m.forward(view), b = m.forward(copy);
    CHECK(a == b);
    const xt::xtensor<float, 2> c = m.predict(view);
    CHECK(c == b);
    // the model's output is an xtensor; the losses take it (and its column views) as they take Eigen vectors
    const Eigen::VectorXf target = Eigen::VectorXf::LinSpaced(4, -1.f, 1.f);
    const Eigen::VectorXf out0 = Eigen::Map<const Eigen::VectorXf, 0, Eigen::InnerStride<2>>(b.data(), 4);
    const auto from_xtensor = nn::mse_loss(xt::view(b, xt::all(), 0), target);
    const auto from_eigen = nn::mse_loss(out0, target);
    CHECK(from_xtensor.value == from_eigen.value);
    CHECK(from_xtensor.grad == from_eigen.grad);
    CHECK_THROWS_WITH(nn::mse_loss(b, target), Catch::Contains("one value per sample"));
}

TEST_CASE("nn::fit refuses inconsistent data and settings before training", "[nn][fit]") {
    fit_linear_data data(20, 2, 1);
    auto m = fit_linear_model(2);
    const auto before = fit_weights(m);
    auto o = fit_quiet_options();
    const xt::xtensor<double, 1> short_y = xt::view(data.y, xt::range(0, 19));
    CHECK_THROWS_WITH(m.fit(data.x, short_y, o), Catch::Contains("20 samples, the targets 19"));
    o.validation_split = 1.0;
    CHECK_THROWS_WITH(m.fit(data.x, data.y, o), Catch::Contains("validation_split"));
    o.validation_split = 0.0;
    o.sample_weight = {1.0, 2.0};
    CHECK_THROWS_WITH(m.fit(data.x, data.y, o), Catch::Contains("2 sample weights for 20 samples"));
    o.sample_weight.clear();
    o.early_stopping = true;  // without validation data
    CHECK_THROWS_WITH(m.fit(data.x, data.y, o), Catch::Contains("validation set"));
    CHECK_THROWS_WITH(nn::fit_loss("mae"), Catch::Contains("unknown loss \"mae\""));
    o.early_stopping = false;
    o.loss = "robust_heteroscedastic";  // needs two outputs
    CHECK_THROWS_WITH(m.fit(data.x, data.y, o), Catch::Contains("2 output(s)"));
    CHECK(fit_weights(m) == before);  // nothing was trained
    o.loss = "mse";
    o.validation_split = 0.01;  // floor(20 * 0.99) = 19 training samples and one validation sample
    o.max_epochs = 1;
    CHECK_NOTHROW(m.fit(data.x, data.y, o));
    CHECK(fit_weights(m) != before);
}
