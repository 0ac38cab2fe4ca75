// The tape's records and the reverse walk that runs their backward functions.
#include "autograd/tape.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "autograd/kernels.h"
#include "autograd/profile.h"
#include "base/error.h"

namespace kiln {
namespace {

// Outputs are kept as gradient handles: an output's values stay alive only while someone
// (the caller, or a backward function that reads them) holds them.
struct Record {
  const char* name;
  std::vector<Tensor> outputs;
  BackwardFn backward_fn;
};

struct Tape {
  std::vector<Record> records;
  uint64_t epoch = 1;  // bumped each time the tape is consumed or cleared
  bool grad_enabled = true;
};

Tape& tape() {
  thread_local Tape t;
  return t;
}

}  // namespace

bool grad_enabled() {
  return tape().grad_enabled;
}

NoGradGuard::NoGradGuard() : previous_(tape().grad_enabled) {
  tape().grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  tape().grad_enabled = previous_;
}

bool should_record(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& x : inputs)
    if (x.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
            BackwardFn backward_fn) {
  if (!grad_enabled()) return;
  bool any = false;
  for (const Tensor& x : inputs) any = any || x.requires_grad();
  if (!any) return;
  std::vector<Tensor> handles;
  handles.reserve(outputs.size());
  for (const Tensor& y : outputs) {
    AutogradState& state = y.impl()->autograd_state();
    state.requires_grad = true;
    state.tape_epoch = tape().epoch;
    handles.push_back(y.gradient_handle());
  }
  if (profile::enabled()) profile::add("forward", name, profile::seconds_since_mark());
  tape().records.push_back({name, std::move(handles), std::move(backward_fn)});
}

Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs,
              std::function<void(const Tensor& grad_output)> backward_fn) {
  record(name, std::vector<Tensor>{output}, inputs,
         [fn = std::move(backward_fn)](const std::vector<Tensor>& grads) { fn(grads[0]); });
  return output;
}

Tensor grad_if_needed(const Tensor& x) {
  return x.requires_grad() ? x.ensure_grad() : Tensor();
}

namespace {

// The test suite sets KILN_POISON_NEW_GRADIENTS=1, which fills a gradient about to be written
// for the first time with NaN: an op that leaves part of it unwritten then fails its tests
// instead of passing on memory that happened to be zero (or to hold the last step's values).
void poison_if_testing(const Tensor& g) {
  static const bool poison = [] {
    const char* v = std::getenv("KILN_POISON_NEW_GRADIENTS");
    return v != nullptr && std::string(v) == "1";
  }();
  if (poison) std::fill_n(g.data(), g.numel(), std::numeric_limits<float>::quiet_NaN());
}

}  // namespace

GradTarget grad_target(const Tensor& x) {
  if (!x.requires_grad()) return {};
  if (Tensor g = x.grad(); g.defined()) {
    if (!x.grad_discarded()) return {g, true};
    poison_if_testing(g);
    x.set_grad(g);  // no longer discarded: the caller writes it in full
    return {g, false};
  }
  Tensor fresh = Tensor::empty(x.shape());
  poison_if_testing(fresh);
  x.set_grad(fresh);
  return {fresh, false};
}

void write_or_add(const GradTarget& target, const Tensor& src) {
  if (!target) return;
  if (target.accumulate) return add_into(target.grad, src);
  KILN_CHECK(src.numel() == target.grad.numel(), "write_or_add: expected ", target.grad.numel(),
             " elements, got ", src.numel());
  add_into(target.data(), src.data(), src.numel(), /*accumulate=*/false);
}

void pass_gradient(const Tensor& x, const Tensor& g) {
  if (!x.requires_grad()) return;
  if (Tensor existing = x.grad(); existing.defined()) {
    if (!x.grad_discarded()) return add_into(existing, g);
    x.set_grad(existing);  // no longer discarded: written in full here
    return write_or_add({existing, false}, g);
  }
  x.set_grad(g);
}

void backward(const Tensor& loss) {
  KILN_CHECK(loss.defined() && loss.numel() == 1,
             "backward: expected a one-element loss or an explicit seed gradient, got shape ",
             loss.defined() ? shape_str(loss.shape()) : std::string("(undefined)"));
  backward(loss, Tensor::full(loss.shape(), 1.0f));
}

void backward(const Tensor& output, const Tensor& seed) {
  Tape& t = tape();
  KILN_CHECK(output.requires_grad(),
             "backward: expected a tensor that requires a gradient, got one computed without any "
             "input that requires grad (or under NoGradGuard)");
  uint64_t produced_in = output.impl()->autograd_state().tape_epoch;
  KILN_CHECK(
      produced_in == 0 || produced_in == t.epoch,
      "backward: expected a tensor on the current tape, got one whose tape was already consumed "
      "(backward called twice on the same graph?)");
  KILN_CHECK(seed.shape() == output.shape(), "backward: expected a seed gradient of shape ",
             shape_str(output.shape()), ", got ", shape_str(seed.shape()));
  add_into(output.ensure_grad(), seed);

  // Walk in reverse: every op runs after all ops that consumed its outputs.
  while (!t.records.empty()) {
    Record rec = std::move(t.records.back());
    t.records.pop_back();
    bool any_grad = false;
    for (const Tensor& y : rec.outputs) any_grad = any_grad || y.grad().defined();
    if (any_grad) {
      std::vector<Tensor> grads;
      grads.reserve(rec.outputs.size());
      for (const Tensor& y : rec.outputs) grads.push_back(y.ensure_grad());
      if (profile::enabled()) {
        profile::mark();
        rec.backward_fn(grads);
        profile::add("backward", rec.name, profile::seconds_since_mark());
      } else {
        rec.backward_fn(grads);
      }
    }
    // Intermediate gradients are used exactly once; free them with the saved activations.
    for (const Tensor& y : rec.outputs) y.reset_grad();
  }
  t.epoch++;
  profile::mark();
}

std::size_t tape_size() {
  return tape().records.size();
}

void clear_tape() {
  tape().records.clear();
  tape().epoch++;
}

}  // namespace kiln
