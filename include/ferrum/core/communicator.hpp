// The ranks of a data-parallel run (Horovod's scheme, Sergeev & Del Balso 2018): which rank this process
// is, how many there are, and the few collectives a trainer needs -- gather in rank order, a sum in a fixed
// order, MPI_Allreduce, a count. Built with FERRUM_WITH_MPI (link ferrum::mpi) and started by an MPI
// launcher it wraps an MPI communicator; otherwise it is one process and every collective is the identity.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#ifdef FERRUM_WITH_MPI
#  include <mpi.h>
#endif

#include "ferrum/core/error.hpp"

namespace ferrum {

namespace detail {

template <class T>
constexpr bool communicable_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::uint64_t>;

#ifdef FERRUM_WITH_MPI
template <class T>
MPI_Datatype mpi_type() noexcept {
    if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
    else if constexpr (std::is_same_v<T, std::int32_t>) return MPI_INT32_T;
    else return MPI_UINT64_T;
}
#endif

}  // namespace detail

/// \brief The processes of one run. A default-constructed communicator is one process (rank 0 of 1);
/// `communicator::world()` is every rank of an MPI job. Copies share the handle and the time counter.
class communicator {
public:
    /// One process: rank 0 of 1; every collective returns its input.
    communicator() = default;

#ifdef FERRUM_WITH_MPI
    /// The processes of `comm` (MPI must be initialised; the caller keeps `comm` alive).
    explicit communicator(MPI_Comm comm) : comm_(comm) {
        MPI_Comm_rank(comm, &rank_);
        MPI_Comm_size(comm, &size_);
    }
    MPI_Comm mpi_comm() const noexcept { return comm_; }
#endif

    /// MPI_COMM_WORLD when MPI is initialised (and not yet finalised), else one process.
    static communicator world() {
#ifdef FERRUM_WITH_MPI
        int initialised = 0, finalised = 0;
        MPI_Initialized(&initialised);
        MPI_Finalized(&finalised);
        if (initialised && !finalised) return communicator(MPI_COMM_WORLD);
#endif
        return {};
    }

    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    bool distributed() const noexcept { return size_ > 1; }

    /// \brief Every rank's `mine` concatenated in rank order, on every rank; rank r passes `counts[r]`
    /// values (every rank knows all counts: no extra message). One MPI_Allgatherv.
    template <class T>
    std::vector<T> all_gather(const std::vector<T>& mine, const std::vector<std::size_t>& counts) const {
        static_assert(detail::communicable_v<T>, "communicator: T must be float, double, int32_t or uint64_t");
        if (counts.size() != std::size_t(size_) || counts[std::size_t(rank_)] != mine.size())
            throw value_error("communicator::all_gather: rank " + std::to_string(rank_) + " passes " +
                              std::to_string(mine.size()) + " values, the counts say otherwise");
        if (size_ == 1) return mine;
#ifdef FERRUM_WITH_MPI
        std::vector<int> n(counts.size()), at(counts.size());
        std::size_t total = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
            if (total + counts[r] > std::size_t(std::numeric_limits<int>::max()))
                throw value_error("communicator::all_gather: more than 2^31 values");
            n[r] = int(counts[r]);
            at[r] = int(total);
            total += counts[r];
        }
        std::vector<T> all(total);
        const timer t(*this);
        MPI_Allgatherv(mine.data(), int(mine.size()), detail::mpi_type<T>(), all.data(), n.data(), at.data(),
                       detail::mpi_type<T>(), comm_);
        return all;
#else
        return mine;
#endif
    }

    /// \brief The element-wise sum of every rank's `v` (same length everywhere), added in rank order on
    /// every rank: ((v_0 + v_1) + v_2) + ... . The result has the same bits on every rank and in every run,
    /// whatever algorithm the MPI library picks; it moves N times the data of an allreduce.
    template <class T>
    std::vector<T> sum_in_rank_order(const std::vector<T>& v) const {
        if (size_ == 1) return v;
        const auto all = all_gather(v, std::vector<std::size_t>(std::size_t(size_), v.size()));
        std::vector<T> s(all.begin(), all.begin() + std::ptrdiff_t(v.size()));
        for (std::size_t r = 1; r < std::size_t(size_); ++r)
            for (std::size_t i = 0; i < v.size(); ++i) s[i] += all[r * v.size() + i];
        return s;
    }

    /// \brief The element-wise sum by MPI_Allreduce (MPI_SUM): the same on every rank, but the order of the
    /// additions is the MPI library's (it may depend on N and on the message sizes).
    template <class T>
    std::vector<T> all_reduce_sum(std::vector<T> v) const {
        static_assert(detail::communicable_v<T>, "communicator: T must be float, double, int32_t or uint64_t");
#ifdef FERRUM_WITH_MPI
        if (size_ > 1) {
            if (v.size() > std::size_t(std::numeric_limits<int>::max()))
                throw value_error("communicator::all_reduce_sum: more than 2^31 values");
            const timer t(*this);
            MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), detail::mpi_type<T>(), MPI_SUM, comm_);
        }
#endif
        return v;
    }

    /// How many ranks pass true (every rank must call it; also a barrier).
    int count(bool b) const { return int(all_reduce_sum(std::vector<std::int32_t>{b ? 1 : 0}).front()); }

    /// Seconds this process spent in the collectives above (waiting for slower ranks included).
    double seconds() const noexcept { return *seconds_; }

private:
    /// Adds the lifetime of a collective to the shared counter.
    class timer {
    public:
        explicit timer(const communicator& c) : c_(c), t0_(std::chrono::steady_clock::now()) {}
        ~timer() { *c_.seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
        timer(const timer&) = delete;
        timer& operator=(const timer&) = delete;

    private:
        const communicator& c_;
        std::chrono::steady_clock::time_point t0_;
    };

#ifdef FERRUM_WITH_MPI
    MPI_Comm comm_ = MPI_COMM_SELF;
#endif
    int rank_ = 0, size_ = 1;
    std::shared_ptr<double> seconds_ = std::make_shared<double>(0.0);
};

}  // namespace ferrum
