// The cuDNN + cuBLAS backend of ferrum::nn (ferrum::backend::cudnn): include it, or link ferrum::cudnn
// (which defines FERRUM_USE_CUDNN and makes it the default backend), to run nn::gru / dense / dropout on
// an NVIDIA GPU. See docs/gpu.md for what runs where and what has been verified.
#pragma once

#include "ferrum/backend/cudnn/dense_kernels.hpp"
#include "ferrum/backend/cudnn/dropout_kernels.hpp"
#include "ferrum/backend/cudnn/gru_kernels.hpp"
#include "ferrum/backend/cudnn/lstm_kernels.hpp"
