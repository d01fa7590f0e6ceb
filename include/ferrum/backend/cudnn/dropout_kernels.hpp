// Dropout of the cuDNN backend: a documented host fallback. The masks are the CPU backend's (a counter-
// based hash of seed, draw, sample, step and feature), applied at the layer boundary on the host, so a
// GPU run draws exactly the CPU run's masks (parity tests with dropout on, identical MC-dropout samples).
// cuDNN's own RNN dropout cannot stand in: it acts only between the stacked layers of one descriptor and
// only in training mode, never on a layer's input or output, and never at inference (MC dropout).
#pragma once

#include "ferrum/backend/cpu/dropout_kernels.hpp"

namespace ferrum::backend {

template <class T>
struct dropout_kernels<ferrum::backend::cudnn, T> : dropout_kernels<ferrum::backend::cpu, T> {};

}  // namespace ferrum::backend
