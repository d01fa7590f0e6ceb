// The trainer: convergence to the least-squares solution (normal equations as the oracle), Keras
// early-stopping and reduce-on-plateau semantics on scripted validation curves, bit-identical resume
// from a checkpoint, Ctrl-C, and settings rejected before any work.
#include <catch2/catch.hpp>

#include <ferrum/train/trainer.hpp>

#include <Eigen/Dense>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
