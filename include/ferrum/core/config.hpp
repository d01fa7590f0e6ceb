// Compile-time configuration of ferrum: version, scalar defaults and the backend seam.
// Every setting is an overridable macro with a default (as xtensor_config.hpp does), so a user
// changes behaviour by defining the macro before the first ferrum include, or through a CMake target
// (linking ferrum::cudnn defines FERRUM_USE_CUDNN).
#pragma once

#define FERRUM_VERSION_MAJOR 0
#define FERRUM_VERSION_MINOR 1
#define FERRUM_VERSION_PATCH 0

namespace ferrum {

/// \brief Backend tags: the template parameter that selects where the network kernels run.
namespace backend {
/// Eigen kernels on the host CPU (always available).
struct cpu {
    static constexpr const char* name = "cpu";
};
/// cuDNN (RNN) + cuBLAS (dense) kernels on an NVIDIA GPU; needs ferrum::cudnn.
struct cudnn {
    static constexpr const char* name = "cudnn";
};
}  // namespace backend

}  // namespace ferrum

#if defined(FERRUM_DEFAULT_BACKEND) || defined(FERRUM_USE_CUDNN)
#  define FERRUM_DETAIL_NON_CPU_BACKEND 1  // the precompiled library's instantiations do not apply
#endif
#ifndef FERRUM_DEFAULT_BACKEND
#  ifdef FERRUM_USE_CUDNN
#    define FERRUM_DEFAULT_BACKEND ::ferrum::backend::cudnn
#  else
#    define FERRUM_DEFAULT_BACKEND ::ferrum::backend::cpu
#  endif
#endif

namespace ferrum {
/// The backend used when a template's backend parameter is left out (FERRUM_DEFAULT_BACKEND).
using default_backend = FERRUM_DEFAULT_BACKEND;

struct version_info {
    int major, minor, patch;
};
constexpr version_info version() noexcept { return {FERRUM_VERSION_MAJOR, FERRUM_VERSION_MINOR, FERRUM_VERSION_PATCH}; }
}  // namespace ferrum

// The optional precompiled library (CMake: -DFERRUM_PRECOMPILED=ON, target ferrum::ferrum_compiled, sources in
// src/), as fmt's header-only / compiled switch. Linking it defines FERRUM_EXTERN_TEMPLATES: the heaviest
// headers then declare their float/double instantiations `extern template` (the lines
// `FERRUM_TEMPLATE_INSTANCE ...;` at their ends), so a user's translation unit skips compiling them and the
// linker takes them from the library. src/ defines FERRUM_DEFINE_TEMPLATES, which turns the same lines into
// the explicit instantiations: one list, no way for declarations and definitions to drift apart. The library
// is built for the CPU backend: with another default backend the headers stay header-only.
// The library is built without MPI: ferrum::communicator (core/communicator.hpp) has another layout and other
// inline definitions with FERRUM_WITH_MPI, so a program linked to both would silently mix the two.
#if defined(FERRUM_EXTERN_TEMPLATES) && defined(FERRUM_WITH_MPI) && !defined(FERRUM_DEFINE_TEMPLATES)
#  error "ferrum: ferrum::ferrum_compiled (FERRUM_EXTERN_TEMPLATES) and ferrum::mpi (FERRUM_WITH_MPI) cannot be linked together; link ferrum::ferrum with ferrum::mpi"
#endif
#if defined(FERRUM_DEFINE_TEMPLATES)
#  define FERRUM_TEMPLATE_INSTANCE template
#elif defined(FERRUM_EXTERN_TEMPLATES) && !defined(FERRUM_DETAIL_NON_CPU_BACKEND)
#  define FERRUM_TEMPLATE_INSTANCE extern template
#endif
