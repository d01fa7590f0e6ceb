// The one thread pool of the library: index loops run on a few short-lived threads that take work from a
// shared counter, with per-worker state, progress from one worker, and the first exception rethrown on the
// caller's thread. Results never depend on the thread count when each index writes only its own output.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "ferrum/core/progress.hpp"

namespace ferrum {

/// \brief How a loop is spread over threads.
struct parallel_options {
    unsigned threads = 0;     ///< 0: std::thread::hardware_concurrency()
    std::size_t grain = 1;    ///< indices taken from the shared counter at a time
    progress* bar = nullptr;  ///< updated by worker 0 with the number of indices done (not thread-safe)
};

/// Threads a loop of `n` indices runs on: `requested` (0: all cores), at least 1, at most n.
inline unsigned worker_count(unsigned requested, std::size_t n) noexcept {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t want = requested ? requested : hw;
    return static_cast<unsigned>(std::max<std::size_t>(1, std::min(want, n)));
}

/// \brief Calls work(state, i) for every i in [0, n), where `state` is what make_state() returned on that
/// worker (one per thread: a preprocessor, a scratch buffer). Worker 0 is the calling thread. The first
/// exception stops the remaining work and is rethrown here once every worker has stopped.
template <class MakeState, class Work>
void parallel_for_each_worker(std::size_t n, const parallel_options& opt, MakeState&& make_state, Work&& work) {
    const std::size_t grain = std::max<std::size_t>(1, opt.grain);
    const unsigned nt = worker_count(opt.threads, (n + grain - 1) / grain);
    std::atomic<std::size_t> next{0}, done{0};
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto worker = [&](unsigned t) {
        try {
            auto state = make_state();
            for (;;) {
                const std::size_t lo = next.fetch_add(grain);
                if (lo >= n || stop) break;
                const std::size_t hi = std::min(n, lo + grain);
                for (std::size_t i = lo; i < hi; ++i) work(state, i);
                const std::size_t d = done.fetch_add(hi - lo) + (hi - lo);
                if (t == 0 && opt.bar && d < n) opt.bar->update(d);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(failure_mutex);
            if (!failure) failure = std::current_exception();
            stop = true;
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(nt > 0 ? nt - 1 : 0);
    for (unsigned t = 1; t < nt; ++t) pool.emplace_back(worker, t);
    worker(0);
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
    if (opt.bar) opt.bar->update(n);
}

/// \brief Calls work(i) for every i in [0, n) (see parallel_for_each_worker).
template <class Work>
void parallel_for(std::size_t n, const parallel_options& opt, Work&& work) {
    struct no_state {};
    parallel_for_each_worker(
        n, opt, [] { return no_state{}; }, [&](no_state&, std::size_t i) { work(i); });
}

/// \brief Calls produce(i) for i in [0, n) on `threads` worker threads and consume(i, result) on the
/// calling thread in increasing i, with at most 2 threads + 2 results in flight (bounded memory: a 2.5 GB
/// CSV is written while it is generated). The first exception, from either side, stops the work and is
/// rethrown.
template <class Produce, class Consume>
void ordered_parallel(std::size_t n, unsigned threads, Produce produce, Consume consume) {
    using result_t = decltype(produce(std::size_t{0}));
    threads = worker_count(threads, n);
    const std::size_t window = 2 * static_cast<std::size_t>(threads) + 2;

    std::mutex mu;
    std::condition_variable ready, space;
    std::map<std::size_t, result_t> done;
    std::size_t next_to_consume = 0;
    std::atomic<std::size_t> next_to_produce{0};
    std::exception_ptr failure;
    bool stop = false;

    auto worker = [&] {
        for (;;) {
            const std::size_t i = next_to_produce.fetch_add(1);
            if (i >= n) return;
            {
                std::unique_lock<std::mutex> lock(mu);
                space.wait(lock, [&] { return stop || i < next_to_consume + window; });
                if (stop) return;
            }
            try {
                result_t r = produce(i);
                std::lock_guard<std::mutex> lock(mu);
                done.emplace(i, std::move(r));
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (!failure) failure = std::current_exception();
                stop = true;
            }
            ready.notify_all();
            space.notify_all();
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);

    try {
        for (std::size_t i = 0; i < n; ++i) {
            result_t r;
            {
                std::unique_lock<std::mutex> lock(mu);
                ready.wait(lock, [&] { return stop || done.count(i) > 0; });
                if (stop) break;
                auto it = done.find(i);
                r = std::move(it->second);
                done.erase(it);
            }
            consume(i, std::move(r));
            {
                std::lock_guard<std::mutex> lock(mu);
                next_to_consume = i + 1;
            }
            space.notify_all();
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        stop = true;
    }
    {
        std::lock_guard<std::mutex> lock(mu);
        if (failure) stop = true;
    }
    space.notify_all();
    ready.notify_all();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace ferrum
