// main() for tests that need an NVIDIA GPU: on a machine without one (no device, or no NVIDIA driver installed)
// it says so on stdout and returns 77, which ctest reports as "Skipped" (SKIP_RETURN_CODE) while the suite
// still passes. A driver that is installed but unusable (older than the runtime, a failed initialisation) is
// not "no GPU": it fails the test, loudly.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "ferrum/backend/cudnn/device.hpp"

int main(int argc, char* argv[]) {
    const auto gpu = ferrum::backend::probe_cuda_devices();
    using state = ferrum::backend::cuda_presence::state;
    if (gpu.status == state::absent) {
        std::printf("SKIPPED: no CUDA device (%s); the [gpu] tests of %s were compiled and linked but not run\n",
                    gpu.why.c_str(), argv[0]);
        return 77;
    }
    if (gpu.status == state::broken) {
        std::fprintf(stderr,
                     "FAILED: a CUDA driver is installed but cannot be used (%s): fix the driver; %s did not run\n",
                     gpu.why.c_str(), argv[0]);
        return 1;
    }
    return Catch::Session().run(argc, argv);
}
