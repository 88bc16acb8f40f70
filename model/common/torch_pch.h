// The libtorch headers every model translation unit needs, precompiled once (see the top-level
// CMakeLists.txt). Narrow headers on purpose: <torch/torch.h> drags in optimizers, data loaders
// and serialization that the model code does not use.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/functional.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
