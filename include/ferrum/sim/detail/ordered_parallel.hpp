// Producer threads with an in-order consumer: chunks are produced in parallel (each independent of the
// thread that makes it) and handed to `consume` strictly in index order, with a bounded number of
// chunks in flight, so that a 2.5 GB CSV can be written while it is being generated.
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

namespace ferrum::sim::detail {

/// Calls produce(i) for i in [0, n) on `threads` worker threads and consume(i, result) on the calling
/// thread in increasing i. The first exception (from either side) stops the work and is rethrown.
template <class Produce, class Consume>
void ordered_parallel(std::size_t n, unsigned threads, Produce produce, Consume consume) {
    using result_t = decltype(produce(std::size_t{0}));
    threads = std::max(1u, threads);
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

}  // namespace ferrum::sim::detail
