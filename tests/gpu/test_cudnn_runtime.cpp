// The GPU toolchain that ferrum::cudnn links: cuDNN 9 and cuBLAS handles can be created on the device.
// Compiled and linked in CI (no GPU), where gpu_main.cpp reports the test as skipped.
#include <catch2/catch.hpp>

#include <cublas_v2.h>
#include <cudnn.h>

TEST_CASE("cuDNN 9 and cuBLAS initialise on the device", "[gpu]") {
    REQUIRE(cudnnGetVersion() >= 90000);
    cudnnHandle_t dnn = nullptr;
    REQUIRE(cudnnCreate(&dnn) == CUDNN_STATUS_SUCCESS);
    cublasHandle_t blas = nullptr;
    REQUIRE(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS);
    CHECK(cublasDestroy(blas) == CUBLAS_STATUS_SUCCESS);
    CHECK(cudnnDestroy(dnn) == CUDNN_STATUS_SUCCESS);
}
