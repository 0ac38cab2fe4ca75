// Saving, loading and rotating HDF5 checkpoints.
#include "train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "base/error.h"
#include "io/atomic_write.h"
#include "io/fault_point.h"
#include "io/hdf5_file.h"
#include "train/hdf5_tensor.h"

namespace kiln {
namespace fs = std::filesystem;
namespace {

// Calls fn(name, offset, tensor) for each parameter in arena order.
template <typename Fn>
void for_each_slice(const nn::ParameterArena& arena, Fn&& fn) {
  int64_t offset = 0;
  for (const auto& [name, t] : arena.named_parameters()) {
    fn(name, offset, t);
    offset += t.numel();
  }
}

}  // namespace

OptimizerMoments moments_of(const nn::AdamW& optimizer) {
  return {optimizer.steps_taken(), [&optimizer](int moment) -> const float* {
            return (moment == 0 ? optimizer.first_moment() : optimizer.second_moment()).data();
          }};
}

void save_checkpoint(const std::string& path, const nn::ParameterArena& arena,
                     const nn::AdamW* optimizer, const CheckpointState& state) {
  if (optimizer == nullptr) {
    save_checkpoint(path, arena, static_cast<const OptimizerMoments*>(nullptr), state);
  } else {
    const OptimizerMoments moments = moments_of(*optimizer);
    save_checkpoint(path, arena, &moments, state);
  }
}

void save_checkpoint(const std::string& path, const nn::ParameterArena& arena,
                     const OptimizerMoments* optimizer, const CheckpointState& state) {
  io::atomic_write(path, [&](const std::string& tmp) {
    Hdf5File file(tmp, Hdf5File::Mode::kCreate);
    file.set_attribute("format", kCheckpointFormat);
    file.set_attribute("version", kCheckpointVersion);
    file.set_attribute("step", state.step);
    file.set_attribute("tokens_seen", state.tokens_seen);
    // As text with 17 significant digits: exact for a double, and inf reads back.
    file.set_attribute("best_val_loss", fmt::format("{:.17g}", state.best_val_loss));
    for_each_slice(arena, [&](const std::string& name, int64_t, const Tensor& t) {
      write_tensor(file, "/model/" + name, t);
    });
    // One moment after the other: a sharded optimizer gathers each into the same buffer.
    for (int moment = 0; optimizer != nullptr && moment < 2; ++moment) {
      const float* values = optimizer->whole(moment);
      const std::string group = moment == 0 ? "/optimizer/exp_avg/" : "/optimizer/exp_avg_sq/";
      for_each_slice(arena, [&](const std::string& name, int64_t offset, const Tensor& t) {
        file.write_floats(group + name, t.shape(), values + offset);
      });
    }
    if (optimizer != nullptr) file.set_attribute("optimizer_steps", optimizer->steps_taken);
    file.write_string("/config", state.config_yaml);
    file.write_string("/tokenizer", state.tokenizer);
    file.close();
  });
}

Checkpoint load_checkpoint(const std::string& path) {
  KILN_CHECK(fs::exists(path), path, ": expected a checkpoint file, got no such file");
  Hdf5File file(path, Hdf5File::Mode::kRead);
  KILN_CHECK(file.has_attribute("format") && file.string_attribute("format") == kCheckpointFormat,
             path, ": expected a kiln checkpoint (root attribute format = '", kCheckpointFormat,
             "'), got ",
             file.has_attribute("format") ? "'" + file.string_attribute("format") + "'"
                                          : std::string("none"));
  int64_t version = file.int_attribute("version");
  KILN_CHECK(version == kCheckpointVersion, path, ": expected checkpoint format version ",
             kCheckpointVersion, ", got ", version);
  Checkpoint c;
  c.path = path;
  // Counters from the file: a negative one would index batches and schedules before the start.
  auto counter = [&](const char* key) {
    const int64_t value = file.int_attribute(key);
    KILN_CHECK(value >= 0, path, ": attribute '", key, "': expected an integer >= 0, got ", value);
    return value;
  };
  c.state.step = counter("step");
  c.state.tokens_seen = counter("tokens_seen");
  if (file.has_attribute("best_val_loss"))
    c.state.best_val_loss = std::strtod(file.string_attribute("best_val_loss").c_str(), nullptr);
  c.state.config_yaml = file.read_string("/config");
  c.state.tokenizer = file.read_string("/tokenizer");
  // A NaN or infinity would spread through every step that follows: refuse it here, by name.
  auto read_finite = [&](const std::string& dataset) {
    Tensor t = read_tensor(file, dataset);
    const int64_t bad = first_nonfinite(t);
    KILN_CHECK(bad < 0, path, ": ", dataset, ": expected finite values, got ",
               bad < 0 ? 0.0f : t.data()[bad], " at element ", bad);
    return t;
  };
  for (const std::string& name : file.list("/model")) c.model[name] = read_finite("/model/" + name);
  for (const std::string& name : file.list("/optimizer/exp_avg"))
    c.exp_avg[name] = read_finite("/optimizer/exp_avg/" + name);
  for (const std::string& name : file.list("/optimizer/exp_avg_sq"))
    c.exp_avg_sq[name] = read_finite("/optimizer/exp_avg_sq/" + name);
  if (file.has_attribute("optimizer_steps")) c.optimizer_steps = counter("optimizer_steps");
  return c;
}

void restore_checkpoint(const Checkpoint& checkpoint, const nn::ParameterArena& arena,
                        nn::AdamW* optimizer) {
  auto fetch = [&](const std::map<std::string, Tensor>& from, const char* group,
                   const std::string& name, const Tensor& like) {
    auto it = from.find(name);
    KILN_CHECK(it != from.end(), checkpoint.path, ": expected /", group, "/", name,
               ", got no such dataset");
    KILN_CHECK(it->second.shape() == like.shape(), checkpoint.path, ": /", group, "/", name,
               ": expected shape ", shape_str(like.shape()), ", got ",
               shape_str(it->second.shape()));
    return it->second;
  };
  Tensor m, v;
  if (optimizer != nullptr) {
    m = Tensor::empty({arena.size()});
    v = Tensor::empty({arena.size()});
  }
  for_each_slice(arena, [&](const std::string& name, int64_t offset, const Tensor& t) {
    Tensor saved = fetch(checkpoint.model, "model", name, t);
    std::memcpy(t.data(), saved.data(), static_cast<std::size_t>(t.numel()) * 4);
    if (optimizer == nullptr) return;
    std::memcpy(m.data() + offset, fetch(checkpoint.exp_avg, "optimizer/exp_avg", name, t).data(),
                static_cast<std::size_t>(t.numel()) * 4);
    std::memcpy(v.data() + offset,
                fetch(checkpoint.exp_avg_sq, "optimizer/exp_avg_sq", name, t).data(),
                static_cast<std::size_t>(t.numel()) * 4);
  });
  if (optimizer != nullptr) optimizer->restore(m, v, checkpoint.optimizer_steps);
}

RestoreReport restore_matching(const Checkpoint& checkpoint, const nn::ParameterArena& arena) {
  RestoreReport report;
  std::map<std::string, bool> used;
  for (const auto& [name, saved] : checkpoint.model) used[name] = false;
  for (const auto& [name, t] : arena.named_parameters()) {
    auto it = checkpoint.model.find(name);
    if (it == checkpoint.model.end()) {
      report.initialised.push_back(name);
      continue;
    }
    KILN_CHECK(it->second.shape() == t.shape(), checkpoint.path, ": /model/", name,
               ": expected shape ", shape_str(t.shape()), " (the model's), got ",
               shape_str(it->second.shape()));
    std::memcpy(t.data(), it->second.data(), static_cast<std::size_t>(t.numel()) * 4);
    used[name] = true;
  }
  for (const auto& [name, was_used] : used)
    if (!was_used) report.unused.push_back(name);
  return report;
}

std::string checkpoint_path(const std::string& dir, int64_t step) {
  return (fs::path(dir) / fmt::format("ckpt-{:08d}.h5", step)).string();
}

namespace {}  // namespace

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> found;
  if (!fs::is_directory(dir)) return found;
  static const std::regex pattern("ckpt-[0-9]{8}\\.h5");
  for (const auto& entry : fs::directory_iterator(dir))
    if (std::regex_match(entry.path().filename().string(), pattern))
      found.push_back(entry.path().string());
  std::sort(found.rbegin(), found.rend());
  return found;
}

std::optional<std::string> find_latest_checkpoint(
    const std::string& dir, const std::function<void(const std::string&)>& validate,
    const std::function<void(const std::string&, const std::string&)>& skipped) {
  for (const std::string& path : list_checkpoints(dir)) {
    try {
      validate(path);
      return path;
    } catch (const Error& e) {
      // A damaged file (e.g. from a crash mid-copy) must not block resuming from an older one.
      skipped(path, e.what());
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& dir, int keep) {
  std::vector<std::string> all = list_checkpoints(dir);
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 0)); i < all.size(); ++i) {
    fs::remove(all[i]);
    io::fault_point("rotation");  // for the kill-anywhere test: between two removals
  }
}

}  // namespace kiln
