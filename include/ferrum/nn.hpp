// Module header for ferrum/nn/: includes every public header of the module.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include "ferrum/core.hpp"
#include "ferrum/nn/activation.hpp"
#include "ferrum/nn/activation_layer.hpp"
#include "ferrum/nn/attention_pooling.hpp"
#include "ferrum/nn/batch_norm.hpp"
#include "ferrum/nn/conv1d.hpp"
#include "ferrum/nn/dense.hpp"
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/fit.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/gelu.hpp"
#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/layer.hpp"
#include "ferrum/nn/layer_norm.hpp"
#include "ferrum/nn/layer_registry.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/lstm.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/multi_head_attention.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/pooling.hpp"
#include "ferrum/nn/positional_encoding.hpp"
#include "ferrum/nn/regularization.hpp"
#include "ferrum/nn/sequential.hpp"
#include "ferrum/nn/transformer_encoder.hpp"
