// main() for tests that need an NVIDIA GPU: without a usable CUDA device it says so on stdout and
// returns 77, which ctest reports as "Skipped" (SKIP_RETURN_CODE) while the suite still passes.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime_api.h>
#include <catch2/catch.hpp>

#include <cstdio>

int main(int argc, char* argv[]) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
        std::printf("SKIPPED: no CUDA device (%s); the [gpu] tests of %s were compiled and linked but not run\n",
                    status == cudaSuccess ? "0 devices" : cudaGetErrorString(status), argv[0]);
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
