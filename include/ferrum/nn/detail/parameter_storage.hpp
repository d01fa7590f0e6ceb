// Flat parameter and gradient storage of one layer, described by PyTorch names, shapes and roles.
// One contiguous buffer per layer lets per-thread gradient buffers be summed with one loop.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ferrum/nn/parameter.hpp"

namespace ferrum::nn::detail {

template <class T>
class parameter_storage {
public:
    struct spec {
        std::string name;
        std::vector<std::size_t> shape;
        parameter_role role;
        std::size_t offset;
        std::size_t size() const noexcept {
            std::size_t n = 1;
            for (auto d : shape) n *= d;
            return n;
        }
    };

    /// Declares a tensor; returns its offset in the flat buffers.
    std::size_t declare(std::string name, std::vector<std::size_t> shape, parameter_role role) {
        spec s{std::move(name), std::move(shape), role, values_.size()};
        values_.resize(values_.size() + s.size(), T(0));
        grads_.resize(values_.size(), T(0));
        specs_.push_back(std::move(s));
        return specs_.back().offset;
    }

    parameter_list<T> refs(const std::string& prefix = {}) {
        parameter_list<T> out;
        for (const auto& s : specs_)
            out.push_back({prefix + s.name, s.shape, s.role, values_.data() + s.offset, grads_.data() + s.offset});
        return out;
    }

    const std::vector<spec>& specs() const noexcept { return specs_; }
    std::vector<T>& values() noexcept { return values_; }
    const std::vector<T>& values() const noexcept { return values_; }
    std::vector<T>& grads() noexcept { return grads_; }
    const std::vector<T>& grads() const noexcept { return grads_; }
    std::size_t size() const noexcept { return values_.size(); }
    void zero_grad() noexcept {
        for (auto& g : grads_) g = T(0);
    }

private:
    std::vector<spec> specs_;
    std::vector<T> values_, grads_;
};

}  // namespace ferrum::nn::detail
