// The MPI job a ferrum-* program runs in, for the tools that predict across ranks (ferrum-rrl, ferrum-giants):
// MPI is initialised only when an MPI launcher started the program, rank r predicts shard r of the ranks (or
// takes input files from a shared counter) and rank 0 merges the shards (core/shards.hpp). docs/scaling.md.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <ferrum/core/communicator.hpp>
#include <ferrum/core/error.hpp>
#include <ferrum/core/shards.hpp>

#ifdef FERRUM_WITH_MPI
#  include <mpi.h>
#endif

namespace ferrum::cli {

/// The MPI job this process is a rank of. MPI is initialised only when an MPI launcher started the program
/// (mpirun/mpiexec set OMPI_COMM_WORLD_SIZE or PMI_SIZE, srun with PMIx PMIX_RANK), so a run by hand or from
/// a job array never touches MPI.
class mpi_world {
public:
#ifdef FERRUM_WITH_MPI
    mpi_world(int* argc, char*** argv) {
        if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMI_SIZE") && !std::getenv("PMIX_RANK")) return;
        MPI_Init(argc, argv);
        active_ = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~mpi_world() {
        if (active_) MPI_Finalize();
    }
    /// The number of ranks for which `failed` is true (every rank must call it).
    int count_failed(bool failed) const {
        int mine = failed ? 1 : 0, all = 0;
        MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        return all;
    }
    /// Ends every rank of the job (a rank that failed while the others wait in a collective).
    [[noreturn]] void abort(int code) const {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::exit(code);
    }
#else
    mpi_world(int*, char***) {}
    int count_failed(bool failed) const { return failed ? 1 : 0; }
    [[noreturn]] void abort(int code) const { std::exit(code); }
#endif
    /// The job's ranks for the library (one process when MPI is not active).
    communicator comm() const { return communicator::world(); }
    mpi_world(const mpi_world&) = delete;
    mpi_world& operator=(const mpi_world&) = delete;
    bool active() const noexcept { return active_; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }

private:
    bool active_ = false;
    int rank_ = 0, size_ = 1;
};

/// \brief A job-wide counter handing out work items 0, 1, 2, … one at a time, whichever rank asks first: an
/// MPI one-sided fetch-and-add on a value held by rank 0 (passive target: rank 0 need not answer), so a
/// rank that finishes early takes more. Every rank constructs and destroys it together (collective).
/// Without MPI: a plain counter.
class shared_counter {
public:
    explicit shared_counter(const mpi_world& world) {
#ifdef FERRUM_WITH_MPI
        if (!world.active()) return;
        active_ = true;
        MPI_Win_allocate(world.rank() == 0 ? MPI_Aint(sizeof(long long)) : MPI_Aint(0), int(sizeof(long long)),
                         MPI_INFO_NULL, MPI_COMM_WORLD, &value_, &win_);
        if (world.rank() == 0) {
            MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win_);
            *value_ = 0;
            MPI_Win_unlock(0, win_);
        }
        MPI_Barrier(MPI_COMM_WORLD);  // no rank takes an item before the counter is 0
#else
        (void)world;
#endif
    }
    ~shared_counter() {
#ifdef FERRUM_WITH_MPI
        if (active_) MPI_Win_free(&win_);
#endif
    }
    shared_counter(const shared_counter&) = delete;
    shared_counter& operator=(const shared_counter&) = delete;

    /// The next item (each item is handed out once in the whole job).
    std::size_t next() {
#ifdef FERRUM_WITH_MPI
        if (active_) {
            const long long one = 1;
            long long got = 0;
            MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win_);
            MPI_Fetch_and_op(&one, &got, MPI_LONG_LONG, 0, 0, MPI_SUM, win_);
            MPI_Win_unlock(0, win_);
            return std::size_t(got);
        }
#endif
        return local_++;
    }

private:
    std::size_t local_ = 0;
#ifdef FERRUM_WITH_MPI
    bool active_ = false;
    long long* value_ = nullptr;
    MPI_Win win_{};
#endif
};

/// \brief predict under mpirun: `run_ranks_work()` does this rank's share (its shard, or the files it takes),
/// then every rank reports success or failure in one MPI_Allreduce (also the barrier before the merge); if all
/// succeeded, rank 0 merges the `shards` shards of `out` (merge_shards). A rank that fails prints
/// "TOOL: rank r of N: <error>"; rank 0 then throws, naming how many failed, and writes no merged output.
template <class Work>
int predict_across_ranks(const std::string& tool, const mpi_world& world, const std::string& out, std::size_t shards,
                         Work&& run_ranks_work) {
    bool failed = false;
    try {
        run_ranks_work();
    } catch (const std::exception& e) {
        failed = true;
        std::fprintf(stderr, "%s: rank %d of %d: %s\n", tool.c_str(), world.rank(), world.size(), e.what());
    }
    const int failures = world.count_failed(failed);
    if (failures > 0) {
        if (world.rank() != 0) return 1;
        throw value_error("predict: " + std::to_string(failures) + " of " + std::to_string(world.size()) +
                          " ranks failed (above); no merged output written to " + out +
                          " (rerun the same command: the finished shards are skipped)");
    }
    if (world.rank() != 0) return 0;
    const std::size_t rows = merge_shards(out, shards);
    std::fprintf(stderr, "predict: %d ranks done; merged %zu rows from %zu shards into %s\n", world.size(), rows,
                 shards, out.c_str());
    return 0;
}

}  // namespace ferrum::cli
