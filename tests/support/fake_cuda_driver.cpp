// A stand-in for the NVIDIA driver library (libcuda.so.1) that exports none of its functions: with it first on
// LD_LIBRARY_PATH, a machine "has a driver" that the CUDA runtime cannot use. The test gpu_driver_unusable_fails
// runs a GPU test against it and expects a loud failure, not a skip (tests/support/gpu_main.cpp).
extern "C" int ferrum_fake_cuda_driver() { return 0; }
