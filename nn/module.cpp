// Parameter and child registration, and the dotted-name walk over the module tree.
#include "nn/module.h"

#include <algorithm>

#include "base/error.h"

namespace kiln::nn {
namespace {

void check_name(const std::string& name, const char* what) {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module::", what,
             ": expected a non-empty name without dots, got '", name, "'");
}

}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_name(name, "register_parameter");
  tensor.set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "register_module");
  KILN_CHECK(module != nullptr, "Module::register_module: expected a module for '", name,
             "', got null");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const NamedTensor& parameter : parameters_) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const Tensor& tensor = parameter.second;
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const NamedTensor& p) { return p.second.same(tensor); });
    if (!seen) out.emplace_back(prefix + parameter.first, tensor);
  }
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

Tensor Module::parameter(const std::string& name) const {
  for (auto& [n, tensor] : named_parameters())
    if (n == name) return tensor;
  throw Error("Module::parameter: expected the name of a parameter, got '" + name + "'");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

}  // namespace kiln::nn
