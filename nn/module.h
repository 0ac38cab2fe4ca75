// Module: the base of every layer and model. Parameters and sub-modules are registered by
// name, so named_parameters() yields dotted paths that match Hugging Face's state dicts.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace kiln::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  virtual ~Module() = default;

  // Every parameter as ("a.b.weight", tensor), depth-first in registration order. A tensor
  // registered under two names (tied weights) appears once, under its first name.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // The parameter called `name` (a dotted path); an error names it when there is none.
  Tensor parameter(const std::string& name) const;

  // Training mode turns dropout on; evaluation mode turns it off. Applies to children.
  void train(bool on = true);
  bool is_training() const { return training_; }

 protected:
  // Registers a trainable tensor under `name` (no dots) and returns it.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  // Registers a child module under `name` (no dots) and returns it.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;

  std::vector<NamedTensor> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module that only groups children and parameters under a name ("transformer", "h",
// "cls.predictions"), so that dotted paths match Hugging Face's.
class Container : public Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
  Tensor add_parameter(const std::string& name, Tensor tensor) {
    return register_parameter(name, tensor);
  }
};

}  // namespace kiln::nn
